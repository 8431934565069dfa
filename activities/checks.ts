// checks: the automated checks a draft passes before a person looks at it (size, aspect ratio,
// bytes, colour space, transparency, palette, near duplicates, moderation). `runChecks` runs every
// configured check and reports every failure together, in words a designer reads; the activity
// reads the draft from Kubo, the collection's other hashes from Temporal visibility, and asks
// OpenAI's moderation endpoint when the worker has a key.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { KuboRPCClient } from 'kubo-rpc-client';
import OpenAI from 'openai';
import sharp from 'sharp';
import type { Metadata, OutputInfo } from 'sharp';
import { restartableStages } from '../common/asset.ts';
import type { ContentRef, Stage } from '../common/asset.ts';
import { checkNames, checksSchema } from '../common/checks.ts';
import type { CheckName, CheckOutcome, CheckResult, ChecksSpec } from '../common/checks.ts';
import { AtelierPerceptualHash, AtelierStage } from '../common/searchAttributes.ts';
import { slug } from '../common/specSchema.ts';
import { limits, untrustedInput } from './format.ts';
import { heartbeatWhile } from './heartbeat.ts';
import { readVerified } from './kubo.ts';

export interface CheckDependencies {
  kubo: KuboRPCClient;
  /** Moderation runs only when the worker has an OpenAI key; without it the check is listed as skipped. */
  openai?: { client: OpenAI };
}

export interface CheckDraftInput {
  checks: ChecksSpec;
  collectionId: string;
  assetKey: string;
  workflowId: string;
  draft: ContentRef;
}

/** Another asset of the collection, as its run's search attributes show it. */
export interface OtherAsset {
  assetKey: string;
  perceptualHash: string;
}

export type Moderate = (image: Buffer) => Promise<{ flagged: boolean; categories: string[] }>;

export interface CheckContext {
  /** The collection's other assets to compare with (`nearDuplicate`). */
  others: OtherAsset[];
  /** Asks a moderation service; left out: the moderation check is skipped ("no OpenAI key configured"). */
  moderate?: Moderate;
}

/** The moderation model; it takes images as well as text. */
export const MODERATION_MODEL = 'omni-moderation-latest';
/** Images go to moderation as PNG of at most this many pixels a side. */
export const MODERATION_MAX_SIDE = 512;
/** A moderation request that has not answered after this long fails (and the activity is retried). */
export const MODERATION_TIMEOUT_MS = 60_000;

export function createCheckActivities({ kubo, openai }: CheckDependencies) {
  return {
    /**
     * Runs the configured checks on a draft and returns every result, failures included: a failed
     * check is an answer, not an error. Fails for good on an invalid checks object or a draft that
     * is not a decodable image; a moderation request that fails is retried.
     */
    async checkDraft(input: CheckDraftInput): Promise<CheckOutcome> {
      return heartbeatWhile(() => checkDraft({ kubo, openai }, input));
    },
  };
}

async function checkDraft({ kubo, openai }: CheckDependencies, input: CheckDraftInput): Promise<CheckOutcome> {
  const checks = parseChecks(input.checks);
  const collection = slug.safeParse(input.collectionId);
  if (!collection.success) {
    throw ApplicationFailure.nonRetryable(`collectionId ${JSON.stringify(input.collectionId)}: ${collection.error.issues[0]?.message}`, 'InvalidSpec');
  }
  if (input.draft.bytes > limits.maxDraftBytes) {
    throw ApplicationFailure.nonRetryable(`draft ${input.draft.cid} is ${input.draft.bytes} bytes, over ${limits.maxDraftBytes}`, 'ImageTooLarge');
  }
  const image = await readVerified(kubo, input.draft);
  const others = checks.nearDuplicate ? await otherAssets(collection.data, input.workflowId, input.assetKey) : [];
  const moderate = openai && checks.moderation ? openaiModerator(openai.client, { signal: Context.current().cancellationSignal }) : undefined;
  return runChecks(image, checks, { others, moderate });
}

/** The checks object as the activity received it (from a spec file: untrusted), parsed or refused for good. */
function parseChecks(raw: unknown): ChecksSpec {
  const parsed = checksSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'checks'}: ${issue.message}`);
  throw ApplicationFailure.nonRetryable(`invalid checks: ${problems.join('; ')}`, 'InvalidSpec');
}

/**
 * The perceptual hashes of the collection's other assets, from Temporal visibility: every run
 * that has one, except this asset's own runs (a refresh's too) and runs that ended without a token (their asset may
 * be made again, and its old draft should not count against the new one).
 */
async function otherAssets(collectionId: string, workflowId: string, ownKey: string): Promise<OtherAsset[]> {
  const prefix = `asset:${collectionId}:`;
  const found = new Map<string, OtherAsset>();
  for await (const run of Context.current().client.workflow.list({ query: `AtelierCollection = "${collectionId}"` })) {
    // A dynamic asset's refresh (its own run id) is compared with the others, not with its earlier version.
    if (run.workflowId === workflowId || run.workflowId === `${prefix}${ownKey}`) continue;
    const stage = run.typedSearchAttributes.get(AtelierStage) ?? firstValue(run.searchAttributes?.[AtelierStage.name]);
    if (typeof stage === 'string' && restartableStages.includes(stage as Stage)) continue;
    const hash = run.typedSearchAttributes.get(AtelierPerceptualHash) ?? firstValue(run.searchAttributes?.[AtelierPerceptualHash.name]);
    if (typeof hash !== 'string' || !isPerceptualHash(hash)) continue;
    const assetKey = run.workflowId.startsWith(prefix) ? run.workflowId.slice(prefix.length) : run.workflowId;
    // Several runs of one asset with the same draft count once.
    found.set(`${run.workflowId}\n${hash}`, { assetKey, perceptualHash: hash });
  }
  return [...found.values()];
}

const firstValue = (values: unknown): unknown => (Array.isArray(values) ? values[0] : undefined);

/**
 * A moderation function over OpenAI's moderation endpoint: the image, at most 512 px a side as PNG,
 * in one request the client does not retry (Temporal retries the activity, with backoff and in
 * history). A failed request throws a retryable failure: a check that could not run never passes.
 */
export function openaiModerator(client: OpenAI, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Moderate {
  return async (image) => {
    const png = await sharp(image, untrustedInput)
      .resize({ width: MODERATION_MAX_SIDE, height: MODERATION_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
      .png()
      .toBuffer();
    let response: OpenAI.Moderations.ModerationCreateResponse;
    try {
      response = await client.moderations.create(
        { model: MODERATION_MODEL, input: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}` } }] },
        { maxRetries: 0, timeout: options.timeoutMs ?? MODERATION_TIMEOUT_MS, signal: options.signal },
      );
    } catch (error) {
      // A cancelled activity ends as cancelled, not as a moderation outage.
      if (options.signal?.aborted) throw error;
      const status = error instanceof OpenAI.APIError && error.status !== undefined ? ` (${error.status})` : '';
      throw ApplicationFailure.retryable(`the moderation request failed${status}: ${(error as Error).message}`, 'ModerationUnavailable');
    }
    const result = response.results?.[0];
    if (!result) throw ApplicationFailure.retryable('the moderation endpoint answered without a result', 'ModerationUnavailable');
    const categories = Object.entries(result.categories ?? {})
      .filter(([, flagged]) => flagged === true)
      .map(([category]) => category)
      .sort();
    return { flagged: result.flagged, categories };
  };
}

/**
 * Runs every configured check on `image` (the draft's bytes), in the order of `checkNames`, each
 * timed; a failure never stops the others. The perceptual hash is always computed and returned.
 * Throws (for good) only when the bytes are not an image sharp decodes within the pixel limit,
 * and when `moderate` throws.
 */
export async function runChecks(image: Buffer, checks: ChecksSpec, context: CheckContext): Promise<CheckOutcome> {
  const meta = await decodableImage(image);
  const hash = await perceptualHash(image);
  const passed: CheckResult[] = [];
  const failed: CheckResult[] = [];
  const skipped: CheckOutcome['skipped'] = [];
  for (const check of checkNames) {
    const run = runners[check];
    const started = performance.now();
    const verdict = await run({ image, meta, checks, hash, context });
    if (verdict === undefined) continue;
    if ('skipped' in verdict) {
      skipped.push({ check, reason: verdict.skipped });
      continue;
    }
    const result: CheckResult = { check, detail: verdict.detail, ms: round1(performance.now() - started) };
    (verdict.ok ? passed : failed).push(result);
  }
  return { passed, failed, skipped, perceptualHash: hash };
}

/** A check's answer: undefined when it is not configured. */
type Verdict = { ok: boolean; detail: string } | { skipped: string } | undefined;
interface CheckInput {
  image: Buffer;
  meta: Metadata;
  checks: ChecksSpec;
  hash: string;
  context: CheckContext;
}

const runners: Record<CheckName, (input: CheckInput) => Verdict | Promise<Verdict>> = {
  size: ({ meta, checks }) => sizeCheck(meta, checks),
  aspectRatio: ({ meta, checks }) => aspectCheck(meta, checks),
  bytes: ({ image, checks }) => bytesCheck(image.byteLength, checks),
  colorSpace: ({ meta, checks }) => colorSpaceCheck(meta, checks),
  transparency: ({ image, meta, checks }) => transparencyCheck(image, meta, checks),
  palette: ({ image, checks }) => paletteCheck(image, checks),
  nearDuplicate: ({ hash, checks, context }) => nearDuplicateCheck(hash, checks, context.others),
  moderation: ({ image, checks, context }) => moderationCheck(image, checks, context.moderate),
};

/** The header, refused for good when it is not an image or says more pixels than a draft may have. */
async function decodableImage(image: Buffer): Promise<Metadata> {
  let meta: Metadata;
  try {
    meta = await sharp(image, untrustedInput).metadata();
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`the draft is not an image sharp can read (${(error as Error).message})`, 'UnsupportedImage');
  }
  const { width, height } = orientedSize(meta);
  if (!width || !height || width * height > limits.maxInputPixels) {
    throw ApplicationFailure.nonRetryable(
      `the draft is ${width}x${height} px, more than the ${limits.maxInputPixels} pixels a draft may have`,
      'ImageTooLarge',
    );
  }
  return meta;
}

/** Width and height as the image is shown, after its EXIF orientation. */
const orientedSize = (meta: Metadata) => ({ width: meta.autoOrient?.width ?? meta.width, height: meta.autoOrient?.height ?? meta.height });

function sizeCheck(meta: Metadata, { minSize, maxSize }: ChecksSpec): Verdict {
  if (minSize === undefined && maxSize === undefined) return undefined;
  const { width, height } = orientedSize(meta);
  const shorter = Math.min(width, height);
  const longer = Math.max(width, height);
  const problems: string[] = [];
  if (minSize !== undefined && shorter < minSize) problems.push(`the shorter side must be at least ${minSize} px`);
  if (maxSize !== undefined && longer > maxSize) problems.push(`the longer side must be at most ${maxSize} px`);
  if (problems.length > 0) return { ok: false, detail: `${width}x${height} px; ${problems.join(', and ')}` };
  const bounds = [minSize !== undefined && `the shorter side at least ${minSize} px`, maxSize !== undefined && `the longer side at most ${maxSize} px`];
  return { ok: true, detail: `${width}x${height} px (${bounds.filter(Boolean).join(', ')})` };
}

function aspectCheck(meta: Metadata, { aspectRatio, aspectTolerance }: ChecksSpec): Verdict {
  if (aspectRatio === undefined) return undefined;
  const { width, height } = orientedSize(meta);
  const [w, h] = aspectRatio.split(':').map(Number) as [number, number];
  const expected = w / h;
  const actual = width / height;
  const off = Math.abs(actual - expected) / expected;
  const tolerance = `${round1(aspectTolerance * 100)}%`;
  const detail = `${width}x${height} px is ${actual.toFixed(3)}:1, ${aspectRatio} is ${expected.toFixed(3)}:1`;
  return off <= aspectTolerance
    ? { ok: true, detail: `${detail} (within ${tolerance})` }
    : { ok: false, detail: `${detail}; ${round1(off * 100)}% off, at most ${tolerance} allowed` };
}

function bytesCheck(bytes: number, { maxBytes }: ChecksSpec): Verdict {
  if (maxBytes === undefined) return undefined;
  // Rounded sizes that read the same ("5 MB, more than 5 MB") are given in bytes.
  const [size, max] = formatBytes(bytes) === formatBytes(maxBytes) ? [`${bytes} bytes`, `${maxBytes} bytes`] : [formatBytes(bytes), formatBytes(maxBytes)];
  return bytes <= maxBytes ? { ok: true, detail: `${size} (at most ${max})` } : { ok: false, detail: `${size}, more than ${max} allowed` };
}

/** Bytes in decimal units, one decimal: "6.2 MB", "812.5 kB", "5 MB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} bytes`;
  const [value, unit] = bytes < 1_000_000 ? [bytes / 1000, 'kB'] : [bytes / 1_000_000, 'MB'];
  return `${round1(value)} ${unit}`;
}

/**
 * Colour spaces (sharp's `space`, libvips' names) read as sRGB without a profile: 8-bit and 16-bit
 * sRGB, and 8-bit and 16-bit greyscale (sRGB's grey axis).
 */
const srgbCompatible: readonly string[] = ['srgb', 'rgb16', 'b-w', 'grey16'];

function colorSpaceCheck(meta: Metadata, { colorSpace }: ChecksSpec): Verdict {
  if (colorSpace === undefined) return undefined;
  const space = meta.space ?? 'unknown';
  const profile = meta.hasProfile ? 'with an embedded ICC profile' : 'without an embedded ICC profile';
  if (srgbCompatible.includes(space) || meta.hasProfile) return { ok: true, detail: `${space} ${profile}` };
  return { ok: false, detail: `${space} ${profile}; expected sRGB or a profile` };
}

async function transparencyCheck(image: Buffer, meta: Metadata, { transparency }: ChecksSpec): Promise<Verdict> {
  if (transparency === undefined) return undefined;
  const minAlpha = meta.hasAlpha ? await lowestAlpha(image) : 255;
  if (minAlpha === 255) return { ok: true, detail: meta.hasAlpha ? 'opaque (an alpha channel, every pixel 255)' : 'opaque (no alpha channel)' };
  const detail = `has transparent pixels (alpha down to ${minAlpha})`;
  return transparency ? { ok: true, detail: `${detail}; allowed` } : { ok: false, detail: `${detail}; every pixel must be opaque` };
}

/**
 * The alpha channel's lowest value, 0-255 (sharp gives 16-bit images' alpha scaled to 8 bits, and
 * finds the alpha of greyscale images too). Reads the alpha channel alone and scans it: a fifth of
 * the time sharp's stats() takes over every channel.
 */
async function lowestAlpha(image: Buffer): Promise<number> {
  const alpha = await sharp(image, untrustedInput).extractChannel('alpha').raw().toBuffer();
  let min = 255;
  for (const value of alpha) {
    if (value < min) min = value;
    if (min === 0) break;
  }
  return min;
}

/** The palette is compared with at most this many pixels a side (downsampled first). */
const PALETTE_SAMPLE_SIDE = 64;

async function paletteCheck(image: Buffer, { palette }: ChecksSpec): Promise<Verdict> {
  if (palette === undefined) return undefined;
  const { data, info } = await sharp(image, untrustedInput)
    .autoOrient()
    .resize({ width: PALETTE_SAMPLE_SIDE, height: PALETTE_SAMPLE_SIDE, fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const colours = palette.colors.map((hex) => srgbToLab(parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)));
  let total = 0;
  let counted = 0;
  for (let at = 0; at < info.width * info.height * 4; at += 4) {
    // Pixels that are mostly transparent show the background, not the image's colours.
    if (data[at + 3]! < 128) continue;
    const lab = srgbToLab(data[at]!, data[at + 1]!, data[at + 2]!);
    let nearest = Infinity;
    for (const colour of colours) nearest = Math.min(nearest, deltaE76(lab, colour));
    total += nearest;
    counted++;
  }
  const limit = `(at most ${palette.maxDistance})`;
  if (counted === 0) return { ok: true, detail: `no opaque pixels to compare with the palette ${limit}` };
  const mean = total / counted;
  const detail = `mean distance ${mean.toFixed(1)} to the palette ${limit}`;
  return mean <= palette.maxDistance ? { ok: true, detail } : { ok: false, detail };
}

type Lab = readonly [number, number, number];

/** sRGB 8-bit component -> linear light, as a table. */
const linear = Float64Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

/** sRGB (8 bits a channel) -> CIE L*a*b*, D65 white. */
export function srgbToLab(r: number, g: number, b: number): Lab {
  const [lr, lg, lb] = [linear[r]!, linear[g]!, linear[b]!];
  const x = (0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / 0.95047;
  const y = 0.2126729 * lr + 0.7151522 * lg + 0.072175 * lb;
  const z = (0.0193339 * lr + 0.119192 * lg + 0.9503041 * lb) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const [fx, fy, fz] = [f(x), f(y), f(z)];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** CIE76 colour difference: the Euclidean distance in L*a*b*. */
export const deltaE76 = (a: Lab, b: Lab) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

function nearDuplicateCheck(hash: string, { nearDuplicate }: ChecksSpec, others: OtherAsset[]): Verdict {
  if (nearDuplicate === undefined) return undefined;
  const { maxDistance } = nearDuplicate;
  if (others.length === 0) return { ok: true, detail: 'no other asset to compare with' };
  const distances = others.map((other) => ({ assetKey: other.assetKey, distance: hammingDistance(hash, other.perceptualHash) }));
  const nearest = distances.reduce((best, d) => (d.distance < best.distance ? d : best));
  const close = distances.filter((d) => d.distance <= maxDistance).length;
  if (close === 0)
    return {
      ok: true,
      detail: `nearest is ${nearest.assetKey} at distance ${nearest.distance} of ${others.length} compared (duplicates at most ${maxDistance})`,
    };
  const more = close > 1 ? `, and ${close - 1} more within ${maxDistance}` : '';
  return { ok: false, detail: `distance ${nearest.distance} to ${nearest.assetKey} (at most ${maxDistance})${more}` };
}

async function moderationCheck(image: Buffer, { moderation }: ChecksSpec, moderate: Moderate | undefined): Promise<Verdict> {
  if (!moderation) return undefined;
  if (!moderate) return { skipped: 'no OpenAI key configured' };
  const { flagged, categories } = await moderate(image);
  if (!flagged) return { ok: true, detail: 'not flagged' };
  return { ok: false, detail: categories.length > 0 ? `flagged: ${categories.join(', ')}` : 'flagged (no category named)' };
}

/** pHash works on this many pixels a side, and keeps this many low frequencies a side. */
const HASH_SAMPLE = 32;
const HASH_SIDE = 8;

/** cos((2x + 1) u pi / 64) for u in 0..8 and x in 0..31: the DCT-II basis the hash needs. */
const dctBasis = Array.from({ length: HASH_SIDE + 1 }, (_, u) =>
  Float64Array.from({ length: HASH_SAMPLE }, (_, x) => Math.cos(((2 * x + 1) * u * Math.PI) / (2 * HASH_SAMPLE))),
);

/** The first step of the hash's downsampling: the draft to this many pixels a side. */
const HASH_FIRST_STEP = 128;

/**
 * A 64-bit perceptual hash (pHash) as 16 lowercase hex digits: the image (transparency over white)
 * as 32x32 greyscale, its 2-D DCT, the 8x8 lowest frequencies after the DC row and column
 * (rows and columns 1..8, as pHash does), each bit set when its coefficient is above their median.
 * Downsampled in two steps (to 128, then 32): on the critters sample set, resized and re-encoded
 * copies (JPEG q60-80, WebP q75) then differ by 0.65 bits on average and 4 at most, against 2.4
 * and 12 in one step; distinct images differ by about 26 bits (median).
 */
export async function perceptualHash(image: Buffer): Promise<string> {
  let pixels: { data: Buffer; info: OutputInfo };
  try {
    const first = await sharp(image, untrustedInput)
      .autoOrient()
      .flatten({ background: '#ffffff' })
      .resize(HASH_FIRST_STEP, HASH_FIRST_STEP, { fit: 'fill' })
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    pixels = await sharp(first.data, { raw: { width: first.info.width, height: first.info.height, channels: first.info.channels } })
      .resize(HASH_SAMPLE, HASH_SAMPLE, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`the draft does not decode as an image (${(error as Error).message})`, 'CorruptImage');
  }
  const { data, info } = pixels;
  const grey = (x: number, y: number) => data[(y * HASH_SAMPLE + x) * info.channels]!;
  // Separable DCT: rows first (32 rows x 9 frequencies), then columns, for the 9x9 low corner only.
  const rows = Array.from({ length: HASH_SAMPLE }, (_, y) =>
    dctBasis.map((basis) => {
      let sum = 0;
      for (let x = 0; x < HASH_SAMPLE; x++) sum += grey(x, y) * basis[x]!;
      return sum;
    }),
  );
  const coefficients: number[] = [];
  for (let v = 1; v <= HASH_SIDE; v++) {
    for (let u = 1; u <= HASH_SIDE; u++) {
      let sum = 0;
      for (let y = 0; y < HASH_SAMPLE; y++) sum += rows[y]![u]! * dctBasis[v]![y]!;
      coefficients.push(sum);
    }
  }
  const sorted = [...coefficients].sort((a, b) => a - b);
  const median = (sorted[31]! + sorted[32]!) / 2;
  let bits = 0n;
  for (const c of coefficients) bits = (bits << 1n) | (c > median ? 1n : 0n);
  return bits.toString(16).padStart(16, '0');
}

export const isPerceptualHash = (value: string) => /^[0-9a-f]{16}$/.test(value);

/** The number of bits two perceptual hashes differ in (0-64). */
export function hammingDistance(a: string, b: string): number {
  if (!isPerceptualHash(a) || !isPerceptualHash(b)) throw new TypeError(`expected two 16-digit hex hashes, got "${a}" and "${b}"`);
  return popcount32(parseInt(a.slice(0, 8), 16) ^ parseInt(b.slice(0, 8), 16)) + popcount32(parseInt(a.slice(8), 16) ^ parseInt(b.slice(8), 16));
}

function popcount32(value: number): number {
  let v = value >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

const round1 = (value: number) => Math.round(value * 10) / 10;
