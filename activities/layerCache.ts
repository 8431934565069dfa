// The worker's decoded layer options: each option's file is read, checked and decoded at the set's
// size once per worker process and kept as raw RGBA, trimmed to the part that is not transparent,
// in a least-recently-used cache bounded by bytes (ATELIER_LAYER_CACHE_MB). A file is known by its
// real path, size and modification time: an edited file is read again.
import { ApplicationFailure } from '@temporalio/activity';
import sharp from 'sharp';
import type { Blend } from 'sharp';
import { loadConfig } from '../common/config.ts';
import { layerFileInfo, readLayerFile, svgExternalReference } from '../common/layerSet.ts';
import type { LayerOption, LayerSet } from '../common/layerSet.ts';
import { inspectImage, untrustedInput } from './format.ts';

/**
 * One option decoded at the set's size (`size` x `size`), its opacity applied: the rectangle
 * (`left`, `top`, `width` x `height`) holding every pixel that is not fully transparent, as raw
 * 8-bit RGBA, or `data` undefined when the whole layer is transparent. Never changed once made:
 * concurrent compositions share it.
 */
export interface DecodedLayer {
  size: number;
  data: Buffer | undefined;
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface LayerCacheStats {
  /** Decoded layers held, and their bytes (never more than maxBytes). */
  entries: number;
  bytes: number;
  maxBytes: number;
  /** Requests answered from the cache (or from a decode already under way), and decodes started. */
  hits: number;
  decodes: number;
  /** Layers dropped to stay under maxBytes, and layers too large to keep at all. */
  evictions: number;
  uncached: number;
  /** Decodes under way. */
  pending: number;
}

/** Bytes a decoded layer holds (its pixels, plus a little for the entry itself). */
const bytesOf = (layer: DecodedLayer) => (layer.data?.byteLength ?? 0) + 256;

/**
 * A least-recently-used map of decoded layers bounded by bytes. Requests for a key being decoded
 * share that decode; a failed decode is not kept (the next request tries again).
 */
export class LayerCache {
  private readonly entries = new Map<string, DecodedLayer>();
  private readonly pending = new Map<string, Promise<DecodedLayer>>();
  private bytes = 0;
  private counts = { hits: 0, decodes: 0, evictions: 0, uncached: 0 };

  constructor(readonly maxBytes: number) {
    if (!(maxBytes >= 0)) throw new Error(`a layer cache needs a byte bound of 0 or more, not ${maxBytes}`);
  }

  /** The layer under `key`, made by `decode` only when neither held nor being made. */
  get(key: string, decode: () => Promise<DecodedLayer>): Promise<DecodedLayer> {
    const held = this.entries.get(key);
    if (held) {
      // Most recently used last: Map keeps insertion order.
      this.entries.delete(key);
      this.entries.set(key, held);
      this.counts.hits++;
      return Promise.resolve(held);
    }
    const underWay = this.pending.get(key);
    if (underWay) {
      this.counts.hits++;
      return underWay;
    }
    this.counts.decodes++;
    const made = (async () => {
      try {
        const layer = await decode();
        this.keep(key, layer);
        return layer;
      } finally {
        this.pending.delete(key);
      }
    })();
    this.pending.set(key, made);
    return made;
  }

  private keep(key: string, layer: DecodedLayer) {
    const size = bytesOf(layer);
    if (size > this.maxBytes) {
      this.counts.uncached++;
      return;
    }
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= bytesOf(old);
    }
    for (const [oldest, entry] of this.entries) {
      if (this.bytes + size <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= bytesOf(entry);
      this.counts.evictions++;
    }
    this.entries.set(key, layer);
    this.bytes += size;
  }

  stats(): LayerCacheStats {
    return { entries: this.entries.size, bytes: this.bytes, maxBytes: this.maxBytes, ...this.counts, pending: this.pending.size };
  }

  /** Drops every decoded layer (decodes under way finish and are kept). */
  clear() {
    this.entries.clear();
    this.bytes = 0;
  }
}

let processCache: LayerCache | undefined;

/** This process's layer cache, bounded by ATELIER_LAYER_CACHE_MB (read once, when first used). */
export function workerLayerCache(): LayerCache {
  processCache ??= new LayerCache(loadConfig({ ATELIER_LAYER_CACHE_MB: process.env.ATELIER_LAYER_CACHE_MB }).ATELIER_LAYER_CACHE_MB * 1024 * 1024);
  return processCache;
}

/** What this process's layer cache holds and has done. */
export function layerCacheStats(): LayerCacheStats {
  return workerLayerCache().stats();
}

/** Names a layer option in errors: `layer set "critters", layer "hat" option "crown" (hat/crown.svg)`. */
export function describeOption(setName: string, layer: string, option: LayerOption): string {
  return `layer set "${setName}", layer "${layer}" option "${option.name}" (${option.file})`;
}

/**
 * One option of a layer decoded at the set's size with the layer's opacity applied, from the cache
 * when its file has not changed. The file is checked before it is decoded: read from inside the
 * set's folder only, the format its name says, at most maxDimension a side, whole, and an SVG that
 * refers to nothing outside itself. A bad file fails the run at once, naming the layer and file.
 */
export function decodedLayer(
  set: LayerSet,
  setName: string,
  layer: { name: string; opacity?: number },
  option: LayerOption,
  cache: LayerCache = workerLayerCache(),
): Promise<DecodedLayer> {
  const what = describeOption(setName, layer.name, option);
  const opacity = layer.opacity ?? 1;
  let key: string;
  try {
    const file = layerFileInfo(set, option);
    key = JSON.stringify([file.real, set.size, file.mtimeMs, file.size, opacity]);
  } catch (error) {
    return Promise.reject(ApplicationFailure.nonRetryable(`${what}: ${(error as Error).message}`, 'InvalidLayer'));
  }
  return cache.get(key, () => decode(set, option, what, opacity));
}

async function decode(set: LayerSet, option: LayerOption, what: string, opacity: number): Promise<DecodedLayer> {
  let file: ReturnType<typeof readLayerFile>;
  try {
    file = readLayerFile(set, option);
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`${what}: ${(error as Error).message}`, 'InvalidLayer');
  }
  if (file.format === 'svg') {
    const reference = svgExternalReference(file.bytes.toString('utf8'));
    if (reference !== undefined) {
      throw ApplicationFailure.nonRetryable(`${what} has ${reference}; an SVG layer may refer only to its own #ids`, 'InvalidLayer');
    }
  }
  await inspectImage(file.bytes, what, [file.format]);
  const size = set.size;
  const { data, info } = await sharp(file.bytes, untrustedInput)
    .resize(size, size)
    .toColourspace('srgb')
    .ensureAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 4 || data.byteLength !== size * size * 4) {
    throw ApplicationFailure.nonRetryable(`${what} decoded to ${info.width}x${info.height}x${info.channels}, not ${size}x${size} RGBA`, 'InvalidLayer');
  }
  if (opacity < 1) {
    for (let i = 3; i < data.length; i += 4) data[i] = Math.round(data[i]! * opacity);
  }
  return trim(data, size);
}

/** The rectangle of `rgba` (size x size) holding every pixel with some alpha, copied out. */
function trim(rgba: Buffer, size: number): DecodedLayer {
  const rowBytes = size * 4;
  let top = -1;
  let bottom = -1;
  let left = size;
  let right = -1;
  for (let y = 0; y < size; y++) {
    const row = y * rowBytes;
    let first = -1;
    for (let x = 0; x < size; x++) {
      if (rgba[row + x * 4 + 3] !== 0) {
        first = x;
        break;
      }
    }
    if (first < 0) continue;
    if (top < 0) top = y;
    bottom = y;
    if (first < left) left = first;
    for (let x = size - 1; x > right; x--) {
      if (rgba[row + x * 4 + 3] !== 0) {
        right = x;
        break;
      }
    }
  }
  if (top < 0) return { size, data: undefined, left: 0, top: 0, width: 0, height: 0 };
  const width = right - left + 1;
  const height = bottom - top + 1;
  if (width === size && height === size) return { size, data: rgba, left: 0, top: 0, width, height };
  const data = Buffer.allocUnsafe(width * height * 4);
  for (let y = 0; y < height; y++) rgba.copy(data, y * width * 4, (top + y) * rowBytes + left * 4, (top + y) * rowBytes + (left + width) * 4);
  return { size, data, left, top, width, height };
}

/** One layer of a composition: its decoded option and how it is drawn over the layers below. */
export interface CompositionLayer {
  layer: DecodedLayer;
  blend?: Blend;
}

/**
 * The layers (bottom first) drawn over a transparent size x size canvas, each with its blend mode,
 * as a PNG. Deterministic: the same layers always give the same bytes. A transparent part of a
 * layer leaves the pixels below unchanged in every blend mode offered, so only the trimmed
 * rectangles are drawn.
 */
export async function compositeLayers(size: number, layers: CompositionLayer[]): Promise<Buffer> {
  const raw = { width: size, height: size, channels: 4 } as const;
  const drawn = layers.filter((l) => l.layer.data !== undefined);
  // The bottom layer over a transparent canvas is itself (in every blend mode offered): it is the
  // canvas when it fills the frame (sharp only reads it), or is copied onto a transparent one.
  const [bottom, ...rest] = drawn;
  let canvas: Buffer;
  if (bottom && bottom.layer.width === size && bottom.layer.height === size) canvas = bottom.layer.data!;
  else {
    canvas = Buffer.alloc(size * size * 4);
    if (bottom) {
      const { data, left, top, width, height } = bottom.layer;
      for (let y = 0; y < height; y++) data!.copy(canvas, ((top + y) * size + left) * 4, y * width * 4, (y + 1) * width * 4);
    }
  }
  let image = sharp(canvas, { raw });
  if (rest.length > 0) {
    image = image.composite(
      rest.map(({ layer, blend }) => ({
        input: layer.data!,
        raw: { width: layer.width, height: layer.height, channels: 4 as const },
        left: layer.left,
        top: layer.top,
        blend: blend ?? 'over',
      })),
    );
  }
  return image.png().toBuffer();
}
