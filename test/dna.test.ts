// A collection's DNA: the same seed always gives the same unique, allowed combinations, drawn by
// weight; impossible counts are refused with the numbers; rarity and provenance are what tools compute.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Dna, TraitStructure } from '../common/dna.ts';
import { deriveDna, dnaString, provenanceHashOf, rarityOf, sampleIndices, traitsOfDna } from '../common/dna.ts';

/** Layers named l0, l1, ... with options o0, o1, ... of the given weights. */
function structureOf(weights: number[][], exclusions: [string, string][] = []): TraitStructure {
  return { layers: weights.map((w, l) => ({ name: `l${l}`, options: w.map((weight, o) => ({ name: `o${o}`, weight })) })), exclusions };
}
const even = (n: number) => Array.from({ length: n }, () => 1);

function derived(structure: TraitStructure, count: number, seed: number): Dna[] {
  const plan = deriveDna(structure, count, seed);
  if (!plan.ok) throw new Error(plan.reason);
  return plan.dna;
}
const hasPair = (dna: Dna, [la, oa]: [number, number], [lb, ob]: [number, number]) => dna[la] === oa && dna[lb] === ob;

// 8 layers, 43,200 combinations: the size the timing promise is about.
const eightLayers = structureOf(
  [
    [5, 4, 3, 2, 1],
    [1, 1, 1, 1, 1],
    [3, 3, 2, 1],
    [1, 2, 3, 4],
    [1, 1, 1, 1],
    [6, 3, 1],
    [1, 1, 1],
    [2, 1, 1],
  ],
  [
    ['l0/o0', 'l1/o1'],
    ['l2/o3', 'l5/o2'],
  ],
);

describe('deriveDna', () => {
  it('gives the same list for the same seed, a different one for another seed, all unique and of the asked count', () => {
    const first = derived(eightLayers, 2000, 7);
    expect(first).toHaveLength(2000);
    expect(derived(eightLayers, 2000, 7)).toEqual(first);
    expect(derived(eightLayers, 2000, 8)).not.toEqual(first);
    expect(new Set(first.map(dnaString)).size).toBe(2000);
    for (const dna of first) {
      expect(dna).toHaveLength(8);
      dna.forEach((option, l) => expect(option).toBeLessThan(eightLayers.layers[l]!.options.length));
    }
  });

  it('never draws an excluded pair, whichever of its two layers comes first in the exclusion', () => {
    const structure = structureOf(
      [even(3), even(3), even(3)],
      [
        ['l0/o0', 'l1/o0'],
        ['l2/o1', 'l0/o2'],
      ],
    );
    // 27 - 3 - 3 = 21 allowed: 8 is drawn by weight, 15 and 21 (over half) come from the enumeration.
    for (const count of [8, 15, 21]) {
      for (const seed of [1, 2, 3]) {
        const dna = derived(structure, count, seed);
        expect(dna).toHaveLength(count);
        expect(dna.some((d) => hasPair(d, [0, 0], [1, 0]))).toBe(false);
        expect(dna.some((d) => hasPair(d, [0, 2], [2, 1]))).toBe(false);
      }
    }
    const large = derived(eightLayers, 10_000, 3);
    expect(large.some((d) => hasPair(d, [0, 0], [1, 1]) || hasPair(d, [2, 3], [5, 2]))).toBe(false);
  });

  it('draws options in proportion to their weights over a large draw', () => {
    // 4 x 10 x 10 x 10 x 10 = 40,000 combinations; 4,000 drawn (10%), so uniqueness bends the shares little.
    const structure = structureOf([[1, 2, 3, 4], even(10), even(10), even(10), even(10)]);
    const dna = derived(structure, 4000, 11);
    const shares = [0, 1, 2, 3].map((o) => dna.filter((d) => d[0] === o).length / dna.length);
    [0.1, 0.2, 0.3, 0.4].forEach((expected, o) => expect(Math.abs(shares[o]! - expected)).toBeLessThan(0.03));
  });

  it('refuses at once a count the structure cannot give, naming both numbers', () => {
    // 6 x 6 x 4 x 4 = 576, no exclusions.
    const plan = deriveDna(structureOf([even(6), even(6), even(4), even(4)]), 10_000, 1);
    expect(plan).toEqual({ ok: false, reason: 'layer set gives 576 unique combinations, the collection asks for 10000' });
    // l0/o0 with l1/o0 removes 4*4 = 16, l2/o0 with l3/o0 removes 6*6 = 36, both at once 1 (counted twice): 576 - 16 - 36 + 1 = 525.
    const excluded = deriveDna(
      structureOf(
        [even(6), even(6), even(4), even(4)],
        [
          ['l0/o0', 'l1/o0'],
          ['l2/o0', 'l3/o0'],
        ],
      ),
      526,
      1,
    );
    expect(excluded).toEqual({ ok: false, reason: 'layer set gives 525 unique combinations (after 2 exclusions), the collection asks for 526' });
  });

  it('counts exclusions exactly also past the enumeration limit (inclusion/exclusion)', () => {
    // 16^6 = 16.7M combinations: too many to enumerate; two single-option layers excluded together remove everything.
    const structure = structureOf([[1], [1], even(16), even(16), even(16), even(16), even(16), even(16)], [['l0/o0', 'l1/o0']]);
    expect(deriveDna(structure, 1, 1)).toEqual({ ok: false, reason: 'layer set gives 0 unique combinations (after 1 exclusion), the collection asks for 1' });
  });

  it('takes every allowed combination when the count is all of them (the enumeration fallback)', () => {
    const structure = structureOf([[9, 1], [1, 5, 1], even(4), [100, 1, 1]], [['l0/o1', 'l1/o1']]);
    // 2*3*4*3 = 72, minus 1*1*4*3 = 12 -> 60.
    const all = derived(structure, 60, 5);
    expect(new Set(all.map(dnaString)).size).toBe(60);
    expect(all.some((d) => hasPair(d, [0, 1], [1, 1]))).toBe(false);
    expect(derived(structure, 60, 5)).toEqual(all);
    expect(deriveDna(structure, 61, 5)).toMatchObject({ ok: false, reason: expect.stringContaining('gives 60 unique combinations') });
  });

  it('refuses, naming the weights, when skewed weights starve draws from a structure too large to enumerate', () => {
    // 20^5 = 3.2M combinations, but each layer almost always draws its heavy option.
    const skewed = Array.from({ length: 5 }, () => [1e6, ...even(19)]);
    const plan = deriveDna(structureOf(skewed), 1000, 1);
    expect(plan.ok).toBe(false);
    if (!plan.ok) {
      expect(plan.reason).toMatch(/^only \d+ of 1000 unique combinations were drawn in 60000 attempts \(layer set gives 3200000 unique combinations\)/);
      expect(plan.reason).toMatch(/weights/);
      expect(plan.reason).toMatch(/l\d\/o0 100\.0%/);
    }
  });

  it('refuses empty layers, non-positive weights, bad counts and unknown exclusions', () => {
    const reasonOf = (structure: TraitStructure, count = 1) => {
      const plan = deriveDna(structure, count, 1);
      return plan.ok ? 'ok' : plan.reason;
    };
    expect(reasonOf({ layers: [], exclusions: [] })).toMatch(/no layers/);
    expect(reasonOf(structureOf([even(2), []]))).toMatch(/layer "l1" has no options/);
    expect(reasonOf(structureOf([[1, 0]]))).toMatch(/"l0\/o1" has weight 0/);
    expect(reasonOf(structureOf([[1, -2]]))).toMatch(/weight -2/);
    expect(reasonOf(structureOf([even(2)]), 0)).toMatch(/count must be a whole number of at least 1, got 0/);
    expect(reasonOf(structureOf([even(2)]), 1.5)).toMatch(/got 1\.5/);
    expect(reasonOf(structureOf([even(2), even(2)], [['l0/o0', 'l9/o0']]))).toMatch(/"l9\/o0"/);
  });

  it('derives 10,000 of 43,200 combinations (8 layers) well under 300 ms', () => {
    const started = performance.now();
    const dna = derived(eightLayers, 10_000, 2026);
    const elapsed = performance.now() - started;
    expect(dna).toHaveLength(10_000);
    expect(elapsed).toBeLessThan(300);
  });
});

describe('traitsOfDna and dnaString', () => {
  it('name each layer by its option, in layer order', () => {
    const structure: TraitStructure = {
      layers: [
        {
          name: 'background',
          options: [
            { name: 'dawn', weight: 1 },
            { name: 'night', weight: 1 },
          ],
        },
        {
          name: 'eyes',
          options: [
            { name: 'round', weight: 1 },
            { name: 'sleepy', weight: 1 },
            { name: 'starry', weight: 1 },
          ],
        },
      ],
      exclusions: [],
    };
    expect(traitsOfDna(structure, [1, 2])).toEqual({ background: 'night', eyes: 'starry' });
    expect(Object.keys(traitsOfDna(structure, [0, 0]))).toEqual(['background', 'eyes']);
    expect(dnaString([0, 3, 1, 2])).toBe('0-3-1-2');
    expect(() => traitsOfDna(structure, [0, 3])).toThrow(/layer "eyes" has no option 3/);
    expect(() => traitsOfDna(structure, [0])).toThrow(/1 genes for 2 layers/);
  });
});

describe('rarityOf', () => {
  it('counts every option, scores by 1/frequency and ranks rarest first, ties to the lower index', () => {
    const structure = structureOf([even(3), even(2)]);
    const dnas: Dna[] = [
      [0, 0],
      [0, 1],
      [1, 0],
      [0, 0],
    ];
    const report = rarityOf(structure, dnas);
    expect(report.traits).toEqual([
      { layer: 'l0', option: 'o0', count: 3, frequency: 0.75 },
      { layer: 'l0', option: 'o1', count: 1, frequency: 0.25 },
      { layer: 'l0', option: 'o2', count: 0, frequency: 0 },
      { layer: 'l1', option: 'o0', count: 3, frequency: 0.75 },
      { layer: 'l1', option: 'o1', count: 1, frequency: 0.25 },
    ]);
    const score = (a: number, b: number) => 1 / a + 1 / b;
    expect(report.assets).toEqual([
      { index: 0, score: score(0.75, 0.75), rank: 3 },
      { index: 1, score: score(0.75, 0.25), rank: 1 },
      { index: 2, score: score(0.25, 0.75), rank: 2 },
      { index: 3, score: score(0.75, 0.75), rank: 4 },
    ]);
  });

  it('over a derived collection: counts sum to the total per layer and ranks are a permutation', () => {
    const dna = derived(eightLayers, 3000, 9);
    const report = rarityOf(eightLayers, dna);
    expect(report.traits).toHaveLength(eightLayers.layers.reduce((n, l) => n + l.options.length, 0));
    for (const layer of eightLayers.layers) {
      const ofLayer = report.traits.filter((t) => t.layer === layer.name);
      expect(ofLayer.reduce((n, t) => n + t.count, 0)).toBe(3000);
      expect(ofLayer.reduce((f, t) => f + t.frequency, 0)).toBeCloseTo(1, 9);
    }
    expect(report.assets.map((a) => a.index)).toEqual(dna.map((_, i) => i));
    expect(report.assets.map((a) => a.rank).sort((a, b) => a - b)).toEqual(dna.map((_, i) => i + 1));
    const rarest = report.assets.find((a) => a.rank === 1)!;
    expect(report.assets.every((a) => a.score <= rarest.score)).toBe(true);
  });
});

describe('provenanceHashOf', () => {
  it('is sha256 of the lowercase digests concatenated in order, as node:crypto computes it', () => {
    const digests = ['images', 'in', 'token', 'order'].map((text) => createHash('sha256').update(text).digest('hex'));
    const expected = createHash('sha256').update(digests.join(''), 'utf8').digest('hex');
    expect(provenanceHashOf(digests)).toBe(expected);
    expect(provenanceHashOf(digests.map((d) => d.toUpperCase()))).toBe(expected);
    expect(provenanceHashOf([...digests].reverse())).not.toBe(expected);
    expect(provenanceHashOf([])).toBe(createHash('sha256').update('').digest('hex'));
  });

  it('refuses anything but 64 hex digits', () => {
    const good = 'a'.repeat(64);
    expect(() => provenanceHashOf([good, 'a'.repeat(63)])).toThrow(/image 1: expected a sha256 digest of 64 hex digits/);
    expect(() => provenanceHashOf(['g'.repeat(64)])).toThrow(/image 0/);
    expect(() => provenanceHashOf([`0x${'a'.repeat(62)}`])).toThrow(/image 0/);
  });
});

describe('sampleIndices', () => {
  it('gives k distinct ascending indices in range, the same for the same seed', () => {
    const sample = sampleIndices(10_000, 100, 4);
    expect(sample).toHaveLength(100);
    expect(new Set(sample).size).toBe(100);
    expect(sample).toEqual([...sample].sort((a, b) => a - b));
    expect(sample.every((i) => Number.isInteger(i) && i >= 0 && i < 10_000)).toBe(true);
    expect(sampleIndices(10_000, 100, 4)).toEqual(sample);
    expect(sampleIndices(10_000, 100, 5)).not.toEqual(sample);
    expect(sampleIndices(5, 5, 1)).toEqual([0, 1, 2, 3, 4]);
    expect(sampleIndices(5, 0, 1)).toEqual([]);
    expect(() => sampleIndices(5, 6, 1)).toThrow(/k must be a whole number from 0 to 5/);
  });

  it('picks every index about equally often over many seeds', () => {
    const hits = new Array<number>(10).fill(0);
    for (let seed = 0; seed < 2000; seed++) for (const i of sampleIndices(10, 3, seed)) hits[i]!++;
    // Expected 600 each.
    for (const h of hits) expect(Math.abs(h - 600)).toBeLessThan(90);
  });
});
