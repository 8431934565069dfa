// Layer sets as a user composes them: blend and opacity, exclusions, the per-worker layer cache
// (edited files, its byte bound, shared decodes), byte-identical drafts, the grown critters sample
// set and the contact sheet. Renders through the exported functions: no worker needed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderContactSheet } from '../activities/contactSheet.ts';
import { composeTraits } from '../activities/generate.ts';
import { LayerCache, decodedLayer, layerCacheStats } from '../activities/layerCache.ts';
import { loadLayerSet, resolveTraits, traitProblems, traitStructureOf } from '../common/layerSet.ts';
import type { LayerSet } from '../common/layerSet.ts';

let root: string;
const SIZE = 64;

/** A solid square PNG (or a transparent one when `colour` is undefined). */
const solid = (colour: { r: number; g: number; b: number; alpha?: number } | undefined, size = SIZE) =>
  sharp({ create: { width: size, height: size, channels: 4, background: colour ? { alpha: 1, ...colour } : { r: 0, g: 0, b: 0, alpha: 0 } } })
    .png()
    .toBuffer();

/** Writes a set into `root` and loads it. */
async function writeSet(name: string, files: Record<string, Buffer | string>, collection: object): Promise<LayerSet> {
  const dir = path.join(root, name);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  fs.writeFileSync(path.join(dir, 'collection.json'), JSON.stringify({ name, size: SIZE, ...collection }));
  return loadLayerSet(name, root);
}

/** The RGBA of the pixel at (x, y) of a PNG. */
async function pixel(png: Buffer, x = SIZE / 2, y = SIZE / 2): Promise<number[]> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * 4;
  return [...data.subarray(at, at + 4)];
}

const grey = { r: 128, g: 128, b: 128 };

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-layers-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('blend and opacity', () => {
  it('multiply darkens, screen lightens, over replaces; opacity 0.5 halves the alpha a layer adds', async () => {
    const files = {
      'base/grey.png': await solid(grey),
      'base/clear.png': await solid(undefined),
      'top/grey.png': await solid(grey),
      'top/red.png': await solid({ r: 255, g: 0, b: 0 }),
    };
    const layers = (blend?: string, opacity?: number) => [
      {
        name: 'base',
        options: [
          { name: 'grey', file: 'base/grey.png' },
          { name: 'clear', file: 'base/clear.png' },
        ],
      },
      {
        name: 'top',
        ...(blend ? { blend } : {}),
        ...(opacity !== undefined ? { opacity } : {}),
        options: [
          { name: 'grey', file: 'top/grey.png' },
          { name: 'red', file: 'top/red.png' },
        ],
      },
    ];
    const cache = new LayerCache(64 * 1024 * 1024);
    const render = async (set: LayerSet, traits: Record<string, string>) => pixel(await composeTraits(set, set.name, traits, cache));

    const over = await writeSet('blend-over', files, { layers: layers() });
    expect(over.layers[1]).toMatchObject({ blend: 'over', opacity: 1 });
    expect(await render(over, { base: 'grey', top: 'grey' })).toEqual([128, 128, 128, 255]);

    const multiply = await writeSet('blend-multiply', files, { layers: layers('multiply') });
    const [r, g, b, a] = await render(multiply, { base: 'grey', top: 'grey' });
    // 128 x 128 / 255: darker than either layer.
    for (const channel of [r, g, b]) expect(Math.abs(channel! - 64)).toBeLessThanOrEqual(1);
    expect(a).toBe(255);

    const screen = await writeSet('blend-screen', files, { layers: layers('screen') });
    const [sr] = await render(screen, { base: 'grey', top: 'grey' });
    expect(sr).toBeGreaterThan(180);

    const half = await writeSet('opacity-half', files, { layers: layers('over', 0.5) });
    // Over nothing: half the alpha.
    const [hr, , , ha] = await render(half, { base: 'clear', top: 'red' });
    expect(hr).toBe(255);
    expect(Math.abs(ha! - 128)).toBeLessThanOrEqual(1);
    // Over grey: half way from grey to red.
    const [mr, mg, mb, ma] = await render(half, { base: 'grey', top: 'red' });
    expect(Math.abs(mr! - 191)).toBeLessThanOrEqual(2);
    expect(Math.abs(mg! - 64)).toBeLessThanOrEqual(2);
    expect(Math.abs(mb! - 64)).toBeLessThanOrEqual(2);
    expect(ma).toBe(255);

    const none = await writeSet('opacity-zero', files, { layers: layers('over', 0) });
    expect(await render(none, { base: 'grey', top: 'red' })).toEqual([128, 128, 128, 255]);
  });

  it('an unknown blend mode or an opacity out of 0..1 is refused, naming the field', async () => {
    const files = { 'a/a.png': await solid(grey) };
    const layer = { name: 'a', options: [{ name: 'a', file: 'a/a.png' }] };
    await expect(writeSet('bad-blend', files, { layers: [{ ...layer, blend: 'plus' }] })).rejects.toThrow(/layers\.0\.blend: expected one of over, multiply/);
    await expect(writeSet('bad-opacity', files, { layers: [{ ...layer, opacity: 1.5 }] })).rejects.toThrow(/layers\.0\.opacity/);
  });
});

describe('exclusions', () => {
  const files = async () => ({
    'hat/crown.png': await solid(grey),
    'hat/none.png': await solid(undefined),
    'body/gold.png': await solid(grey),
    'body/moss.png': await solid(grey),
  });
  const layers = [
    {
      name: 'body',
      options: [
        { name: 'gold', file: 'body/gold.png' },
        { name: 'moss', file: 'body/moss.png' },
      ],
    },
    {
      name: 'hat',
      options: [
        { name: 'crown', file: 'hat/crown.png', weight: 100 },
        { name: 'none', file: 'hat/none.png' },
      ],
    },
  ];

  it('a bad name in an exclusion is refused, naming it', async () => {
    await expect(writeSet('bad-exclusion-option', await files(), { layers, exclusions: [['hat/crwn', 'body/gold']] })).rejects.toThrow(
      /exclusions\.0: "hat\/crwn" names no option of layer "hat" \(options: crown, none\)/,
    );
    await expect(writeSet('bad-exclusion-layer', await files(), { layers, exclusions: [['hat/crown', 'wings/gold']] })).rejects.toThrow(
      /exclusions\.0: "wings\/gold" names no layer of this set/,
    );
    await expect(writeSet('bad-exclusion-form', await files(), { layers, exclusions: [['crown', 'body/gold']] })).rejects.toThrow(
      /exclusions\.0: "crown" is not "layer\/option"/,
    );
  });

  it('excluded pairs are never drawn, are refused when requested, and are in the trait structure as given', async () => {
    const set = await writeSet('exclusions', await files(), { layers, exclusions: [['hat/crown', 'body/gold']] });
    expect(traitStructureOf(set)).toEqual({
      layers: [
        {
          name: 'body',
          options: [
            { name: 'gold', weight: 1 },
            { name: 'moss', weight: 1 },
          ],
        },
        {
          name: 'hat',
          options: [
            { name: 'crown', weight: 100 },
            { name: 'none', weight: 1 },
          ],
        },
      ],
      exclusions: [['hat/crown', 'body/gold']],
    });
    let golds = 0;
    for (let seed = 0; seed < 200; seed++) {
      const traits = resolveTraits(set, {}, seed);
      if (traits.body === 'gold') golds++;
      expect([traits.body, traits.hat]).not.toEqual(['gold', 'crown']);
      // A requested option above: the layer below leaves out what it excludes.
      expect(resolveTraits(set, { hat: 'crown' }, seed).body).toBe('moss');
    }
    expect(golds).toBeGreaterThan(50);
    expect(traitProblems(set, { body: 'gold', hat: 'crown' })).toEqual(['"hat/crown" and "body/gold" never go together (the set\'s exclusions)']);
  });
});

describe('the layer cache', () => {
  it('the same traits give byte-identical PNGs, cold or warm, from any cache', async () => {
    const set = loadLayerSet('critters');
    for (const seed of [7, 8, 1234]) {
      const traits = resolveTraits(set, {}, seed);
      const cold = await composeTraits(set, 'critters', traits, new LayerCache(256 * 1024 * 1024));
      const shared = new LayerCache(256 * 1024 * 1024);
      const [a, b] = await Promise.all([composeTraits(set, 'critters', traits, shared), composeTraits(set, 'critters', traits, shared)]);
      const warm = await composeTraits(set, 'critters', traits, shared);
      expect(a.equals(cold) && b.equals(cold) && warm.equals(cold)).toBe(true);
      const meta = await sharp(warm).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 1024, 1024]);
    }
    // The worker's own cache, too.
    const traits = resolveTraits(set, {}, 7);
    const first = await composeTraits(set, 'critters', traits);
    expect((await composeTraits(set, 'critters', traits)).equals(first)).toBe(true);
    expect(layerCacheStats()).toMatchObject({ maxBytes: 256 * 1024 * 1024 });
    expect(layerCacheStats().entries).toBeGreaterThanOrEqual(set.layers.length - 1);
  });

  it('an edited layer file (new content, new mtime) is read again', async () => {
    const set = await writeSet(
      'edited',
      { 'a/a.png': await solid({ r: 255, g: 0, b: 0 }) },
      { layers: [{ name: 'a', options: [{ name: 'a', file: 'a/a.png' }] }] },
    );
    const cache = new LayerCache(64 * 1024 * 1024);
    expect(await pixel(await composeTraits(set, 'edited', { a: 'a' }, cache))).toEqual([255, 0, 0, 255]);
    expect(await pixel(await composeTraits(set, 'edited', { a: 'a' }, cache))).toEqual([255, 0, 0, 255]);
    expect(cache.stats().decodes).toBe(1);
    const file = path.join(root, 'edited', 'a', 'a.png');
    fs.writeFileSync(file, await solid({ r: 0, g: 0, b: 255 }));
    const later = new Date(Date.now() + 5_000);
    fs.utimesSync(file, later, later);
    expect(await pixel(await composeTraits(set, 'edited', { a: 'a' }, cache))).toEqual([0, 0, 255, 255]);
    expect(cache.stats().decodes).toBe(2);
  });

  it('never holds more bytes than its bound, dropping the least recently used layer first', async () => {
    const options = 12;
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < options; i++) files[`a/${i}.png`] = await solid({ r: i * 20, g: 0, b: 0 });
    const set = await writeSet('bounded', files, {
      layers: [{ name: 'a', options: Array.from({ length: options }, (_, i) => ({ name: `o${i}`, file: `a/${i}.png` })) }],
    });
    const layerBytes = SIZE * SIZE * 4 + 256;
    const cache = new LayerCache(3 * layerBytes + 100);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < options; i++) {
        const png = await composeTraits(set, 'bounded', { a: `o${i}` }, cache);
        expect((await pixel(png))[0]).toBe(i * 20);
        expect(cache.stats().bytes).toBeLessThanOrEqual(cache.maxBytes);
        expect(cache.stats().entries).toBeLessThanOrEqual(3);
      }
    }
    expect(cache.stats()).toMatchObject({ entries: 3, bytes: 3 * layerBytes, decodes: 3 * options, evictions: 3 * options - 3 });
    // The most recent three are held: asking again decodes nothing.
    await composeTraits(set, 'bounded', { a: `o${options - 1}` }, cache);
    expect(cache.stats().decodes).toBe(3 * options);
    // A layer larger than the bound is used, not kept.
    const tiny = new LayerCache(1000);
    await composeTraits(set, 'bounded', { a: 'o1' }, tiny);
    expect(tiny.stats()).toMatchObject({ entries: 0, bytes: 0, uncached: 1 });
  });

  it('concurrent first requests for one option share one decode', async () => {
    const set = loadLayerSet('critters');
    const cache = new LayerCache(256 * 1024 * 1024);
    const body = set.layers.find((l) => l.name === 'body')!;
    const results = await Promise.all(Array.from({ length: 8 }, () => decodedLayer(set, 'critters', body, body.options[0]!, cache)));
    expect(cache.stats()).toMatchObject({ decodes: 1, hits: 7, entries: 1, pending: 0 });
    for (const r of results) expect(r).toBe(results[0]);
    // Eight drafts at once decode each option they use once.
    const traits = resolveTraits(set, {}, 7);
    const fresh = new LayerCache(256 * 1024 * 1024);
    const drafts = await Promise.all(Array.from({ length: 8 }, () => composeTraits(set, 'critters', traits, fresh)));
    expect(fresh.stats().decodes).toBe(set.layers.length);
    expect(drafts.every((d) => d.equals(drafts[0]!))).toBe(true);
  });

  it('a bad layer file fails for good, naming the layer and file, and is not kept', async () => {
    const set = await writeSet('bad-file', { 'a/a.png': 'not a picture' }, { layers: [{ name: 'a', options: [{ name: 'a', file: 'a/a.png' }] }] });
    const cache = new LayerCache(64 * 1024 * 1024);
    await expect(composeTraits(set, 'bad-file', { a: 'a' }, cache)).rejects.toMatchObject({
      nonRetryable: true,
      message: expect.stringMatching(/^layer set "bad-file", layer "a" option "a" \(a\/a\.png\) is not an image/),
    });
    expect(cache.stats()).toMatchObject({ entries: 0, pending: 0 });
  });
});

describe('the critters sample set', () => {
  const set = loadLayerSet('critters');
  const original = ['background', 'body', 'eyes', 'mouth', 'hat'];

  it('gives at least 40,000 unique trait combinations, exclusions honoured', () => {
    const { layers, exclusions } = traitStructureOf(set);
    expect(layers.map((l) => l.name)).toEqual(['background', 'aura', 'body', 'pattern', 'markings', 'eyes', 'mouth', 'hat', 'accessory']);
    // Every combination counted, less those holding an excluded pair.
    const index = (entry: string) => {
      const [layer, option] = entry.split('/');
      const l = layers.findIndex((x) => x.name === layer);
      return [l, layers[l]!.options.findIndex((o) => o.name === option)] as const;
    };
    const pairs = exclusions.map(([a, b]) => [index(a), index(b)] as const);
    let combinations = 0;
    const pick: number[] = [];
    const walk = (depth: number) => {
      if (depth === layers.length) {
        if (!pairs.some(([[la, oa], [lb, ob]]) => pick[la] === oa && pick[lb] === ob)) combinations++;
        return;
      }
      for (let o = 0; o < layers[depth]!.options.length; o++) {
        pick[depth] = o;
        walk(depth + 1);
      }
    };
    walk(0);
    expect(combinations).toBeGreaterThanOrEqual(40_000);
    expect(exclusions.length).toBeGreaterThan(0);
    expect(set.layers.some((l) => l.blend !== 'over' || l.opacity !== 1)).toBe(true);
  });

  it('the hand-made layers keep their options and weights, so every seed draws the same for them', () => {
    const before: LayerSet = { ...set, layers: set.layers.filter((l) => original.includes(l.name)), exclusions: [] };
    expect(before.layers.map((l) => [l.name, l.options.map((o) => `${o.name}:${o.weight}`).join(' ')])).toEqual([
      ['background', 'dawn:3 night:2 mint:3 grid:1'],
      ['body', 'moss:3 coral:2 plum:2 gold:1'],
      ['eyes', 'round:4 sleepy:2 starry:1'],
      ['mouth', 'smile:4 oh:2 grin:2'],
      ['hat', 'none:4 beanie:2 crown:1 leaf:2'],
    ]);
    for (let seed = 0; seed < 300; seed++) {
      const now = resolveTraits(set, {}, seed);
      expect(Object.fromEntries(original.map((l) => [l, now[l]]))).toEqual(resolveTraits(before, {}, seed));
    }
  });

  it('every option renders, and its SVGs are small', async () => {
    const cache = new LayerCache(512 * 1024 * 1024);
    for (const layer of set.layers) {
      for (const option of layer.options) {
        await decodedLayer(set, 'critters', layer, option, cache);
        expect(fs.statSync(path.join(set.dir, option.file)).size).toBeLessThan(4096);
      }
    }
  });
});

describe('contact sheet', () => {
  it('puts the images in a grid, in order: 8 columns of 128 px cells by default', async () => {
    const colours = Array.from({ length: 10 }, (_, i) => ({ r: i * 25, g: 255 - i * 25, b: 100 }));
    const images = await Promise.all(colours.map((c) => solid(c, 256)));
    const sheet = await renderContactSheet(images);
    const meta = await sharp(sheet).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 8 * 128 + 9 * 4, 2 * 128 + 3 * 4]);
    const { data, info } = await sharp(sheet).raw().toBuffer({ resolveWithObject: true });
    colours.forEach((c, i) => {
      const x = 4 + (i % 8) * 132 + 64;
      const y = 4 + Math.floor(i / 8) * 132 + 64;
      const at = (y * info.width + x) * info.channels;
      expect([...data.subarray(at, at + 3)]).toEqual([c.r, c.g, c.b]);
    });
    const custom = await sharp(await renderContactSheet(images.slice(0, 3), { columns: 2, cell: 64 })).metadata();
    expect([custom.width, custom.height]).toEqual([2 * 64 + 3 * 4, 2 * 64 + 3 * 4]);
    await expect(renderContactSheet(Array.from({ length: 65 }, () => images[0]!))).rejects.toThrow(/at most 64 images/);
    await expect(renderContactSheet([Buffer.from('nope')])).rejects.toThrow(/image 1 of the contact sheet/);
  });
});
