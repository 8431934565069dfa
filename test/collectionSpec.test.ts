// A collection spec: every problem named by its field at once, and each asset's spec made from it
// passing the asset spec's own check.
import { describe, expect, it } from 'vitest';
import type { CollectionSpec } from '../common/collectionSpec.ts';
import { assetSpecOf, checkCollectionSpec, structureOfOpenAIGenerator } from '../common/collectionSpec.ts';
import { deriveDna, traitsOfDna } from '../common/dna.ts';
import { checkSpec } from '../common/specSchema.ts';

// Anvil's dev accounts #1 and #2 (public test keys), checksummed.
const alice = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const bob = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const key = 'ab'.repeat(32);

const layersSpec = () => ({
  id: 'critters-genesis',
  name: 'Critters Genesis',
  size: 4,
  seed: 42,
  generator: { kind: 'layers', layerSet: 'critters' },
  recipient: alice,
  approval: { mode: 'auto' },
});
const openaiSpec = () => ({
  id: 'moods',
  name: 'Moods',
  description: 'Animals in moods.',
  size: 6,
  seed: 7,
  generator: {
    kind: 'openai',
    prompt: 'A {{ mood }} {{animal}} in watercolour, plate {{index}}',
    variables: { mood: ['calm', 'stormy', 'giddy'], animal: ['fox', 'heron'] },
  },
  recipient: [alice, bob, alice, bob, alice, bob],
  approval: { mode: 'each', approvers: ['ana'], keys: { ana: key }, remindAfter: '2h', expireAfter: '3d', maxRounds: 2 },
});

function problemsOf(spec: unknown): string[] {
  const checked = checkCollectionSpec(spec);
  return checked.ok ? [] : checked.problems;
}
function valid(spec: unknown): CollectionSpec {
  const checked = checkCollectionSpec(spec);
  if (!checked.ok) throw new Error(checked.problems.join('\n'));
  return checked.spec;
}

describe('checkCollectionSpec', () => {
  it('takes a valid spec and fills in the defaults', () => {
    const spec = valid(layersSpec());
    expect(spec.description).toBe('');
    expect(spec.renditions).toEqual(['original', 'webp-1024', 'webp-512', 'thumb-256']);
    const lowercase = valid({ ...openaiSpec(), recipient: alice.toLowerCase(), approval: { mode: 'each' } });
    expect(lowercase.recipient).toBe(alice);
    expect(lowercase.approval).toEqual({ mode: 'each', approvers: [], keys: {}, unsigned: false, remindAfter: '1d', expireAfter: '7d', maxRounds: 3 });
    const full = valid({
      ...layersSpec(),
      approval: { mode: 'sample', sampleSize: 2 },
      royalties: { receiver: bob, basisPoints: 500 },
      metadata: { image: 'ipfs://bafy/cover.png', banner_image: 'https://example.org/banner.png', external_link: 'https://example.org', collaborators: [bob] },
      concurrency: 16,
    });
    expect(full.approval).toEqual({ mode: 'sample', sampleSize: 2, approvers: [], keys: {}, unsigned: false, remindAfter: '1d', expireAfter: '7d' });
  });

  const cases: [string, (s: Record<string, unknown>) => void, RegExp][] = [
    ['a missing approval (no default for thousands of assets)', (s) => delete s.approval, /^approval: /],
    ['an unknown approval mode', (s) => (s.approval = { mode: 'sometimes' }), /^approval\.mode: expected approval\.mode "auto", "each" or "sample"$/],
    ['a bad id', (s) => (s.id = 'Critters!'), /^id: expected lowercase letters, digits and dashes/],
    ['an empty name', (s) => (s.name = ''), /^name: /],
    ['a long description', (s) => (s.description = 'x'.repeat(5001)), /^description: /],
    ['a size of 0', (s) => (s.size = 0), /^size: /],
    ['a size over 20000', (s) => (s.size = 20_001), /^size: /],
    ['a fractional size', (s) => (s.size = 2.5), /^size: /],
    ['a negative seed', (s) => (s.seed = -1), /^seed: /],
    ['a seed past 2^31-1', (s) => (s.seed = 2 ** 31), /^seed: /],
    ['an unknown generator', (s) => (s.generator = { kind: 'midjourney' }), /^generator\.kind: expected generator\.kind "layers" or "openai"$/],
    [
      'a layer set outside the folder',
      (s) => (s.generator = { kind: 'layers', layerSet: '../etc' }),
      /^generator\.layerSet: expected the name of a layer set folder/,
    ],
    [
      'traits on a layers collection (they come from the DNA)',
      (s) => (s.generator = { kind: 'layers', layerSet: 'critters', traits: {} }),
      /^generator: unknown field "traits"$/,
    ],
    ['an unknown rendition', (s) => (s.renditions = ['original', 'webp-8192']), /^renditions\.1: /],
    ['a bad recipient', (s) => (s.recipient = '0x1234'), /^recipient: expected a 0x-prefixed 20-byte address/],
    ['a bad recipient in a list', (s) => ((s.size = 2), (s.recipient = [alice, '0xnope'])), /^recipient\.1: expected a 0x-prefixed 20-byte address/],
    ['a recipient of the wrong type', (s) => (s.recipient = 5), /^recipient: expected an address, or a list of addresses \(one per asset\)$/],
    ['the zero address', (s) => (s.recipient = `0x${'0'.repeat(40)}`), /^recipient: the zero address cannot receive a token$/],
    ['a bad checksum', (s) => (s.recipient = alice.replace('C8', 'c8')), /^recipient: .*checksum/],
    ['a sample size of 0', (s) => (s.approval = { mode: 'sample', sampleSize: 0 }), /^approval\.sampleSize: /],
    ['a sample size over 100', (s) => ((s.size = 500), (s.approval = { mode: 'sample', sampleSize: 101 })), /^approval\.sampleSize: /],
    [
      'a sample larger than the collection',
      (s) => (s.approval = { mode: 'sample', sampleSize: 5 }),
      /^approval\.sampleSize: 5 is more than the collection's 4 assets$/,
    ],
    ['maxRounds on a sample (one round each)', (s) => (s.approval = { mode: 'sample', sampleSize: 1, maxRounds: 2 }), /^approval: unknown field "maxRounds"$/],
    ['a bad approver', (s) => (s.approval = { mode: 'each', approvers: ['ana smith'] }), /^approval\.approvers\.0: expected an approver name/],
    ['a bad key', (s) => (s.approval = { mode: 'each', keys: { ana: 'xyz' } }), /^approval\.keys\.ana: expected an ed25519 public key/],
    ['a bad key name', (s) => (s.approval = { mode: 'each', keys: { 'ana smith': key } }), /^approval\.keys\.ana smith: expected an approver name/],
    ['too many rounds', (s) => (s.approval = { mode: 'each', maxRounds: 21 }), /^approval\.maxRounds: /],
    [
      'an expiry shorter than the reminder',
      (s) => (s.approval = { mode: 'sample', sampleSize: 1, remindAfter: '2d', expireAfter: '1d' }),
      /^approval\.expireAfter: 1d must be longer than remindAfter \(2d\)$/,
    ],
    ['royalties over 100%', (s) => (s.royalties = { receiver: bob, basisPoints: 10_001 }), /^royalties\.basisPoints: /],
    ['a bad royalty receiver', (s) => (s.royalties = { receiver: 'bob', basisPoints: 100 }), /^royalties\.receiver: expected a 0x-prefixed/],
    ['an http image', (s) => (s.metadata = { image: 'http://example.org/a.png' }), /^metadata\.image: expected an ipfs:\/\/ or https:\/\/ URI$/],
    ['a bad banner', (s) => (s.metadata = { banner_image: 'banner.png' }), /^metadata\.banner_image: expected an ipfs:\/\/ or https:\/\/ URI$/],
    ['an ipfs external link', (s) => (s.metadata = { external_link: 'ipfs://bafy' }), /^metadata\.external_link: expected an https:\/\/ URL$/],
    ['too many collaborators', (s) => (s.metadata = { collaborators: Array.from({ length: 21 }, () => bob) }), /^metadata\.collaborators: /],
    ['a bad collaborator', (s) => (s.metadata = { collaborators: [bob, '0x12'] }), /^metadata\.collaborators\.1: expected a 0x-prefixed/],
    ['an unknown metadata field', (s) => (s.metadata = { twitter: '@critters' }), /^metadata: unknown field "twitter"$/],
    ['a concurrency of 0', (s) => (s.concurrency = 0), /^concurrency: /],
    ['a concurrency over 256', (s) => (s.concurrency = 257), /^concurrency: /],
    ['an unknown field', (s) => (s.colour = 'blue'), /^\(spec\): unknown field "colour"$/],
    [
      'a name too long for "<name> #<size>" to fit an asset name',
      (s) => ((s.name = 'n'.repeat(199)), (s.size = 100)),
      /^name: .* would reach 204 characters; at most 200/,
    ],
  ];
  it.each(cases)('names %s', (_, breakIt, expected) => {
    const spec: Record<string, unknown> = layersSpec();
    breakIt(spec);
    const problems = problemsOf(spec);
    expect(problems, problems.join('\n')).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
  });

  const promptCases: [string, (g: Record<string, unknown>) => void, RegExp][] = [
    ['a short prompt', (g) => (g.prompt = 'ab'), /^generator\.prompt: expected a prompt of at least 3 characters$/],
    ['no variables', (g) => ((g.prompt = 'plate {{index}}'), (g.variables = {})), /^generator\.variables: expected at least 1 variable$/],
    [
      'a bad variable name',
      (g) => (g.variables = { mood: ['calm'], animal: ['fox'], Colour: ['red'] }),
      /^generator\.variables\.Colour: expected a variable name/,
    ],
    ['a variable without values', (g) => (g.variables = { mood: [], animal: ['fox'] }), /^generator\.variables\.mood: expected at least 1 value$/],
    ['a repeated value', (g) => (g.variables = { mood: ['calm', 'calm'], animal: ['fox'] }), /^generator\.variables\.mood\.1: "calm" is listed twice$/],
    ['an empty value', (g) => (g.variables = { mood: [''], animal: ['fox'] }), /^generator\.variables\.mood\.0: expected a value of at least 1 character$/],
    ['a value over 200 characters', (g) => (g.variables = { mood: ['x'.repeat(201)], animal: ['fox'] }), /^generator\.variables\.mood\.0: /],
    [
      'a variable called index',
      (g) => ((g.prompt = 'A {{mood}} {{animal}} {{index}}'), (g.variables = { mood: ['calm'], animal: ['fox'], index: ['1'] })),
      /^generator\.variables\.index: "index" is reserved for the asset's number$/,
    ],
    [
      'an undeclared placeholder',
      (g) => (g.prompt = 'A {{mood}} {{animal}} under a {{sky}} sky, {{sky}} again'),
      /^generator\.prompt: \{\{sky\}\} is not declared in generator\.variables \(declared: mood, animal; \{\{index\}\} is the asset's number\)$/,
    ],
    ['an unused variable', (g) => (g.prompt = 'A {{animal}}, plate {{index}}'), /^generator\.variables: "mood" is not used in the prompt$/],
    [
      'a prompt that grows past 4000 characters when filled in',
      (g) => ((g.prompt = `${'p'.repeat(3900)} {{mood}} {{animal}}`), (g.variables = { mood: ['m'.repeat(150)], animal: ['fox'] })),
      /^generator\.prompt: filled in with the longest values it reaches 4055 characters; at most 4000$/,
    ],
    ['an unknown generator field', (g) => (g.model = 'dall-e'), /^generator: unknown field "model"$/],
  ];
  it.each(promptCases)('names %s in an OpenAI collection', (_, breakIt, expected) => {
    const spec = openaiSpec() as Record<string, unknown> & { generator: Record<string, unknown> };
    breakIt(spec.generator);
    const problems = problemsOf(spec);
    expect(problems, problems.join('\n')).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
  });

  it('names a malformed duration (first; the shared duration rule also adds its 90d limit, as for asset specs)', () => {
    const problems = problemsOf({ ...layersSpec(), approval: { mode: 'each', remindAfter: 'tomorrow' } });
    expect(problems[0]).toMatch(/^approval\.remindAfter: expected a duration such as 90s/);
    expect(problems.every((p) => p.startsWith('approval.remindAfter: '))).toBe(true);
  });

  it('names a recipient list of the wrong length clearly', () => {
    expect(problemsOf({ ...openaiSpec(), recipient: [alice, bob, alice] })).toEqual([
      'recipient: the list has 3 addresses for a collection of 6; give one address for all, or exactly 6 (one per asset)',
    ]);
    expect(problemsOf({ ...openaiSpec(), recipient: [alice] })).toEqual([
      'recipient: the list has 1 address for a collection of 6; give one address for all, or exactly 6 (one per asset)',
    ]);
  });

  it('reports every problem at once, cross-field ones included', () => {
    const problems = problemsOf({
      ...openaiSpec(),
      id: 'Bad Id',
      seed: -3,
      recipient: [alice, '0x12'],
      generator: { kind: 'openai', prompt: 'A {{ghost}} at night', variables: { mood: ['calm'] } },
      approval: { mode: 'each', remindAfter: '3d', expireAfter: '1d', extra: true },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^id: /),
        expect.stringMatching(/^seed: /),
        expect.stringMatching(/^recipient\.1: /),
        expect.stringMatching(/^recipient: the list has 2 addresses for a collection of 6/),
        expect.stringMatching(/^generator\.prompt: \{\{ghost\}\} is not declared/),
        expect.stringMatching(/^generator\.variables: "mood" is not used/),
        expect.stringMatching(/^approval: unknown field "extra"$/),
        expect.stringMatching(/^approval\.expireAfter: 1d must be longer than remindAfter \(3d\)$/),
      ]),
    );
    expect(problems).toHaveLength(8);
    expect(problemsOf('not an object')).toEqual([expect.stringMatching(/^\(spec\): /)]);
  });
});

describe('structureOfOpenAIGenerator', () => {
  it('makes each variable a layer and each value an option of weight 1', () => {
    const spec = valid(openaiSpec());
    if (spec.generator.kind !== 'openai') throw new Error('expected an openai generator');
    expect(structureOfOpenAIGenerator(spec.generator)).toEqual({
      layers: [
        { name: 'mood', options: ['calm', 'stormy', 'giddy'].map((name) => ({ name, weight: 1 })) },
        { name: 'animal', options: ['fox', 'heron'].map((name) => ({ name, weight: 1 })) },
      ],
      exclusions: [],
    });
  });
});

describe('assetSpecOf', () => {
  it('makes an OpenAI asset whose spec passes checkSpec: prompt filled in, its own recipient, manual approval', () => {
    const spec = valid(openaiSpec());
    if (spec.generator.kind !== 'openai') throw new Error('expected an openai generator');
    const structure = structureOfOpenAIGenerator(spec.generator);
    const plan = deriveDna(structure, spec.size, spec.seed);
    if (!plan.ok) throw new Error(plan.reason);
    const assets = plan.dna.map((dna, index) => assetSpecOf(spec, index, traitsOfDna(structure, dna), {}));
    for (const [index, asset] of assets.entries()) {
      const checked = checkSpec(asset);
      expect(checked, JSON.stringify(checked)).toMatchObject({ ok: true });
      if (checked.ok) expect(checked.spec).toEqual(asset);
      const traits = traitsOfDna(structure, plan.dna[index]!);
      expect(asset).toMatchObject({
        collectionId: 'moods',
        assetKey: String(index + 1),
        name: `Moods #${index + 1}`,
        description: 'Animals in moods.',
        attributes: [
          { trait_type: 'mood', value: traits.mood },
          { trait_type: 'animal', value: traits.animal },
        ],
        generator: { kind: 'openai', prompt: `A ${traits.mood} ${traits.animal} in watercolour, plate ${index + 1}`, seed: 7 },
        recipient: index % 2 === 0 ? alice : bob,
        approval: { policy: 'manual', approvers: ['ana'], keys: { ana: key }, unsigned: false, remindAfter: '2h', expireAfter: '3d', maxRounds: 2 },
        mint: { mode: 'batch' },
      });
    }
    // Six unique combinations of 3 x 2 values: every asset's prompt differs.
    expect(new Set(assets.map((a) => (a.generator.kind === 'openai' ? a.generator.prompt : ''))).size).toBe(6);
  });

  it('makes a layers asset with every trait given and the collection seed, auto-approved', () => {
    const spec = valid({ ...layersSpec(), renditions: ['original', 'thumb-256'] });
    const traits = { background: 'dawn', body: 'moss', eyes: 'round' };
    const asset = assetSpecOf(spec, 3, traits, {});
    expect(checkSpec(asset)).toEqual({ ok: true, spec: asset });
    expect(asset).toEqual({
      collectionId: 'critters-genesis',
      assetKey: '4',
      name: 'Critters Genesis #4',
      description: '',
      attributes: [
        { trait_type: 'background', value: 'dawn' },
        { trait_type: 'body', value: 'moss' },
        { trait_type: 'eyes', value: 'round' },
      ],
      generator: { kind: 'layers', layerSet: 'critters', traits, seed: 42 },
      renditions: ['original', 'thumb-256'],
      recipient: alice,
      approval: { policy: 'auto' },
      mint: { mode: 'batch' },
    });
    expect(() => assetSpecOf(spec, 4, traits, {})).toThrow(/asset index 4 is outside 0\.\.3/);
  });

  it('under sample approval: sampled assets get one manual round, the others auto', () => {
    const spec = valid({
      ...layersSpec(),
      approval: { mode: 'sample', sampleSize: 2, approvers: ['ana'], unsigned: true, remindAfter: '1h', expireAfter: '1d' },
    });
    const sampled = assetSpecOf(spec, 0, { eyes: 'round' }, { sampled: true });
    expect(sampled.approval).toEqual({ policy: 'manual', approvers: ['ana'], keys: {}, unsigned: true, remindAfter: '1h', expireAfter: '1d', maxRounds: 1 });
    const rest = assetSpecOf(spec, 1, { eyes: 'round' }, { approvedBySample: true });
    expect(rest.approval).toEqual({ policy: 'auto' });
    for (const asset of [sampled, rest]) expect(checkSpec(asset)).toMatchObject({ ok: true });
  });

  it('gives the largest asset number a valid key and name', () => {
    const spec = valid({ ...layersSpec(), name: 'n'.repeat(193), size: 20_000 });
    const asset = assetSpecOf(spec, 19_999, { eyes: 'round' }, {});
    expect(asset.assetKey).toBe('20000');
    expect(checkSpec(asset)).toMatchObject({ ok: true });
  });
});

describe('a collection with dynamic traits', () => {
  const dynamic = {
    traits: [{ name: 'background', source: { kind: 'event', event: 'milestone', field: 'level' }, options: { gold: 'night' } }],
  };
  it('gives every asset the same dynamic section, and the asset spec check takes it', () => {
    const checked = checkCollectionSpec({ ...layersSpec(), dynamic });
    if (!checked.ok) throw new Error(checked.problems.join('; '));
    const asset = assetSpecOf(checked.spec, 0, { background: 'dawn' });
    expect(asset.dynamic).toEqual({ approval: 'auto', traits: [{ ...dynamic.traits[0], match: 'exact' }] });
    expect(checkSpec(asset)).toMatchObject({ ok: true });
  });
  it('refuses manual refreshes without per-asset approval, a reveal beside it, and a bad trait, naming each', () => {
    expect(
      problemsOf({
        ...layersSpec(),
        dynamic: { approval: 'manual', traits: [...dynamic.traits, { ...dynamic.traits[0], source: { kind: 'schedule', every: '10s' } }] },
        reveal: { placeholder: { name: 'Unrevealed' } },
      }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringContaining('dynamic.traits: trait "background" is declared twice'),
        expect.stringContaining('dynamic.traits.1.source.every: expected a period such as 15m, 4h or 30d'),
        'dynamic.approval: "manual" refreshes need approval.mode "each" (each asset has its own approval rule)',
        expect.stringContaining('dynamic: a collection that reveals after its mint cannot also change its tokens'),
      ]),
    );
  });
});
