// Imports a HashLips Art Engine layers folder as an Atelier layer set: `<from>/<Layer>/<Trait>#<weight>.png`
// (the weight after `#` is optional, 1 when absent; .png, .jpg, .jpeg, .webp and .svg files), layers
// in the order given (bottom first, like HashLips' `layersOrder`). The files are copied into
// `<into>/<name>/<Layer>/` and a collection.json is written beside them; the result is loaded back
// with the worker's own checks before it is put in place.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Metadata } from 'sharp';
import { MAX_LAYER_FILE_BYTES, blendModes, layerFormats, layerSetsDir, loadLayerSet, svgExternalReference } from '../common/layerSet.ts';
import type { BlendMode } from '../common/layerSet.ts';

/** A layer of `order`: its folder's name, or HashLips' per-layer options. */
export type HashLipsLayer =
  | string
  | {
      /** The layer's folder under `from`. */
      name: string;
      /** The layer's name in the set (HashLips' `displayName`); the folder's name when absent. */
      displayName?: string;
      /** Atelier's blend mode, or HashLips' canvas name (`source-over`, `color-dodge`, ...). */
      blend?: string;
      /** 0..1, as in HashLips. */
      opacity?: number;
    };

export interface ImportHashLipsOptions {
  /** HashLips' `layers` folder. */
  from: string;
  /** The layer set's folder name (lowercase letters, digits, - and _). */
  name: string;
  /** Layer folders, bottom first. */
  order: HashLipsLayer[];
  /** The set's size in pixels; the first image's width when absent. */
  size?: number;
  /** The folder of layer sets the set is written into (ATELIER_LAYER_SETS_DIR when absent). */
  into?: string;
  /** Replace a set of that name; without it an existing folder is refused. */
  overwrite?: boolean;
  /** collection.json's `name` and `description` (defaults name the source folder). */
  title?: string;
  description?: string;
}

export interface ImportHashLipsResult {
  dir: string;
  layers: number;
  options: number;
  /** Options multiplied over layers: the distinct trait combinations the set holds. */
  combinations: number;
}

/** The same rule as a spec's `generator.layerSet`. */
const setNamePattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** HashLips' canvas composite operations that are Atelier blend modes under another name. */
const canvasNames: Record<string, BlendMode> = { 'source-over': 'over', 'color-dodge': 'colour-dodge', 'color-burn': 'colour-burn' };
const MAX_NAME = 64;

export async function importHashLips(options: ImportHashLipsOptions): Promise<ImportHashLipsResult> {
  const { from, name, order, overwrite = false } = options;
  if (!setNamePattern.test(name)) {
    throw new Error(`"${name}" is not a valid layer set folder name: expected 1-63 lowercase letters, digits, - and _, starting with a letter or digit`);
  }
  const source = path.resolve(from);
  if (!fs.existsSync(source) || !fs.statSync(source).isDirectory()) throw new Error(`the HashLips layers folder ${source} does not exist or is not a folder`);
  if (!Array.isArray(order) || order.length === 0) throw new Error('order names no layers: give the layer folders, bottom first (HashLips layersOrder)');
  if (order.length > 32) throw new Error(`order names ${order.length} layers; a layer set has at most 32`);
  if (options.size !== undefined && (!Number.isInteger(options.size) || options.size < 64 || options.size > 4096)) {
    throw new Error(`size must be a whole number of pixels from 64 to 4096, not ${options.size}`);
  }
  const root = path.resolve(options.into ?? layerSetsDir());
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`the layer sets folder ${root} does not exist`);
  const target = path.join(root, name);
  if (fs.existsSync(target) && !overwrite) throw new Error(`layer set "${name}" already exists at ${target}; pass overwrite to replace it`);

  const layers = order.map((entry, i) => layerOf(entry, i));
  const seen = new Set<string>();
  for (const layer of layers) {
    if (seen.has(layer.name)) throw new Error(`order names the layer "${layer.name}" twice`);
    seen.add(layer.name);
  }
  const available = () =>
    fs
      .readdirSync(source, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  const read = layers.map((layer) => {
    const folder = path.join(source, layer.folder);
    if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
      throw new Error(`layer folder "${layer.folder}" not found in ${source} (folders: ${available().join(', ') || 'none'})`);
    }
    return { ...layer, traits: traitsOf(folder, layer.folder) };
  });

  // Every image is checked as the worker will check it: the format its extension names, a sane size, an SVG that refers to nothing outside itself.
  let size = options.size;
  for (const layer of read) {
    for (const trait of layer.traits) {
      const where = `${layer.folder}/${trait.file}`;
      const bytes = fs.readFileSync(path.join(source, layer.folder, trait.file));
      const format = layerFormats[path.extname(trait.file).toLowerCase()]!;
      if (format === 'svg') {
        const reference = svgExternalReference(bytes.toString('utf8'));
        if (reference) throw new Error(`${where} has ${reference}; an SVG layer may refer only to its own #ids`);
      }
      let meta: Metadata;
      try {
        meta = await sharp(bytes, { limitInputPixels: false }).metadata();
      } catch (error) {
        throw new Error(`${where} is not an image (${(error as Error).message})`);
      }
      if (meta.format !== format) throw new Error(`${where} is ${meta.format ?? 'not an image'}; its extension says ${format}`);
      if (!meta.width || !meta.height || meta.width > 4096 || meta.height > 4096)
        throw new Error(`${where} is ${meta.width}x${meta.height} pixels; at most 4096 a side`);
      size ??= meta.width;
    }
  }
  if (size === undefined || size < 64 || size > 4096) throw new Error(`the first image is ${size} pixels wide; give a size from 64 to 4096`);

  const collection = {
    name: (options.title ?? name).slice(0, 200),
    description: (
      options.description ?? `Imported from the HashLips layers folder ${path.basename(source)}: ${read.map((l) => l.folder).join(', ')} (bottom first).`
    ).slice(0, 5000),
    size,
    layers: read.map((layer) => ({
      name: layer.name,
      ...(layer.blend !== undefined ? { blend: layer.blend } : {}),
      ...(layer.opacity !== undefined ? { opacity: layer.opacity } : {}),
      options: layer.traits.map((t) => ({ name: t.name, file: `${layer.folder}/${t.file}`, weight: t.weight })),
    })),
  };

  // Written beside the target and renamed into place: a failed import leaves nothing half written.
  const staging = fs.mkdtempSync(path.join(root, `.${name}.import-`));
  try {
    for (const layer of read) {
      fs.mkdirSync(path.join(staging, layer.folder));
      for (const trait of layer.traits) fs.copyFileSync(path.join(source, layer.folder, trait.file), path.join(staging, layer.folder, trait.file));
    }
    fs.writeFileSync(path.join(staging, 'collection.json'), `${JSON.stringify(collection, null, 2)}\n`);
    // The worker's own checks, on the staged copy.
    loadLayerSet(path.basename(staging), root);
    if (fs.existsSync(target)) {
      if (!overwrite) throw new Error(`layer set "${name}" already exists at ${target}; pass overwrite to replace it`);
      fs.rmSync(target, { recursive: true, force: true });
    }
    fs.renameSync(staging, target);
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  const optionCount = read.reduce((n, l) => n + l.traits.length, 0);
  return { dir: target, layers: read.length, options: optionCount, combinations: read.reduce((n, l) => n * l.traits.length, 1) };
}

/** One entry of `order`, checked: its folder, its name in the set, its blend mode and opacity. */
function layerOf(entry: HashLipsLayer, index: number): { folder: string; name: string; blend?: BlendMode; opacity?: number } {
  const spec = typeof entry === 'string' ? { name: entry } : entry;
  const folder = typeof spec?.name === 'string' ? spec.name.trim() : '';
  if (!folder) throw new Error(`order[${index}] names no layer folder`);
  if (folder.includes('/') || folder.includes('\\') || folder === '.' || folder === '..') throw new Error(`order[${index}]: "${folder}" is not a folder name`);
  const name = (spec.displayName ?? folder).trim();
  if (!name || name.length > MAX_NAME) throw new Error(`layer "${folder}": its name must be 1-${MAX_NAME} characters`);
  let blend: BlendMode | undefined;
  if (spec.blend !== undefined) {
    blend = canvasNames[spec.blend] ?? ((blendModes as readonly string[]).find((b) => b === spec.blend) as BlendMode | undefined);
    if (!blend) throw new Error(`layer "${folder}": blend "${spec.blend}" is not one of ${blendModes.join(', ')} (or ${Object.keys(canvasNames).join(', ')})`);
  }
  if (spec.opacity !== undefined && !(typeof spec.opacity === 'number' && spec.opacity >= 0 && spec.opacity <= 1)) {
    throw new Error(`layer "${folder}": opacity must be a number from 0 to 1, not ${String(spec.opacity)}`);
  }
  return { folder, name, ...(blend !== undefined ? { blend } : {}), ...(spec.opacity !== undefined ? { opacity: spec.opacity } : {}) };
}

/** A layer folder's images as traits: `<Trait>#<weight>.<ext>`, sorted by file name. */
function traitsOf(folder: string, layer: string): { name: string; file: string; weight: number }[] {
  const traits: { name: string; file: string; weight: number }[] = [];
  const entries = fs
    .readdirSync(folder, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const where = `${layer}/${entry.name}`;
    if (!entry.isFile()) throw new Error(`${where} is not a file (a layer folder holds only its images)`);
    const extension = path.extname(entry.name);
    if (!layerFormats[extension.toLowerCase()]) throw new Error(`${where} is not a layer image (${Object.keys(layerFormats).join(' ')})`);
    if (fs.statSync(path.join(folder, entry.name)).size > MAX_LAYER_FILE_BYTES)
      throw new Error(`${where} is over the ${MAX_LAYER_FILE_BYTES} bytes a layer file may have`);
    const base = entry.name.slice(0, -extension.length);
    const hash = base.lastIndexOf('#');
    const name = (hash < 0 ? base : base.slice(0, hash)).trim();
    const weightText = hash < 0 ? undefined : base.slice(hash + 1);
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (weightText !== undefined && (!/^\d+(\.\d+)?$/.test(weightText) || !(weight > 0) || weight > 1e6)) {
      throw new Error(`${where} has a bad weight "#${weightText}": expected a number above 0 (at most 1000000) after #, as in Blue#70.png`);
    }
    if (!name) throw new Error(`${where} has no trait name before #`);
    if (name.length > MAX_NAME) throw new Error(`${where}: the trait name is over ${MAX_NAME} characters`);
    const twin = traits.find((t) => t.name === name);
    if (twin) throw new Error(`layer "${layer}" has the trait "${name}" twice: ${twin.file} and ${entry.name}`);
    traits.push({ name, file: entry.name, weight });
  }
  if (traits.length === 0) throw new Error(`layer folder "${layer}" holds no images (.png .jpg .jpeg .webp .svg)`);
  if (traits.length > 256) throw new Error(`layer folder "${layer}" holds ${traits.length} images; a layer has at most 256 options`);
  return traits;
}
