// Trait-layer sets: a collection.json naming layers (bottom first) and their options' SVG/PNG files.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { projectRoot } from './config.ts';

const layerSetSchema = z.object({
  name: z.string(),
  description: z.string().default(''),
  size: z.number().int().min(64).max(4096),
  layers: z
    .array(
      z.object({
        name: z.string().min(1),
        options: z.array(z.object({ name: z.string().min(1), file: z.string().min(1), weight: z.number().positive().default(1) })).min(1),
      }),
    )
    .min(1),
});
export type LayerSet = z.infer<typeof layerSetSchema> & { dir: string };

export const samplesDir = path.join(projectRoot, 'samples', 'collections');

export function layerSetDir(layerSet: string): string {
  // Specs name a folder (checked by the spec schema); this keeps any other caller inside it too.
  const dir = path.resolve(samplesDir, layerSet);
  if (path.dirname(dir) !== samplesDir) throw new Error(`layer set "${layerSet}" is not a folder of ${samplesDir}`);
  return dir;
}

export function loadLayerSet(layerSet: string): LayerSet {
  const dir = layerSetDir(layerSet);
  const file = path.join(dir, 'collection.json');
  if (!fs.existsSync(file)) throw new Error(`layer set "${layerSet}" not found: no ${file}`);
  const parsed = layerSetSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`layer set "${layerSet}" is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  // Option files stay inside the set's folder: a layer set never makes the worker read elsewhere.
  const outside = parsed.data.layers.flatMap((l) => l.options).filter((o) => path.isAbsolute(o.file) || !path.resolve(dir, o.file).startsWith(dir + path.sep));
  if (outside.length > 0) throw new Error(`layer set "${layerSet}" names files outside its folder: ${outside.map((o) => o.file).join(', ')}`);
  return { ...parsed.data, dir };
}

/** Problems with the requested traits (unknown layer or option), or an empty list. */
export function traitProblems(set: LayerSet, traits: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [layer, option] of Object.entries(traits)) {
    const known = set.layers.find((l) => l.name === layer);
    if (!known) problems.push(`unknown layer "${layer}" (layers: ${set.layers.map((l) => l.name).join(', ')})`);
    else if (!known.options.some((o) => o.name === option)) {
      problems.push(`layer "${layer}" has no option "${option}" (options: ${known.options.map((o) => o.name).join(', ')})`);
    }
  }
  return problems;
}

/** A number in [0, 1) from the seed and a label: the same inputs always draw the same option. */
function draw(seed: number, label: string): number {
  return createHash('sha256').update(`${seed}:${label}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** Every layer's option: the requested ones kept, the rest drawn by weight from the seed. */
export function resolveTraits(set: LayerSet, requested: Record<string, string>, seed: number): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const layer of set.layers) {
    const wanted = requested[layer.name];
    if (wanted !== undefined) {
      resolved[layer.name] = wanted;
      continue;
    }
    const total = layer.options.reduce((sum, o) => sum + o.weight, 0);
    let point = draw(seed, layer.name) * total;
    const chosen = layer.options.find((o) => (point -= o.weight) < 0) ?? layer.options[layer.options.length - 1]!;
    resolved[layer.name] = chosen.name;
  }
  return resolved;
}
