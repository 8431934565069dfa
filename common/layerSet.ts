// Trait-layer sets: a collection.json naming layers (bottom first) and their options' SVG/PNG/JPEG/WebP
// files, in a folder of ATELIER_LAYER_SETS_DIR. Nothing outside that folder is read, links included.
// A layer may say how it is drawn over the ones below (`blend`, `opacity`); `exclusions` lists pairs
// of "layer/option" never drawn together.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { loadConfig, projectRoot } from './config.ts';
import type { TraitStructure } from './dna.ts';

/** How a layer is drawn over the layers below it: a subset of sharp's composite blend modes. */
export const blendModes = [
  'over',
  'multiply',
  'screen',
  'overlay',
  'darken',
  'lighten',
  'colour-dodge',
  'colour-burn',
  'hard-light',
  'soft-light',
  'difference',
  'exclusion',
] as const;
export type BlendMode = (typeof blendModes)[number];

const name = z.string().min(1).max(64);
const layerSetSchema = z
  .object({
    name: z.string().max(200),
    description: z.string().max(5000).default(''),
    size: z.number().int().min(64).max(4096),
    layers: z
      .array(
        z
          .object({
            name,
            options: z
              .array(z.object({ name, file: z.string().min(1).max(500), weight: z.number().positive().max(1e6).default(1) }).strict())
              .min(1)
              .max(256),
            blend: z.enum(blendModes, { message: `expected one of ${blendModes.join(', ')}` }).default('over'),
            opacity: z.number().min(0).max(1).default(1),
          })
          .strict(),
      )
      .min(1)
      .max(32),
    exclusions: z
      .array(z.tuple([z.string().max(200), z.string().max(200)]))
      .max(10_000)
      .default([]),
  })
  .strict();
export type LayerSet = z.infer<typeof layerSetSchema> & { dir: string };
export type LayerOption = LayerSet['layers'][number]['options'][number];

/** The file types a layer may be, by extension, and the format sharp must find in it. */
export const layerFormats: Readonly<Record<string, string>> = { '.svg': 'svg', '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp' };
/** The largest collection.json and layer file read. */
export const MAX_COLLECTION_JSON_BYTES = 1024 * 1024;
export const MAX_LAYER_FILE_BYTES = 25 * 1024 * 1024;

/** The repository's sample sets: ATELIER_LAYER_SETS_DIR's default. */
export const samplesDir = path.join(projectRoot, 'samples', 'collections');

/**
 * The folder of layer sets (ATELIER_LAYER_SETS_DIR, relative to the project root), read through
 * the config's own check of that one variable; nothing else of the environment is looked at.
 */
export function layerSetsDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(projectRoot, loadConfig({ ATELIER_LAYER_SETS_DIR: env.ATELIER_LAYER_SETS_DIR }).ATELIER_LAYER_SETS_DIR);
}

export function layerSetDir(layerSet: string, root = layerSetsDir()): string {
  // Specs name a folder (checked by the spec schema); this keeps any other caller inside it too.
  const dir = path.resolve(root, layerSet);
  if (path.dirname(dir) !== root) throw new Error(`layer set "${layerSet}" is not a folder of ${root}`);
  return dir;
}

/** `child` is `parent` or inside it (both absolute, normalised). */
const inside = (parent: string, child: string) => child === parent || child.startsWith(parent + path.sep);

/** The real path (links resolved), or undefined when nothing is there. */
function realPath(file: string): string | undefined {
  try {
    return fs.realpathSync(file);
  } catch {
    return undefined;
  }
}

/**
 * The layer set in `root`/`layerSet`, checked: its collection.json, and every option file a
 * regular file of a known type inside the set's folder, links resolved (a layer set never makes
 * the worker read elsewhere).
 */
export function loadLayerSet(layerSet: string, root = layerSetsDir()): LayerSet {
  const dir = layerSetDir(layerSet, root);
  const realRoot = realPath(root);
  if (!realRoot || !fs.statSync(realRoot).isDirectory()) throw new Error(`the layer sets folder ${root} does not exist (ATELIER_LAYER_SETS_DIR)`);
  const file = path.join(dir, 'collection.json');
  const realDir = realPath(dir);
  if (!realDir || !fs.existsSync(file)) throw new Error(`layer set "${layerSet}" not found: no ${file}`);
  if (path.dirname(realDir) !== realRoot) throw new Error(`layer set "${layerSet}" is a link to ${realDir}, outside the layer sets folder ${root}`);
  const realFile = realPath(file)!;
  if (!inside(realDir, realFile) || !fs.statSync(realFile).isFile()) throw new Error(`layer set "${layerSet}": collection.json is not a file of its folder`);
  if (fs.statSync(realFile).size > MAX_COLLECTION_JSON_BYTES)
    throw new Error(`layer set "${layerSet}": collection.json is over ${MAX_COLLECTION_JSON_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(realFile, 'utf8'));
  } catch (error) {
    throw new Error(`layer set "${layerSet}": collection.json is not valid JSON (${(error as Error).message})`);
  }
  const parsed = layerSetSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `layer set "${layerSet}" is malformed: ${parsed.error.issues
        .map(
          (i) =>
            `${i.path.join('.') || '(collection.json)'}: ${i.code === 'unrecognized_keys' ? `unknown field ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message}`,
        )
        .join('; ')}`,
    );
  }
  const problems = [...duplicateNames(parsed.data.layers), ...exclusionProblems(parsed.data.layers, parsed.data.exclusions)];
  if (problems.length > 0) throw new Error(`layer set "${layerSet}" is malformed: ${problems.join('; ')}`);
  const options = parsed.data.layers.flatMap((l) => l.options);
  // Option files stay inside the set's folder, also through links.
  const outside = options.filter((o) => optionPath(realDir, o) === undefined);
  if (outside.length > 0) throw new Error(`layer set "${layerSet}" names files outside its folder: ${outside.map((o) => o.file).join(', ')}`);
  const missing = options.filter((o) => !realPath(path.resolve(realDir, o.file)));
  if (missing.length > 0) throw new Error(`layer set "${layerSet}" names files that do not exist: ${missing.map((o) => o.file).join(', ')}`);
  const escaping = options.filter((o) => {
    const real = realPath(path.resolve(realDir, o.file))!;
    return !inside(realDir, real) || !fs.statSync(real).isFile();
  });
  if (escaping.length > 0)
    throw new Error(`layer set "${layerSet}" names files that are links out of its folder or not files: ${escaping.map((o) => o.file).join(', ')}`);
  const unknownType = options.filter((o) => !layerFormats[path.extname(o.file).toLowerCase()]);
  if (unknownType.length > 0) {
    throw new Error(
      `layer set "${layerSet}" names files of types a layer cannot be (${Object.keys(layerFormats).join(' ')}): ${unknownType.map((o) => o.file).join(', ')}`,
    );
  }
  return { ...parsed.data, dir: realDir };
}

/** Layers or options of one layer named twice (a trait must name one thing). */
function duplicateNames(layers: { name: string; options: { name: string }[] }[]): string[] {
  const problems: string[] = [];
  const twice = (names: string[]) => [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
  for (const layer of twice(layers.map((l) => l.name))) problems.push(`layers: "${layer}" is named twice`);
  for (const layer of layers) {
    for (const option of twice(layer.options.map((o) => o.name))) problems.push(`layer "${layer.name}": option "${option}" is named twice`);
  }
  return problems;
}

/** Exclusions naming something that is not a "layer/option" of the set, or excluding an option with itself. */
function exclusionProblems(layers: { name: string; options: { name: string }[] }[], exclusions: [string, string][]): string[] {
  const problems: string[] = [];
  exclusions.forEach((pair, i) => {
    for (const entry of pair) {
      const slash = entry.indexOf('/');
      const layer = slash < 0 ? undefined : layers.find((l) => l.name === entry.slice(0, slash));
      if (slash < 0) problems.push(`exclusions.${i}: "${entry}" is not "layer/option"`);
      else if (!layer) problems.push(`exclusions.${i}: "${entry}" names no layer of this set (layers: ${layers.map((l) => l.name).join(', ')})`);
      else if (!layer.options.some((o) => o.name === entry.slice(slash + 1))) {
        problems.push(`exclusions.${i}: "${entry}" names no option of layer "${layer.name}" (options: ${layer.options.map((o) => o.name).join(', ')})`);
      }
    }
    if (pair[0] === pair[1]) problems.push(`exclusions.${i}: "${pair[0]}" is excluded with itself`);
  });
  return problems;
}

/** The set as DNA is drawn from it: layers (bottom first) with their options' names and weights, and its exclusions. */
export function traitStructureOf(set: LayerSet): TraitStructure {
  return {
    layers: set.layers.map((l) => ({ name: l.name, options: l.options.map((o) => ({ name: o.name, weight: o.weight })) })),
    exclusions: set.exclusions.map(([a, b]) => [a, b] as [string, string]),
  };
}

/** An option's file by name, inside `dir`, or undefined when the name leads out of it. */
function optionPath(dir: string, option: LayerOption): string | undefined {
  if (path.isAbsolute(option.file) || option.file.includes('\0')) return undefined;
  const file = path.resolve(dir, option.file);
  return inside(dir, file) && file !== dir ? file : undefined;
}

/** Where an option's file is and what it is now (its real path, bytes and modification time), checked like readLayerFile. */
export interface LayerFileInfo {
  real: string;
  format: string;
  size: number;
  mtimeMs: number;
}

/**
 * An option's file checked without reading it: inside the set's folder with links resolved, a
 * regular file of at most MAX_LAYER_FILE_BYTES, and the format its extension names.
 */
export function layerFileInfo(set: LayerSet, option: LayerOption): LayerFileInfo {
  const file = optionPath(set.dir, option);
  const real = file && realPath(file);
  if (!real || !inside(set.dir, real)) throw new Error(`${option.file} is not a file inside the layer set's folder`);
  const stat = fs.statSync(real);
  if (!stat.isFile()) throw new Error(`${option.file} is not a file`);
  if (stat.size > MAX_LAYER_FILE_BYTES) throw new Error(`${option.file} is ${stat.size} bytes, over the ${MAX_LAYER_FILE_BYTES} a layer file may have`);
  const format = layerFormats[path.extname(option.file).toLowerCase()];
  if (!format) throw new Error(`${option.file} is not a layer file type (${Object.keys(layerFormats).join(' ')})`);
  return { real, format, size: stat.size, mtimeMs: stat.mtimeMs };
}

/**
 * The bytes of an option's file, checked again as it is read (inside the set's folder with links
 * resolved, a regular file, at most MAX_LAYER_FILE_BYTES) and the format the extension names,
 * with its real path, size and modification time as they were when it was read.
 */
export function readLayerFile(set: LayerSet, option: LayerOption): { bytes: Buffer } & LayerFileInfo {
  const info = layerFileInfo(set, option);
  const fd = fs.openSync(info.real, 'r');
  try {
    // What was read and the size and time it is known by come from the same open file.
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${option.file} is not a file`);
    if (stat.size > MAX_LAYER_FILE_BYTES) throw new Error(`${option.file} is ${stat.size} bytes, over the ${MAX_LAYER_FILE_BYTES} a layer file may have`);
    const bytes = fs.readFileSync(fd);
    return { ...info, bytes, size: bytes.byteLength, mtimeMs: stat.mtimeMs };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * What makes an SVG layer unsafe to render, described (`an entity declaration (...)`), or
 * undefined: a reference to anything outside itself (a URL, a file, an absolute path, in an href,
 * src or CSS url()), an entity declaration (external entities, or internal ones that multiply), an
 * XInclude or a stylesheet import. Only same-document references (`#id`) are allowed: a layer
 * renders from its own bytes.
 */
export function svgExternalReference(svg: string): string | undefined {
  const shown = (text: string) => text.slice(0, 120);
  const entity = /<!ENTITY[^>]*>/i.exec(svg);
  if (entity) return `an entity declaration (${shown(entity[0])})`;
  const include = /<(?:[\w-]+:)?include\b[^>]*>/i.exec(svg);
  if (include) return `an XInclude (${shown(include[0])})`;
  const importRule = /@import\b[^;]*/i.exec(svg);
  if (importRule) return `a stylesheet import (${shown(importRule[0])})`;
  for (const match of svg.matchAll(/\b(?:[\w-]+:)?(?:href|src)\s*=\s*("([^"]*)"|'([^']*)')/gi)) {
    const value = (match[2] ?? match[3] ?? '').trim();
    if (!value.startsWith('#')) return `a reference outside itself (${shown(match[0])})`;
  }
  for (const match of svg.matchAll(/url\(\s*(["']?)([^"')]*)\1\s*\)/gi)) {
    if (!match[2]!.trim().startsWith('#')) return `a reference outside itself (${shown(match[0])})`;
  }
  return undefined;
}

/** Problems with the requested traits (unknown layer or option, or two options the set excludes together), or an empty list. */
export function traitProblems(set: LayerSet, traits: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [layer, option] of Object.entries(traits)) {
    const known = set.layers.find((l) => l.name === layer);
    if (!known) problems.push(`unknown layer "${layer}" (layers: ${set.layers.map((l) => l.name).join(', ')})`);
    else if (!known.options.some((o) => o.name === option)) {
      problems.push(`layer "${layer}" has no option "${option}" (options: ${known.options.map((o) => o.name).join(', ')})`);
    }
  }
  if (problems.length === 0) {
    const chosen = new Set(Object.entries(traits).map(([layer, option]) => `${layer}/${option}`));
    for (const [a, b] of set.exclusions ?? []) {
      if (chosen.has(a) && chosen.has(b)) problems.push(`"${a}" and "${b}" never go together (the set's exclusions)`);
    }
  }
  return problems;
}

/** A number in [0, 1) from the seed and a label: the same inputs always draw the same option. */
function draw(seed: number, label: string): number {
  return createHash('sha256').update(`${seed}:${label}`).digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * Every layer's option: the requested ones kept, the rest drawn by weight from the seed, bottom
 * layer first. A drawn layer leaves out the options the set excludes with one already chosen
 * (requested, or drawn below it); without exclusions every layer draws from all its options, so a
 * layer's draw depends only on the seed, its name and its options.
 */
export function resolveTraits(set: LayerSet, requested: Record<string, string>, seed: number): Record<string, string> {
  const resolved: Record<string, string> = {};
  const exclusions = set.exclusions ?? [];
  const chosen = new Set<string>();
  for (const layer of set.layers) {
    const wanted = requested[layer.name];
    if (wanted !== undefined) chosen.add(`${layer.name}/${wanted}`);
  }
  const excluded = (entry: string) => exclusions.some(([a, b]) => (a === entry && chosen.has(b)) || (b === entry && chosen.has(a)));
  for (const layer of set.layers) {
    const wanted = requested[layer.name];
    if (wanted !== undefined) {
      resolved[layer.name] = wanted;
      continue;
    }
    const allowed = exclusions.length === 0 ? layer.options : layer.options.filter((o) => !excluded(`${layer.name}/${o.name}`));
    // When everything is excluded the draw ignores the exclusions (traitProblems reports such requests).
    const options = allowed.length > 0 ? allowed : layer.options;
    const total = options.reduce((sum, o) => sum + o.weight, 0);
    let point = draw(seed, layer.name) * total;
    const chosenOption = options.find((o) => (point -= o.weight) < 0) ?? options[options.length - 1]!;
    resolved[layer.name] = chosenOption.name;
    chosen.add(`${layer.name}/${chosenOption.name}`);
  }
  return resolved;
}
