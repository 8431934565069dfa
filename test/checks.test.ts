// The automated checks on drafts, on real images made with sharp: every check's verdict and the
// numbers its detail names, every failure reported together, the perceptual hash's robustness,
// moderation through the real `openai` client against a local stand-in server, and the activity
// over a stand-in Kubo and visibility listing. No stack needed.
import { ApplicationFailure, TypedSearchAttributes } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { KuboRPCClient } from 'kubo-rpc-client';
import OpenAI from 'openai';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createCheckActivities, deltaE76, hammingDistance, openaiModerator, perceptualHash, runChecks, srgbToLab } from '../activities/checks.ts';
import type { CheckContext, CheckDraftInput } from '../activities/checks.ts';
import { sha256Hex } from '../activities/kubo.ts';
import { checksSchema } from '../common/checks.ts';
import type { CheckName, CheckOutcome } from '../common/checks.ts';
import { AtelierCollection, AtelierPerceptualHash, AtelierStage } from '../common/searchAttributes.ts';
import { startImagesServer } from './support/openaiServer.ts';

/** A checks object as a spec file gives it (defaults applied); moderation off unless asked. */
const spec = (checks: z.input<typeof checksSchema>) => checksSchema.parse({ moderation: false, ...checks });
const none: CheckContext = { others: [] };

const png = (width: number, height: number, background: string | { r: number; g: number; b: number; alpha: number }, channels: 3 | 4 = 3) =>
  sharp({ create: { width, height, channels, background } }).png().toBuffer();

/** A picture with structure (a gradient, shapes), as SVG rendered to PNG: what pHash is for. */
const scene = (width: number, height: number, body: string) =>
  sharp(
    Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 512 512" preserveAspectRatio="none">
        <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#f4e3c1"/><stop offset="1" stop-color="#3a6ea5"/></linearGradient></defs>
        <rect width="512" height="512" fill="url(#g)"/>${body}</svg>`,
    ),
  )
    .png()
    .toBuffer();
const critter = (size = 512) =>
  scene(
    size,
    size,
    '<circle cx="200" cy="220" r="120" fill="#c0392b"/><rect x="300" y="300" width="160" height="120" fill="#2c3e50"/><circle cx="170" cy="190" r="25" fill="#fff"/>',
  );
const landscape = (size = 512) =>
  scene(
    size,
    size,
    '<rect x="0" y="340" width="512" height="172" fill="#27ae60"/><polygon points="60,340 220,90 380,340" fill="#7f8c8d"/><circle cx="420" cy="90" r="50" fill="#f1c40f"/>',
  );

/** Deterministic noise (an LCG), so a PNG of it is large and the same on every run. */
function noisePng(width: number, height: number) {
  const data = Buffer.alloc(width * height * 3);
  let state = 12345;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    data[i] = state >>> 24;
  }
  return sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

const find = (outcome: CheckOutcome, check: CheckName) => {
  const passed = outcome.passed.find((r) => r.check === check);
  const failed = outcome.failed.find((r) => r.check === check);
  return passed ? { ok: true, detail: passed.detail } : failed ? { ok: false, detail: failed.detail } : undefined;
};
const listed = (outcome: CheckOutcome) => [...outcome.passed, ...outcome.failed].map((r) => r.check);

describe('runChecks: one check at a time', () => {
  it('size: the shorter side at least minSize, the longer at most maxSize', async () => {
    const small = await runChecks(await png(1024, 768, '#808080'), spec({ minSize: 1000 }), none);
    expect(find(small, 'size')).toEqual({ ok: false, detail: '1024x768 px; the shorter side must be at least 1000 px' });

    const oversize = await runChecks(await png(3000, 2000, '#808080'), spec({ minSize: 1000, maxSize: 2048 }), none);
    expect(find(oversize, 'size')).toEqual({ ok: false, detail: '3000x2000 px; the longer side must be at most 2048 px' });

    const fine = await runChecks(await png(1200, 1100, '#808080'), spec({ minSize: 1000, maxSize: 2048 }), none);
    expect(find(fine, 'size')).toEqual({ ok: true, detail: '1200x1100 px (the shorter side at least 1000 px, the longer side at most 2048 px)' });
    expect(fine.failed).toEqual([]);
  });

  it('aspectRatio: within the relative tolerance', async () => {
    const image = await png(1024, 768, '#808080');
    const square = await runChecks(image, spec({ aspectRatio: '1:1' }), none);
    expect(find(square, 'aspectRatio')).toEqual({ ok: false, detail: '1024x768 px is 1.333:1, 1:1 is 1.000:1; 33.3% off, at most 1% allowed' });
    const fourThree = await runChecks(image, spec({ aspectRatio: '4:3' }), none);
    expect(find(fourThree, 'aspectRatio')).toMatchObject({ ok: true });
  });

  it('bytes: the draft file as given, not its decoded pixels', async () => {
    const noisy = await noisePng(512, 512);
    expect(noisy.byteLength).toBeGreaterThan(700_000);
    const outcome = await runChecks(noisy, spec({ maxBytes: 100_000 }), none);
    const { ok, detail } = find(outcome, 'bytes')!;
    expect(ok).toBe(false);
    expect(detail).toMatch(/^\d+(\.\d)? kB, more than 100 kB allowed$/);
    expect(Number.parseFloat(detail)).toBeCloseTo(noisy.byteLength / 1000, 0);

    // A flat 2000x2000 PNG is tiny on disk although its pixels take 12 MB.
    const flat = await png(2000, 2000, '#336699');
    const small = await runChecks(flat, spec({ maxBytes: 5_000_000 }), none);
    expect(find(small, 'bytes')).toEqual({ ok: true, detail: `${Math.round(flat.byteLength / 100) / 10} kB (at most 5 MB)` });

    // Sizes that round the same are given in bytes.
    const tight = await runChecks(noisy, spec({ maxBytes: noisy.byteLength - 1 }), none);
    expect(find(tight, 'bytes')?.detail).toBe(`${noisy.byteLength} bytes, more than ${noisy.byteLength - 1} bytes allowed`);
  });

  it('colorSpace: CMYK without a profile fails; with a profile, sRGB and greyscale pass', async () => {
    const rgb = await png(64, 64, '#3366cc');
    const cmyk = await sharp(rgb).toColourspace('cmyk').jpeg().toBuffer();
    expect(await sharp(cmyk).metadata()).toMatchObject({ space: 'cmyk', hasProfile: false });
    const bare = await runChecks(cmyk, spec({ colorSpace: 'srgb' }), none);
    expect(find(bare, 'colorSpace')).toEqual({ ok: false, detail: 'cmyk without an embedded ICC profile; expected sRGB or a profile' });

    const profiled = await sharp(rgb).toColourspace('cmyk').withIccProfile('cmyk').jpeg().toBuffer();
    expect(await sharp(profiled).metadata()).toMatchObject({ space: 'cmyk', hasProfile: true });
    expect(find(await runChecks(profiled, spec({ colorSpace: 'srgb' }), none), 'colorSpace')).toEqual({
      ok: true,
      detail: 'cmyk with an embedded ICC profile',
    });

    expect(find(await runChecks(rgb, spec({ colorSpace: 'srgb' }), none), 'colorSpace')).toEqual({ ok: true, detail: 'srgb without an embedded ICC profile' });
    const grey16 = await sharp(rgb).greyscale().toColourspace('grey16').png().toBuffer();
    expect(await sharp(grey16).metadata()).toMatchObject({ space: 'grey16' });
    expect(find(await runChecks(grey16, spec({ colorSpace: 'srgb' }), none), 'colorSpace')).toMatchObject({ ok: true });
  });

  it('transparency: an alpha channel whose lowest value is 255 is opaque', async () => {
    const holed = await sharp(await png(64, 64, '#3366cc', 4))
      .composite([{ input: await png(16, 16, '#000000', 4), left: 24, top: 24, blend: 'dest-out' }])
      .png()
      .toBuffer();
    const outcome = await runChecks(holed, spec({ transparency: false }), none);
    expect(find(outcome, 'transparency')).toEqual({ ok: false, detail: 'has transparent pixels (alpha down to 0); every pixel must be opaque' });

    const translucent = await png(64, 64, { r: 10, g: 20, b: 30, alpha: 0.5 }, 4);
    expect(find(await runChecks(translucent, spec({ transparency: false }), none), 'transparency')?.detail).toMatch(
      /^has transparent pixels \(alpha down to 128\)/,
    );

    const translucent16 = await sharp(translucent).toColourspace('rgb16').png().toBuffer();
    expect(await sharp(translucent16).metadata()).toMatchObject({ depth: 'ushort', hasAlpha: true });
    expect(find(await runChecks(translucent16, spec({ transparency: false }), none), 'transparency')?.detail).toMatch(
      /^has transparent pixels \(alpha down to 128\)/,
    );
    const greyTranslucent = await sharp(translucent).toColourspace('b-w').png().toBuffer();
    expect(await sharp(greyTranslucent).metadata()).toMatchObject({ channels: 2, hasAlpha: true });
    expect(find(await runChecks(greyTranslucent, spec({ transparency: false }), none), 'transparency')?.detail).toMatch(
      /^has transparent pixels \(alpha down to 128\)/,
    );

    const opaqueRgba = await png(64, 64, '#3366cc', 4);
    expect(find(await runChecks(opaqueRgba, spec({ transparency: false }), none), 'transparency')).toEqual({
      ok: true,
      detail: 'opaque (an alpha channel, every pixel 255)',
    });
    expect(find(await runChecks(await png(64, 64, '#3366cc'), spec({ transparency: false }), none), 'transparency')).toEqual({
      ok: true,
      detail: 'opaque (no alpha channel)',
    });
    expect(find(await runChecks(holed, spec({ transparency: true }), none), 'transparency')).toEqual({
      ok: true,
      detail: 'has transparent pixels (alpha down to 0); allowed',
    });
  });

  it('palette: the mean CIE76 distance of the pixels to their nearest palette colour', async () => {
    // Left half one palette colour, right half the other: every pixel is on the palette (64 px
    // wide, so no downsampling blends the edge).
    const onPalette = await sharp(await png(64, 32, '#1a2b3c'))
      .composite([{ input: await png(32, 32, '#f0e0d0'), left: 32, top: 0 }])
      .png()
      .toBuffer();
    const palette = { colors: ['#1a2b3c', '#f0e0d0'] };
    expect(find(await runChecks(onPalette, spec({ palette }), none), 'palette')).toEqual({ ok: true, detail: 'mean distance 0.0 to the palette (at most 25)' });

    const green = await png(300, 300, '#00c000');
    const expected = Math.min(...palette.colors.map((hex) => deltaE76(srgbToLab(0, 0xc0, 0), srgbToLab(...hexRgb(hex)))));
    expect(expected).toBeGreaterThan(25);
    expect(find(await runChecks(green, spec({ palette }), none), 'palette')).toEqual({
      ok: false,
      detail: `mean distance ${expected.toFixed(1)} to the palette (at most 25)`,
    });
    // A looser bound lets the same image pass.
    expect(find(await runChecks(green, spec({ palette: { ...palette, maxDistance: 150 } }), none), 'palette')).toMatchObject({ ok: true });
  });

  it('srgbToLab agrees with the reference values', () => {
    const white = srgbToLab(255, 255, 255);
    [100, 0, 0].forEach((value, i) => expect(white[i]).toBeCloseTo(value, 2));
    const [l, a, b] = srgbToLab(255, 0, 0);
    expect(l).toBeCloseTo(53.24, 1);
    expect(a).toBeCloseTo(80.09, 1);
    expect(b).toBeCloseTo(67.2, 1);
  });

  it('moderation: flagged categories fail; without a moderator it is skipped; off, it is not listed', async () => {
    const image = await png(64, 64, '#3366cc');
    const flagged = await runChecks(image, spec({ moderation: true }), {
      others: [],
      moderate: async () => ({ flagged: true, categories: ['violence', 'violence/graphic'] }),
    });
    expect(find(flagged, 'moderation')).toEqual({ ok: false, detail: 'flagged: violence, violence/graphic' });
    const clean = await runChecks(image, spec({ moderation: true }), { others: [], moderate: async () => ({ flagged: false, categories: [] }) });
    expect(find(clean, 'moderation')).toEqual({ ok: true, detail: 'not flagged' });

    // The schema's default is on: with no moderator (no OpenAI key) it is skipped, and says why.
    const unkeyed = await runChecks(image, checksSchema.parse({}), none);
    expect(unkeyed).toMatchObject({ passed: [], failed: [], skipped: [{ check: 'moderation', reason: 'no OpenAI key configured' }] });
    const off = await runChecks(image, spec({}), none);
    expect(off).toMatchObject({ passed: [], failed: [], skipped: [] });
    expect(off.perceptualHash).toMatch(/^[0-9a-f]{16}$/);

    // A moderator that fails makes the whole run fail: a check that could not run never passes.
    await expect(runChecks(image, spec({ moderation: true }), { others: [], moderate: () => Promise.reject(new Error('moderation down')) })).rejects.toThrow(
      'moderation down',
    );
  });

  it('a draft that is not an image, or does not decode whole, fails for good with the reason', async () => {
    const notImage = runChecks(Buffer.from('this is not an image'), spec({ minSize: 10 }), none);
    await expect(notImage).rejects.toBeInstanceOf(ApplicationFailure);
    await expect(notImage).rejects.toMatchObject({ type: 'UnsupportedImage', nonRetryable: true, message: expect.stringMatching(/not an image/) });

    const whole = await noisePng(256, 256);
    const truncated = runChecks(whole.subarray(0, whole.byteLength / 2), spec({ minSize: 10 }), none);
    await expect(truncated).rejects.toMatchObject({ type: 'CorruptImage', nonRetryable: true, message: expect.stringMatching(/does not decode/) });
  });
});

const hexRgb = (hex: string) => [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16)) as [number, number, number];

describe('perceptual hash and near duplicates', () => {
  it('the same picture re-encoded as JPEG and slightly resized stays close; a different picture is far', async () => {
    const original = await critter(512);
    const reencoded = await sharp(original).resize(486, 486).jpeg({ quality: 80 }).toBuffer();
    const different = await landscape(512);
    const [a, b, c] = await Promise.all([perceptualHash(original), perceptualHash(reencoded), perceptualHash(different)]);
    for (const hash of [a, b, c]) expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(hammingDistance(a, b)).toBeLessThanOrEqual(4);
    expect(hammingDistance(a, c)).toBeGreaterThanOrEqual(20);
    // Deterministic: the same bytes, the same hash.
    expect(await perceptualHash(original)).toBe(a);
  });

  it('hammingDistance counts differing bits and refuses what is not a hash', () => {
    expect(hammingDistance('0000000000000000', 'ffffffffffffffff')).toBe(64);
    expect(hammingDistance('8000000000000001', '0000000000000000')).toBe(2);
    expect(hammingDistance('0123456789abcdef', '0123456789abcdef')).toBe(0);
    expect(() => hammingDistance('xyz', '0000000000000000')).toThrow(/16-digit hex/);
  });

  it('nearDuplicate names the nearest other asset and the distance', async () => {
    const draft = await sharp(await critter(512))
      .resize(500, 500)
      .jpeg({ quality: 80 })
      .toBuffer();
    const others = [
      { assetKey: 'critters/2', perceptualHash: await perceptualHash(await landscape()) },
      { assetKey: 'critters/7', perceptualHash: await perceptualHash(await critter()) },
    ];
    const distance = hammingDistance(await perceptualHash(draft), others[1]!.perceptualHash);
    const duplicate = await runChecks(draft, spec({ nearDuplicate: {} }), { others });
    expect(find(duplicate, 'nearDuplicate')).toEqual({ ok: false, detail: `distance ${distance} to critters/7 (at most 6)` });

    const far = hammingDistance(await perceptualHash(draft), others[0]!.perceptualHash);
    const unique = await runChecks(draft, spec({ nearDuplicate: {} }), { others: [others[0]!] });
    expect(find(unique, 'nearDuplicate')).toEqual({ ok: true, detail: `nearest is critters/2 at distance ${far} of 1 compared (duplicates at most 6)` });
    expect(find(await runChecks(draft, spec({ nearDuplicate: {} }), none), 'nearDuplicate')).toEqual({ ok: true, detail: 'no other asset to compare with' });
  });
});

describe('every failure together', () => {
  it('one draft failing seven checks reports all seven, with their numbers, and passes the eighth', async () => {
    const base = await noisePng(800, 600);
    const draft = await sharp(base)
      .ensureAlpha()
      .composite([{ input: await png(50, 50, '#000000', 4), left: 0, top: 0, blend: 'dest-out' }])
      .png()
      .toBuffer();
    const hash = await perceptualHash(draft);
    const checks = spec({
      minSize: 1000,
      aspectRatio: '1:1',
      maxBytes: 50_000,
      colorSpace: 'srgb',
      transparency: false,
      palette: { colors: ['#000000'], maxDistance: 10 },
      nearDuplicate: { maxDistance: 6 },
      moderation: true,
    });
    const outcome = await runChecks(draft, checks, {
      others: [{ assetKey: 'noise/1', perceptualHash: hash }],
      moderate: async () => ({ flagged: true, categories: ['violence'] }),
    });
    expect(outcome.failed.map((r) => r.check)).toEqual(['size', 'aspectRatio', 'bytes', 'transparency', 'palette', 'nearDuplicate', 'moderation']);
    expect(outcome.passed.map((r) => r.check)).toEqual(['colorSpace']);
    expect(outcome.skipped).toEqual([]);
    const details = Object.fromEntries(outcome.failed.map((r) => [r.check, r.detail]));
    expect(details).toMatchObject({
      size: '800x600 px; the shorter side must be at least 1000 px',
      aspectRatio: expect.stringContaining('1.333:1'),
      bytes: expect.stringMatching(/^\d+(\.\d)? (kB|MB), more than 50 kB allowed$/),
      transparency: 'has transparent pixels (alpha down to 0); every pixel must be opaque',
      palette: expect.stringMatching(/^mean distance \d+\.\d to the palette \(at most 10\)$/),
      nearDuplicate: 'distance 0 to noise/1 (at most 6)',
      moderation: 'flagged: violence',
    });
    for (const result of [...outcome.passed, ...outcome.failed]) expect(result.ms).toBeGreaterThanOrEqual(0);
    expect(outcome.perceptualHash).toBe(hash);
  });

  it('checks that are not configured are not run and not listed', async () => {
    const outcome = await runChecks(await png(64, 64, '#3366cc'), spec({ maxBytes: 1_000_000 }), none);
    expect(listed(outcome)).toEqual(['bytes']);
    expect(outcome.skipped).toEqual([]);
  });
});

describe('openaiModerator through the real openai client', () => {
  let server: Awaited<ReturnType<typeof startImagesServer>>;
  let client: OpenAI;
  beforeAll(async () => {
    server = await startImagesServer();
    client = new OpenAI({ apiKey: 'sk-test-key', baseURL: server.baseURL });
  });
  afterAll(() => server?.close());

  it('sends the image downscaled to PNG as a data URL and reports the flagged categories', async () => {
    const red = await png(1024, 1024, '#e01010');
    const moderate = openaiModerator(client);
    expect(await moderate(red)).toEqual({ flagged: true, categories: ['violence', 'violence/graphic'] });
    expect(await moderate(await png(300, 200, '#2050e0'))).toEqual({ flagged: false, categories: [] });

    const call = server.moderationCalls.at(-2)!;
    expect(call.authorization).toBe('Bearer sk-test-key');
    expect(call.body.model).toBe('omni-moderation-latest');
    const [input] = call.body.input as { type: string; image_url: { url: string } }[];
    expect(input!.type).toBe('image_url');
    const [, base64] = /^data:image\/png;base64,(.+)$/.exec(input!.image_url.url)!;
    expect(await sharp(Buffer.from(base64!, 'base64')).metadata()).toMatchObject({ format: 'png', width: 512, height: 512 });

    const outcome = await runChecks(red, spec({ moderation: true }), { others: [], moderate });
    expect(find(outcome, 'moderation')).toEqual({ ok: false, detail: 'flagged: violence, violence/graphic' });
  });

  it('a failed moderation request throws a retryable failure, never a pass', async () => {
    server.failModerations(1);
    const calls = server.moderationCalls.length;
    const attempt = runChecks(await png(64, 64, '#2050e0'), spec({ moderation: true }), { others: [], moderate: openaiModerator(client) });
    await expect(attempt).rejects.toMatchObject({ type: 'ModerationUnavailable', nonRetryable: false, message: expect.stringMatching(/\(500\)/) });
    // One request: the client does not retry, Temporal does.
    expect(server.moderationCalls.length).toBe(calls + 1);
  });
});

describe('checkDraft activity (stand-in Kubo and visibility)', () => {
  const collectionId = 'critters';
  const run = (key: string, attributes: { stage?: string; hash?: string }) => ({
    workflowId: `asset:${collectionId}:${key}`,
    typedSearchAttributes: new TypedSearchAttributes([
      { key: AtelierCollection, value: collectionId },
      ...(attributes.stage ? [{ key: AtelierStage, value: attributes.stage }] : []),
      ...(attributes.hash ? [{ key: AtelierPerceptualHash, value: attributes.hash }] : []),
    ]),
    searchAttributes: {},
  });

  async function setup(runs: ReturnType<typeof run>[]) {
    const draft = await critter(256);
    const ref = { cid: 'bafkreistandin', sha256: sha256Hex(draft), bytes: draft.byteLength };
    const kubo = {
      async *cat() {
        yield draft;
      },
    } as unknown as KuboRPCClient;
    const queries: string[] = [];
    const client = {
      withAbortSignal: <R>(_signal: AbortSignal, fn: () => R) => fn(),
      workflow: {
        list({ query }: { query: string }) {
          queries.push(query);
          return (async function* () {
            yield* runs;
          })();
        },
      },
    } as unknown as Client;
    const mock = new MockActivityEnvironment({ startToCloseTimeoutMs: 60_000 }, { client });
    const env = {
      run: (activity: (input: CheckDraftInput) => Promise<CheckOutcome>, input: CheckDraftInput) => mock.run(activity, input) as Promise<CheckOutcome>,
    };
    return { draft, ref, kubo, queries, env };
  }

  it('compares with the collection’s other live assets only, named by their key', async () => {
    const sameHash = await perceptualHash(await critter(256));
    const otherHash = await perceptualHash(await landscape(256));
    const { ref, kubo, queries, env } = await setup([
      run('self', { stage: 'awaiting_approval', hash: sameHash }),
      run('old', { stage: 'rejected', hash: sameHash }),
      run('failed', { stage: 'failed', hash: sameHash }),
      run('nohash', { stage: 'generating' }),
      run('twin', { stage: 'minted', hash: sameHash }),
      run('hills', { stage: 'awaiting_approval', hash: otherHash }),
    ]);
    const { checkDraft } = createCheckActivities({ kubo });
    const input = { checks: spec({ nearDuplicate: {}, minSize: 100 }), collectionId, assetKey: 'self', workflowId: `asset:${collectionId}:self`, draft: ref };
    const outcome = await env.run(checkDraft, input);
    expect(queries).toEqual([`AtelierCollection = "critters"`]);
    expect(outcome.failed).toEqual([{ check: 'nearDuplicate', detail: 'distance 0 to twin (at most 6)', ms: expect.any(Number) }]);
    expect(outcome.passed.map((r) => r.check)).toEqual(['size']);
    expect(outcome.perceptualHash).toBe(sameHash);
  });

  it('does not list without nearDuplicate; moderation without OpenAI is skipped, with OpenAI it asks', async () => {
    const { ref, kubo, queries, env } = await setup([]);
    const input = { checks: checksSchema.parse({}), collectionId, assetKey: 'self', workflowId: `asset:${collectionId}:self`, draft: ref };
    const unkeyed = await env.run(createCheckActivities({ kubo }).checkDraft, input);
    expect(unkeyed.skipped).toEqual([{ check: 'moderation', reason: 'no OpenAI key configured' }]);
    expect(queries).toEqual([]);

    const server = await startImagesServer();
    try {
      const openai = { client: new OpenAI({ apiKey: 'sk-test-key', baseURL: server.baseURL }) };
      const keyed = await env.run(createCheckActivities({ kubo, openai }).checkDraft, input);
      expect(keyed.passed).toEqual([{ check: 'moderation', detail: 'not flagged', ms: expect.any(Number) }]);
      expect(server.moderationCalls).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('an invalid checks object or collection id fails for good as InvalidSpec', async () => {
    const { ref, kubo, env } = await setup([]);
    const { checkDraft } = createCheckActivities({ kubo });
    const base = { collectionId, assetKey: 'self', workflowId: `asset:${collectionId}:self`, draft: ref };
    const badChecks = { minSize: -3, palette: { colors: ['red'] }, surprise: true } as never;
    await expect(env.run(checkDraft, { ...base, checks: badChecks })).rejects.toMatchObject({
      type: 'InvalidSpec',
      nonRetryable: true,
      message: expect.stringMatching(/minSize.*palette\.colors\.0/s),
    });
    await expect(env.run(checkDraft, { ...base, collectionId: 'a" OR "1"="1', checks: spec({ nearDuplicate: {} }) })).rejects.toMatchObject({
      type: 'InvalidSpec',
      nonRetryable: true,
    });
  });
});
