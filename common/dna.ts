// Trait combinations ("DNA") of a collection: derived deterministically from a seed, unique, by
// weight, honouring exclusions. Pure code (no Node modules), so workflow code can import it.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/** What DNA is drawn from: layers (bottom first) and their options, and pairs never drawn together. */
export interface TraitStructure {
  layers: { name: string; options: { name: string; weight: number }[] }[];
  /** Pairs of "layer/option" that never appear in one asset. */
  exclusions: [string, string][];
}

/** One option index per layer, in the structure's layer order. */
export type Dna = number[];

export type DnaPlan = { ok: true; dna: Dna[] } | { ok: false; reason: string };

export interface RarityReport {
  /** Every option of the structure, in layer then option order (count 0 included). */
  traits: { layer: string; option: string; count: number; frequency: number }[];
  /** One entry per DNA given, in that order; rank 1 is the rarest (highest score). */
  assets: { index: number; score: number; rank: number }[];
}

/** Combinations enumerated at most, to count them exactly or to fall back to ordering them all. */
const MAX_ENUMERATED = 2_000_000;
/** Subsets of exclusions visited at most when counting by inclusion/exclusion. */
const MAX_INCLUSION_EXCLUSION_STEPS = 1 << 20;
/** Above this share of the allowed combinations, rejection draws mostly hit duplicates: order them all instead. */
const ENUMERATION_SHARE = 0.5;

// Streams of the same seed for different purposes stay unrelated.
const DNA_STREAM = 0x0d7a_0001;
const SAMPLE_STREAM = 0x5a3b_0002;

/**
 * sfc32 (a small fast counter PRNG, 128-bit state) seeded through splitmix32, so nearby seeds give
 * unrelated streams. Returns floats in [0, 1) with 32 bits of precision.
 */
function seededRandom(seed: number, stream: number): () => number {
  let mix = (seed ^ stream) >>> 0;
  const splitmix32 = () => {
    mix = (mix + 0x9e3779b9) | 0;
    let z = mix;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = splitmix32();
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // The first outputs of a freshly seeded sfc32 are weakly mixed.
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** A float in (0, 1) with 53 bits: never 0, so its logarithm is finite. */
function openUnit(random: () => number): number {
  return (Math.floor(random() * 2 ** 21) * 2 ** 32 + Math.floor(random() * 2 ** 32) + 0.5) / 2 ** 53;
}

/** The structure in index form: cumulative weights per layer and, per option, the options it excludes. */
interface Compiled {
  sizes: number[];
  cumulative: number[][];
  logWeights: number[][];
  /** conflicts[layer][option]: [otherLayer, otherOption] pairs (otherLayer < layer) never drawn with it. */
  conflicts: [number, number][][][];
  /** Distinct cross-layer exclusions, as [layerA, optionA, layerB, optionB] with layerA < layerB. */
  pairs: [number, number, number, number][];
  product: bigint;
}

function compile(structure: TraitStructure): { ok: true; compiled: Compiled } | { ok: false; reason: string } {
  const { layers } = structure;
  if (layers.length === 0) return { ok: false, reason: 'the structure has no layers' };
  const where = new Map<string, [number, number]>();
  const layerNames = new Set<string>();
  for (const [li, layer] of layers.entries()) {
    if (layerNames.has(layer.name)) return { ok: false, reason: `layer "${layer.name}" appears twice` };
    layerNames.add(layer.name);
    if (layer.options.length === 0) return { ok: false, reason: `layer "${layer.name}" has no options` };
    const optionNames = new Set<string>();
    for (const [oi, option] of layer.options.entries()) {
      if (optionNames.has(option.name)) return { ok: false, reason: `layer "${layer.name}" has option "${option.name}" twice` };
      optionNames.add(option.name);
      if (!(Number.isFinite(option.weight) && option.weight > 0)) {
        return { ok: false, reason: `option "${layer.name}/${option.name}" has weight ${option.weight}; weights must be positive numbers` };
      }
      where.set(`${layer.name}/${option.name}`, [li, oi]);
    }
  }
  const conflicts: [number, number][][][] = layers.map((l) => l.options.map(() => []));
  const pairs: [number, number, number, number][] = [];
  const seen = new Set<string>();
  for (const [first, second] of structure.exclusions) {
    const a = where.get(first);
    const b = where.get(second);
    if (!a || !b)
      return { ok: false, reason: `exclusion ["${first}", "${second}"] names "${!a ? first : second}", which is no "layer/option" of the structure` };
    // Two options of one layer never meet anyway: nothing to exclude.
    if (a[0] === b[0]) continue;
    const [low, high] = a[0] < b[0] ? [a, b] : [b, a];
    const key = `${low[0]}.${low[1]}.${high[0]}.${high[1]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    pairs.push([low[0], low[1], high[0], high[1]]);
    conflicts[high[0]]![high[1]]!.push([low[0], low[1]]);
  }
  const cumulative = layers.map((l) => {
    let sum = 0;
    return l.options.map((o) => (sum += o.weight));
  });
  const logWeights = layers.map((l) => {
    const total = l.options.reduce((s, o) => s + o.weight, 0);
    return l.options.map((o) => Math.log(o.weight / total));
  });
  const sizes = layers.map((l) => l.options.length);
  const product = sizes.reduce((p, n) => p * BigInt(n), 1n);
  return { ok: true, compiled: { sizes, cumulative, logWeights, conflicts, pairs, product } };
}

/** Walks every allowed combination (backtracking, so excluded branches are cut early); false when stopped. */
function forEachAllowed(compiled: Compiled, visit: (dna: Dna) => boolean | void): boolean {
  const { sizes, conflicts } = compiled;
  const dna: Dna = new Array<number>(sizes.length).fill(0);
  const walk = (layer: number): boolean => {
    if (layer === sizes.length) return visit(dna) !== false;
    for (let option = 0; option < sizes[layer]!; option++) {
      if (conflicts[layer]![option]!.some(([l, o]) => dna[l] === o)) continue;
      dna[layer] = option;
      if (!walk(layer + 1)) return false;
    }
    return true;
  };
  return walk(0);
}

/**
 * How many combinations the exclusions leave, exactly, or undefined when that is too costly to
 * know (then `atLeast` is a lower bound: each exclusion removes at most product / (its two layers' sizes)).
 */
function allowedCombinations(compiled: Compiled): { exact: bigint | undefined; atLeast: bigint } {
  const { sizes, pairs, product } = compiled;
  if (pairs.length === 0) return { exact: product, atLeast: product };
  if (product <= BigInt(MAX_ENUMERATED)) {
    let count = 0;
    forEachAllowed(compiled, () => void count++);
    return { exact: BigInt(count), atLeast: BigInt(count) };
  }
  // Inclusion/exclusion over subsets of exclusions: a subset forcing two options on one layer
  // counts nothing, and neither does any superset of it, so such branches are cut.
  const forced = new Array<number>(sizes.length).fill(-1);
  let steps = 0;
  let total = 0n;
  const visit = (from: number, chosen: number): boolean => {
    if (++steps > MAX_INCLUSION_EXCLUSION_STEPS) return false;
    let free = 1n;
    for (let l = 0; l < sizes.length; l++) if (forced[l] === -1) free *= BigInt(sizes[l]!);
    total += chosen % 2 === 0 ? free : -free;
    for (let p = from; p < pairs.length; p++) {
      const [la, oa, lb, ob] = pairs[p]!;
      if ((forced[la] !== -1 && forced[la] !== oa) || (forced[lb] !== -1 && forced[lb] !== ob)) continue;
      const before: [number, number] = [forced[la]!, forced[lb]!];
      forced[la] = oa;
      forced[lb] = ob;
      const finished = visit(p + 1, chosen + 1);
      forced[la] = before[0];
      forced[lb] = before[1];
      if (!finished) return false;
    }
    return true;
  };
  if (visit(0, 0)) return { exact: total, atLeast: total };
  const removedAtMost = pairs.reduce((sum, [la, , lb]) => sum + product / (BigInt(sizes[la]!) * BigInt(sizes[lb]!)), 0n);
  return { exact: undefined, atLeast: product > removedAtMost ? product - removedAtMost : 0n };
}

/** A layer's option drawn by weight: binary search of u * total in the cumulative weights. */
function drawOption(cumulative: number[], u: number): number {
  const target = u * cumulative[cumulative.length - 1]!;
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (cumulative[mid]! > target) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** A key for the set of drawn DNA: a mixed-radix number while exact, else text. */
function dnaKeyOf(sizes: number[], product: bigint): (dna: Dna) => number | string {
  if (product > BigInt(Number.MAX_SAFE_INTEGER)) return (dna) => dna.join('-');
  return (dna) => {
    let key = 0;
    for (let l = 0; l < sizes.length; l++) key = key * sizes[l]! + dna[l]!;
    return key;
  };
}

/**
 * Every allowed combination ordered by a seeded weighted key, the first `count` taken
 * (Efraimidis-Spirakis: key ln(-ln u) - ln(weight), smallest first). This is the same
 * distribution as drawing by weight and dropping duplicates, without the retries.
 */
function orderAllByWeight(compiled: Compiled, count: number, random: () => number): Dna[] {
  const { logWeights } = compiled;
  const all: { dna: Dna; key: number }[] = [];
  forEachAllowed(compiled, (dna) => {
    let logWeight = 0;
    for (let l = 0; l < dna.length; l++) logWeight += logWeights[l]![dna[l]!]!;
    all.push({ dna: dna.slice(), key: Math.log(-Math.log(openUnit(random))) - logWeight });
  });
  // Stable sort: equal keys keep enumeration order, so the result depends on nothing else.
  all.sort((x, y) => x.key - y.key);
  return all.slice(0, count).map((entry) => entry.dna);
}

function describeCombinations(allowed: bigint, exclusions: number): string {
  return `layer set gives ${allowed} unique combinations${exclusions > 0 ? ` (after ${exclusions} exclusion${exclusions === 1 ? '' : 's'})` : ''}`;
}

/**
 * `count` unique DNA drawn by weight per layer from a seeded PRNG, skipping duplicates and
 * excluded pairs; the same inputs always give the same list. Refuses a structure that cannot give
 * `count` unique allowed combinations, saying how many it gives.
 */
export function deriveDna(structure: TraitStructure, count: number, seed: number): DnaPlan {
  if (!Number.isInteger(count) || count < 1) return { ok: false, reason: `the count must be a whole number of at least 1, got ${count}` };
  if (!Number.isSafeInteger(seed)) return { ok: false, reason: `the seed must be a whole number, got ${seed}` };
  const compiledOrProblem = compile(structure);
  if (!compiledOrProblem.ok) return compiledOrProblem;
  const compiled = compiledOrProblem.compiled;
  const exclusions = compiled.pairs.length;
  const allowed = allowedCombinations(compiled);
  if (allowed.exact !== undefined && allowed.exact < BigInt(count)) {
    return { ok: false, reason: `${describeCombinations(allowed.exact, exclusions)}, the collection asks for ${count}` };
  }
  const random = seededRandom(seed, DNA_STREAM);
  const enumerable = allowed.exact !== undefined && allowed.exact <= BigInt(MAX_ENUMERATED);
  if (enumerable && count > Number(allowed.exact) * ENUMERATION_SHARE) return { ok: true, dna: orderAllByWeight(compiled, count, random) };

  const { sizes, cumulative, conflicts, product } = compiled;
  const keyOf = dnaKeyOf(sizes, product);
  const taken = new Set<number | string>();
  const dna: Dna[] = [];
  const maxAttempts = 50 * count + 10_000;
  const draw: Dna = new Array<number>(sizes.length).fill(0);
  let attempts = 0;
  while (dna.length < count && attempts < maxAttempts) {
    attempts++;
    let excluded = false;
    // Every layer is drawn even after an exclusion is hit, so each attempt uses the same number of values.
    for (let l = 0; l < sizes.length; l++) draw[l] = drawOption(cumulative[l]!, random());
    for (let l = 1; l < sizes.length && !excluded; l++) excluded = conflicts[l]![draw[l]!]!.some(([ol, oo]) => draw[ol] === oo);
    if (excluded) continue;
    const key = keyOf(draw);
    if (taken.has(key)) continue;
    taken.add(key);
    dna.push(draw.slice());
  }
  if (dna.length === count) return { ok: true, dna };
  // The weights starved the draws, but every allowed combination can still be ordered by weight.
  if (enumerable) return { ok: true, dna: orderAllByWeight(compiled, count, seededRandom(seed, DNA_STREAM)) };
  const heaviest = structure.layers
    .map((layer) => {
      const total = layer.options.reduce((s, o) => s + o.weight, 0);
      const top = layer.options.reduce((best, o) => (o.weight > best.weight ? o : best));
      return { label: `${layer.name}/${top.name}`, share: top.weight / total };
    })
    .sort((x, y) => y.share - x.share)
    .slice(0, 3)
    .map((h) => `${h.label} ${(h.share * 100).toFixed(1)}%`);
  const known =
    allowed.exact !== undefined ? describeCombinations(allowed.exact, exclusions) : `layer set gives at least ${allowed.atLeast} unique combinations`;
  return {
    ok: false,
    reason:
      `only ${dna.length} of ${count} unique combinations were drawn in ${attempts} attempts (${known}): ` +
      `the weights likely concentrate the draws on too few combinations (heaviest options: ${heaviest.join(', ')})`,
  };
}

function checkDna(structure: TraitStructure, dna: Dna): void {
  if (dna.length !== structure.layers.length) throw new Error(`DNA ${dnaString(dna)} has ${dna.length} genes for ${structure.layers.length} layers`);
  for (const [l, layer] of structure.layers.entries()) {
    const option = dna[l]!;
    if (!Number.isInteger(option) || option < 0 || option >= layer.options.length) {
      throw new Error(`DNA ${dnaString(dna)}: layer "${layer.name}" has no option ${option} (it has ${layer.options.length})`);
    }
  }
}

/** Layer name -> option name, in layer order. */
export function traitsOfDna(structure: TraitStructure, dna: Dna): Record<string, string> {
  checkDna(structure, dna);
  const traits: Record<string, string> = {};
  for (const [l, layer] of structure.layers.entries()) traits[layer.name] = layer.options[dna[l]!]!.name;
  return traits;
}

/** The DNA as text, e.g. "0-3-1-2". */
export function dnaString(dna: Dna): string {
  return dna.join('-');
}

/**
 * Each option's count and frequency over `dnas`, and each asset's rarity score (the sum over its
 * layers of 1 / frequency of its option, as rarity tools compute it) and rank (1 = rarest; ties go to the lower index).
 */
export function rarityOf(structure: TraitStructure, dnas: Dna[]): RarityReport {
  const counts = structure.layers.map((layer) => layer.options.map(() => 0));
  for (const dna of dnas) {
    checkDna(structure, dna);
    for (let l = 0; l < dna.length; l++) counts[l]![dna[l]!]!++;
  }
  const total = dnas.length;
  const frequency = (l: number, o: number) => (total === 0 ? 0 : counts[l]![o]! / total);
  const traits = structure.layers.flatMap((layer, l) =>
    layer.options.map((option, o) => ({ layer: layer.name, option: option.name, count: counts[l]![o]!, frequency: frequency(l, o) })),
  );
  const scores = dnas.map((dna, index) => ({ index, score: dna.reduce((sum, o, l) => sum + 1 / frequency(l, o), 0) }));
  const byRarity = scores.slice().sort((x, y) => y.score - x.score || x.index - y.index);
  const rank = new Array<number>(total);
  byRarity.forEach((entry, position) => (rank[entry.index] = position + 1));
  return { traits, assets: scores.map((s) => ({ ...s, rank: rank[s.index]! })) };
}

/**
 * The collection's provenance hash: sha256 of the images' sha256 digests (lowercase hex)
 * concatenated in token order, as lowercase hex. Commits to every image and to their order.
 */
export function provenanceHashOf(imageSha256Hex: string[]): string {
  const digests = imageSha256Hex.map((digest, i) => {
    if (typeof digest !== 'string' || !/^[0-9a-fA-F]{64}$/.test(digest))
      throw new Error(`image ${i}: expected a sha256 digest of 64 hex digits, got "${String(digest)}"`);
    return digest.toLowerCase();
  });
  return bytesToHex(sha256(utf8ToBytes(digests.join(''))));
}

/** `k` distinct indices in [0, count), ascending, the same for the same seed (a sparse partial Fisher-Yates shuffle). */
export function sampleIndices(count: number, k: number, seed: number): number[] {
  if (!Number.isSafeInteger(count) || count < 0) throw new Error(`sampleIndices: count must be a whole number >= 0, got ${count}`);
  if (!Number.isInteger(k) || k < 0 || k > count) throw new Error(`sampleIndices: k must be a whole number from 0 to ${count}, got ${k}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`sampleIndices: the seed must be a whole number, got ${seed}`);
  const random = seededRandom(seed, SAMPLE_STREAM);
  // Only the swapped positions are stored, so a sample of 10 from 10,000 costs 10 steps.
  const swapped = new Map<number, number>();
  const chosen: number[] = [];
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(openUnit(random) * (count - i));
    const atJ = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    chosen.push(atJ);
  }
  return chosen.sort((x, y) => x - y);
}
