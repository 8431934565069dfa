// Reviewers' feedback names traits as `layer=option`. It is free text of any size (a rejection's
// reason), so reading it must take time in proportion to its length.
import { describe, expect, it } from 'vitest';
import { traitOverrides, traitPairs, traitsForRound } from '../activities/generate.ts';
import { loadLayerSet } from '../common/layerSet.ts';

const critters = loadLayerSet('critters');

/** What the parser replaced, kept here as the reference for ordinary input. */
const regexPairs = (text: string) => [...text.matchAll(/([\w-]+)\s*=\s*([\w-]+)/g)].map(([, layer, option]) => [layer, option]);

describe('trait feedback', () => {
  it('reads layer=option pairs, with or without spaces around "="', () => {
    expect(traitOverrides(critters, 'eyes=sleepy')).toEqual({ eyes: 'sleepy' });
    expect(traitOverrides(critters, 'eyes = sleepy, hat=crown')).toEqual({ eyes: 'sleepy', hat: 'crown' });
    expect(traitOverrides(critters, 'Warmer please.\n\neyes =\tstarry;hat= leaf and a new pose')).toEqual({ eyes: 'starry', hat: 'leaf' });
    // Unknown layers and options are not traits; a later pair wins.
    expect(traitOverrides(critters, 'wings=gold, eyes=huge, eyes=round, eyes=sleepy')).toEqual({ eyes: 'sleepy' });
    expect(traitOverrides(critters, 'more contrast, less noise')).toEqual({});
  });

  it('finds the pairs the regular expression found, on ordinary and odd input', () => {
    const samples = [
      'eyes=sleepy',
      'eyes = sleepy, hat=crown',
      'a=b=c d = = e f= g-h_1=2 =x y=',
      'x\u00a0=\u3000y and z\u2028=\u2029w, é=ß q=é',
      '  == = - = -- hat==crown eyes =  ',
    ];
    // And random strings over the characters that matter.
    let seed = 1;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const alphabet = ['a', 'b', 'Z', '9', '_', '-', '=', ' ', '\t', '\n', ',', '.', 'é', '\u00a0'];
    for (let n = 0; n < 2000; n++) {
      samples.push(Array.from({ length: next() % 40 }, () => alphabet[next() % alphabet.length]).join(''));
    }
    for (const text of samples) expect(traitPairs(text), JSON.stringify(text)).toEqual(regexPairs(text));
  });

  it('reads 1.5 MB of feedback in time that grows linearly with its length', () => {
    // The shape that made the regular expression quadratic: a long run of word characters that no
    // "=" follows (a pasted blob, as long as the input allows), among ordinary words; a pair at the end.
    const feedback = (length: number) => {
      const prose = 'too dark = ; - warmer,\n'.repeat(Math.ceil(length / 10 / 23)).slice(0, length / 10);
      const blob = 'iVBORw0KGgo-AAAA_NSUhEUgAA'.repeat(Math.ceil(length / 26)).slice(0, length - 2 * prose.length);
      return `${prose} ${blob} ${prose} eyes = sleepy`;
    };
    const sizes = [15_000, 150_000, 1_500_000];
    /** Time of one parse: parses in a batch of at least 10 ms (the timer and small stalls drown). */
    const batch = (text: string) => {
      const began = performance.now();
      let parses = 0;
      do {
        expect(traitOverrides(critters, text)).toEqual({ eyes: 'sleepy' });
        parses++;
      } while (performance.now() - began < 10);
      return (performance.now() - began) / parses;
    };
    /**
     * The best of a few batches; stops at the first one under `limit`, and at once when one is ten
     * times over it (no stall of a busy machine does that to a 10 ms batch; a quadratic parser does).
     */
    const timeOf = (length: number, batches: number, limit = 0) => {
      const text = feedback(length);
      let best = Infinity;
      for (let b = 0; b < batches; b++) {
        best = Math.min(best, batch(text));
        if (best < limit || best > 10 * limit) break;
      }
      return best;
    };
    timeOf(sizes[0]!, 5); // warms up the compiler
    // Each step is 10 times the input: linear work takes about 10 times as long, quadratic 100
    // times: the regular expression took 15 s a parse of 150 KB here and fails that step within a
    // minute (1.5 MB would have taken it most of an hour).
    const times = [timeOf(sizes[0]!, 10)];
    for (let step = 1; step < sizes.length; step++) {
      const limit = 30 * times[step - 1]!;
      times.push(timeOf(sizes[step]!, 3, limit));
      const shown = `${sizes.slice(0, step + 1).join(', ')} characters: ${times.map((t) => t.toFixed(3)).join(' ms, ')} ms a parse`;
      expect(times[step]!, shown).toBeLessThan(limit);
    }
    const shown = `1.5 MB vs 15 KB: ${times.map((t) => t.toFixed(3)).join(' ms, ')} ms a parse`;
    expect(times[2]! / times[0]!, shown).toBeLessThan(300);
  });

  it('a rejection naming a trait changes that trait in the next round', () => {
    const generator = { traits: {}, seed: 7 };
    const first = traitsForRound(critters, generator, 1, []);
    const wanted = first.traits.eyes === 'sleepy' ? 'starry' : 'sleepy';
    const second = traitsForRound(critters, generator, 2, [`too plain; eyes = ${wanted}, please`]);
    expect(second.traits.eyes).toBe(wanted);
  });
});
