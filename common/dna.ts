// Trait combinations ("DNA") of a collection: derived deterministically from a seed, unique, by
// weight, honouring exclusions. Pure code (no Node modules), so workflow code can import it.

/** What DNA is drawn from: layers (bottom first) and their options, and pairs never drawn together. */
export interface TraitStructure {
  layers: { name: string; options: { name: string; weight: number }[] }[];
  /** Pairs of "layer/option" that never appear in one asset. */
  exclusions: [string, string][];
}

/** One option index per layer, in the structure's layer order. */
export type Dna = number[];

export type DnaPlan = { ok: true; dna: Dna[] } | { ok: false; reason: string };
