// `npx tsx scripts/makeSampleLayers.ts`: writes the procedural extra layers of the sample set
// samples/collections/critters (aura, pattern, markings, accessory: small SVGs) and puts them into
// its collection.json, around the hand-made layers (background, body, eyes, mouth, hat), whose
// options and weights it never changes: a layer's draw depends only on the seed, its name and its
// options, so the traits earlier seeds drew for those layers stay the same. Deterministic: running
// it again writes the same bytes.
import fs from 'node:fs';
import path from 'node:path';
import prettier from 'prettier';
import { samplesDir } from '../common/layerSet.ts';
import type { BlendMode } from '../common/layerSet.ts';

const SIZE = 1024;
const setDir = path.join(samplesDir, 'critters');

/** A seeded generator of numbers in [0, 1) (mulberry32): the same seed, the same layers. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
const int = (next: () => number, min: number, max: number) => min + Math.floor(next() * (max - min + 1));

const svg = (body: string) => `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}">\n${body}\n</svg>\n`;
/** The body's outline (body/*.svg): patterns are clipped to it. */
const bodyClip =
  '<defs><clipPath id="b"><ellipse cx="512" cy="640" rx="300" ry="280"/><circle cx="330" cy="380" r="70"/><circle cx="694" cy="380" r="70"/></clipPath></defs>';
const clipped = (shapes: string) => svg(`${bodyClip}<g clip-path="url(#b)">${shapes}</g>`);

interface NewLayer {
  name: string;
  /** The existing layer it goes right above. */
  above: string;
  blend?: BlendMode;
  opacity?: number;
  options: { name: string; weight: number; svg: string }[];
}

function spots(seed: number, count: number, rMin: number, rMax: number, fill: string) {
  const next = random(seed);
  let shapes = '';
  for (let i = 0; i < count; i++) {
    shapes += `<circle cx="${int(next, 220, 804)}" cy="${int(next, 330, 910)}" r="${int(next, rMin, rMax)}"/>`;
  }
  return `<g fill="${fill}">${shapes}</g>`;
}

function stripes(step: number, width: number, fill: string, slant: number) {
  let d = '';
  for (let x = 100 - slant; x < 924; x += step) d += `M${x} 300l${slant} 640h${width}l${-slant} -640z`;
  return `<path d="${d}" fill="${fill}"/>`;
}

function zigzag(rows: number, fill: string) {
  let d = '';
  for (let r = 0; r < rows; r++) {
    const y = 420 + r * 90;
    d += `M200 ${y}`;
    for (let x = 200; x < 830; x += 60) d += `l30 -30l30 30`;
    d += `v24`;
    for (let x = 830; x > 200; x -= 60) d += `l-30 -30l-30 30`;
    d += 'z';
  }
  return `<path d="${d}" fill="${fill}"/>`;
}

function checks(cell: number, fill: string) {
  let d = '';
  for (let y = 340; y < 930; y += cell) for (let x = 200 + (((y - 340) / cell) % 2) * cell; x < 830; x += cell * 2) d += `M${x} ${y}h${cell}v${cell}h-${cell}z`;
  return `<path d="${d}" fill="${fill}"/>`;
}

function sparkles(seed: number, count: number) {
  const next = random(seed);
  let d = '';
  for (let i = 0; i < count; i++) {
    const x = int(next, 60, 964);
    const y = int(next, 60, 964);
    const r = int(next, 10, 26);
    d += `M${x} ${y - r}L${x + r / 4} ${y - r / 4}L${x + r} ${y}L${x + r / 4} ${y + r / 4}L${x} ${y + r}L${x - r / 4} ${y + r / 4}L${x - r} ${y}L${x - r / 4} ${y - r / 4}z`;
  }
  return `<path d="${d}" fill="#fffbe0"/>`;
}

function bubbles(seed: number, count: number) {
  const next = random(seed);
  let shapes = '';
  for (let i = 0; i < count; i++) shapes += `<circle cx="${int(next, 60, 964)}" cy="${int(next, 60, 964)}" r="${int(next, 14, 48)}"/>`;
  return `<g fill="none" stroke="#e8fbff" stroke-width="6">${shapes}</g>`;
}

const none = (weight: number) => ({ name: 'none', weight, svg: svg('') });

const layers: NewLayer[] = [
  {
    name: 'aura',
    above: 'background',
    blend: 'screen',
    opacity: 0.8,
    options: [
      none(6),
      { name: 'halo', weight: 2, svg: svg('<circle cx="512" cy="600" r="420" fill="none" stroke="#ffe9a8" stroke-width="40"/>') },
      { name: 'sparkles', weight: 2, svg: svg(sparkles(11, 18)) },
      { name: 'bubbles', weight: 2, svg: svg(bubbles(23, 14)) },
      { name: 'sunburst', weight: 1, svg: svg(`<g fill="#5a4a20">${rays(16)}</g>`) },
    ],
  },
  {
    name: 'pattern',
    above: 'body',
    blend: 'multiply',
    opacity: 0.6,
    options: [
      { name: 'plain', weight: 8, svg: svg('') },
      { name: 'spots', weight: 2, svg: clipped(spots(31, 14, 18, 46, '#7a6a5a')) },
      { name: 'freckles', weight: 2, svg: clipped(spots(47, 60, 5, 10, '#8a5a3a')) },
      { name: 'stripes', weight: 2, svg: clipped(stripes(90, 34, '#6a6a8a', 0)) },
      { name: 'tiger', weight: 1, svg: clipped(stripes(70, 22, '#4a3a2a', 120)) },
      { name: 'zigzag', weight: 1, svg: clipped(zigzag(5, '#5a7a6a')) },
      { name: 'checks', weight: 1, svg: clipped(checks(60, '#8a8a9a')) },
    ],
  },
  {
    name: 'markings',
    above: 'pattern',
    options: [
      none(6),
      {
        name: 'blush',
        weight: 3,
        svg: svg('<g fill="#ff8fa3" opacity="0.7"><ellipse cx="360" cy="640" rx="44" ry="26"/><ellipse cx="664" cy="640" rx="44" ry="26"/></g>'),
      },
      {
        name: 'whiskers',
        weight: 2,
        svg: svg('<path d="M330 650L200 630M330 670L200 680M330 690L210 730M694 650L824 630M694 670L824 680M694 690L814 730" stroke="#333" stroke-width="6"/>'),
      },
      { name: 'stitch', weight: 1, svg: svg('<path d="M640 440L700 520M650 470L680 455M665 492L695 477" stroke="#5a3a2a" stroke-width="8" fill="none"/>') },
      { name: 'patch', weight: 1, svg: svg('<ellipse cx="604" cy="560" rx="84" ry="70" fill="#3a3a3a" opacity="0.55"/>') },
      { name: 'star', weight: 1, svg: svg('<path d="M512 440l12 26l28 3l-21 19l6 28l-25 -14l-25 14l6 -28l-21 -19l28 -3z" fill="#fff6b0"/>') },
    ],
  },
  {
    name: 'accessory',
    above: 'hat',
    options: [
      none(10),
      {
        name: 'bowtie',
        weight: 3,
        svg: svg('<path d="M512 860L430 820V900ZM512 860L594 820V900Z" fill="#d6336c"/><circle cx="512" cy="860" r="18" fill="#a61e4d"/>'),
      },
      {
        name: 'glasses',
        weight: 2,
        svg: svg(
          '<g fill="none" stroke="#222" stroke-width="10"><circle cx="420" cy="560" r="66"/><circle cx="604" cy="560" r="66"/><path d="M486 560H538M354 550L290 530M670 550L734 530"/></g>',
        ),
      },
      {
        name: 'monocle',
        weight: 1,
        svg: svg(
          '<circle cx="604" cy="560" r="66" fill="none" stroke="#c9a227" stroke-width="10"/><path d="M660 600Q700 700 650 800" stroke="#c9a227" stroke-width="4" fill="none"/>',
        ),
      },
      {
        name: 'scarf',
        weight: 2,
        svg: svg('<path d="M300 800Q512 880 724 800L730 850Q512 930 294 850Z" fill="#2f9e44"/><path d="M640 850L690 960L640 970L600 860Z" fill="#2b8a3e"/>'),
      },
      { name: 'earring', weight: 2, svg: svg('<circle cx="700" cy="450" r="18" fill="none" stroke="#fcc419" stroke-width="8"/>') },
      { name: 'flower', weight: 1, svg: svg(`<g fill="#f783ac">${petals(300, 360, 5)}</g><circle cx="300" cy="360" r="16" fill="#ffd43b"/>`) },
      {
        name: 'pipe',
        weight: 1,
        svg: svg('<path d="M560 700H660V740H600Z" fill="#6b4226"/><rect x="640" y="650" width="40" height="60" rx="8" fill="#6b4226"/>'),
      },
    ],
  },
];

function rays(count: number) {
  let d = '';
  for (let i = 0; i < count; i++) {
    const a = (i / count) * 2 * Math.PI;
    const b = a + Math.PI / count / 2;
    const point = (angle: number, r: number) => `${Math.round(512 + r * Math.cos(angle))} ${Math.round(600 + r * Math.sin(angle))}`;
    d += `M${point(a, 80)}L${point(a, 720)}L${point(b, 720)}z`;
  }
  return `<path d="${d}"/>`;
}

function petals(cx: number, cy: number, count: number) {
  let shapes = '';
  for (let i = 0; i < count; i++) {
    const a = (i / count) * 360;
    shapes += `<ellipse cx="${cx}" cy="${cy - 26}" rx="14" ry="26" transform="rotate(${a} ${cx} ${cy})"/>`;
  }
  return shapes;
}

/** Pairs never drawn together (each names a layer/option of the set). */
const exclusions: [string, string][] = [
  ['accessory/glasses', 'eyes/starry'],
  ['accessory/monocle', 'markings/patch'],
  ['accessory/flower', 'hat/leaf'],
];

interface CollectionJson {
  layers: { name: string; options: { name: string; file: string; weight: number }[]; blend?: string; opacity?: number }[];
  exclusions?: [string, string][];
  [key: string]: unknown;
}

const file = path.join(setDir, 'collection.json');
const collection = JSON.parse(fs.readFileSync(file, 'utf8')) as CollectionJson;
const generated = new Set(layers.map((l) => l.name));
const kept = collection.layers.filter((l) => !generated.has(l.name));
for (const layer of layers) {
  fs.rmSync(path.join(setDir, layer.name), { recursive: true, force: true });
  fs.mkdirSync(path.join(setDir, layer.name));
  for (const option of layer.options) fs.writeFileSync(path.join(setDir, layer.name, `${option.name}.svg`), option.svg);
  const at = kept.findIndex((l) => l.name === layer.above);
  if (at < 0) throw new Error(`layer "${layer.name}" goes above "${layer.above}", which the set does not have`);
  kept.splice(at + 1, 0, {
    name: layer.name,
    ...(layer.blend ? { blend: layer.blend } : {}),
    ...(layer.opacity !== undefined ? { opacity: layer.opacity } : {}),
    options: layer.options.map((o) => ({ name: o.name, file: `${layer.name}/${o.name}.svg`, weight: o.weight })),
  });
}
// Written as the project's prettier writes it, so `prettier --check` stays quiet.
const json = JSON.stringify({ ...collection, layers: kept, exclusions }, null, 2);
fs.writeFileSync(file, await prettier.format(json, { ...(await prettier.resolveConfig(file)), filepath: file }));
const combinations = kept.reduce((n, l) => n * l.options.length, 1);
const largest = Math.max(...layers.flatMap((l) => l.options.map((o) => Buffer.byteLength(o.svg))));
console.log(
  `critters: ${kept.length} layers (${kept.map((l) => l.name).join(', ')}), ${combinations} combinations before exclusions; largest new SVG ${largest} bytes`,
);
