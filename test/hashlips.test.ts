// Importing a HashLips layers folder (`<Layer>/<Trait>#<weight>.png`) as a layer set: what it
// writes, that a draft composes from it, and each refusal's message.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeTraits } from '../activities/generate.ts';
import { LayerCache } from '../activities/layerCache.ts';
import { importHashLips } from '../client/hashlips.ts';
import { loadLayerSet, resolveTraits, traitStructureOf } from '../common/layerSet.ts';

const SIZE = 128;
let work: string;
let sets: string;

/** A PNG: a full square of `colour`, or a small centred square on transparency. */
const png = (colour: { r: number; g: number; b: number }, full = false) =>
  full
    ? sharp({ create: { width: SIZE, height: SIZE, channels: 4, background: { ...colour, alpha: 1 } } })
        .png()
        .toBuffer()
    : sharp({ create: { width: SIZE, height: SIZE, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
        .composite([{ input: { create: { width: 32, height: 32, channels: 4, background: { ...colour, alpha: 1 } } }, left: 48, top: 48 }])
        .png()
        .toBuffer();

/** A HashLips layers folder under `work`: files by `<Layer>/<file>`. */
function hashLipsFolder(name: string, files: Record<string, Buffer | string>): string {
  const dir = path.join(work, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

let good: Record<string, Buffer | string>;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-hashlips-'));
  sets = path.join(work, 'sets');
  fs.mkdirSync(sets);
  good = {
    'Background/Sky#60.png': await png({ r: 120, g: 180, b: 240 }, true),
    'Background/Sand#40.png': await png({ r: 230, g: 200, b: 140 }, true),
    'Eyes/Blue#70.png': await png({ r: 0, g: 0, b: 255 }),
    'Eyes/Green#25.5.png': await png({ r: 0, g: 255, b: 0 }),
    'Eyes/Red.png': await png({ r: 255, g: 0, b: 0 }),
    'Hat/Cap#3.svg': `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}"><rect x="40" y="8" width="48" height="20" fill="#222"/></svg>`,
    'Hat/None#7.svg': `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}"></svg>`,
    'Eyes/.DS_Store': 'finder litter is skipped',
  };
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('importHashLips', () => {
  it('imports a HashLips folder: files copied, weights in collection.json, and a draft composes from it', async () => {
    const from = hashLipsFolder('layers', good);
    const result = await importHashLips({ from, name: 'imported', order: ['Background', 'Eyes', { name: 'Hat', opacity: 0.5 }], into: sets });
    expect(result).toEqual({ dir: path.join(sets, 'imported'), layers: 3, options: 7, combinations: 2 * 3 * 2 });
    const json = JSON.parse(fs.readFileSync(path.join(sets, 'imported', 'collection.json'), 'utf8'));
    expect(json.size).toBe(SIZE);
    expect(json.layers).toEqual([
      {
        name: 'Background',
        options: [
          { name: 'Sand', file: 'Background/Sand#40.png', weight: 40 },
          { name: 'Sky', file: 'Background/Sky#60.png', weight: 60 },
        ],
      },
      {
        name: 'Eyes',
        options: [
          { name: 'Blue', file: 'Eyes/Blue#70.png', weight: 70 },
          { name: 'Green', file: 'Eyes/Green#25.5.png', weight: 25.5 },
          { name: 'Red', file: 'Eyes/Red.png', weight: 1 },
        ],
      },
      {
        name: 'Hat',
        opacity: 0.5,
        options: [
          { name: 'Cap', file: 'Hat/Cap#3.svg', weight: 3 },
          { name: 'None', file: 'Hat/None#7.svg', weight: 7 },
        ],
      },
    ]);
    expect(fs.readFileSync(path.join(sets, 'imported', 'Eyes', 'Blue#70.png')).equals(good['Eyes/Blue#70.png'] as Buffer)).toBe(true);
    expect(fs.existsSync(path.join(sets, 'imported', 'Eyes', '.DS_Store'))).toBe(false);
    // Nothing but the set is left in the sets folder (no staging folder).
    expect(fs.readdirSync(sets)).toEqual(['imported']);

    const set = loadLayerSet('imported', sets);
    expect(traitStructureOf(set).layers[1]).toEqual({
      name: 'Eyes',
      options: [
        { name: 'Blue', weight: 70 },
        { name: 'Green', weight: 25.5 },
        { name: 'Red', weight: 1 },
      ],
    });
    const traits = resolveTraits(set, { Background: 'Sky', Eyes: 'Blue' }, 1);
    const draft = await composeTraits(set, 'imported', traits, new LayerCache(64 * 1024 * 1024));
    const { data, info } = await sharp(draft).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([SIZE, SIZE]);
    const at = (x: number, y: number) => [...data.subarray((y * SIZE + x) * info.channels, (y * SIZE + x) * info.channels + 3)];
    expect(at(64, 64)).toEqual([0, 0, 255]);
    expect(at(4, 100)).toEqual([120, 180, 240]);
  });

  it('takes HashLips per-layer options (blend by canvas name, opacity, displayName) and a given size', async () => {
    const from = hashLipsFolder('layers-options', good);
    await importHashLips({
      from,
      name: 'imported-options',
      order: [{ name: 'Background', blend: 'source-over' }, { name: 'Eyes', blend: 'multiply', displayName: 'eye colour' }, 'Hat'],
      size: 256,
      into: sets,
    });
    const set = loadLayerSet('imported-options', sets);
    expect(set.size).toBe(256);
    expect(set.layers.map((l) => [l.name, l.blend, l.opacity])).toEqual([
      ['Background', 'over', 1],
      ['eye colour', 'multiply', 1],
      ['Hat', 'over', 1],
    ]);
    await expect(importHashLips({ from, name: 'imported-bad-blend', order: [{ name: 'Eyes', blend: 'xor' }], into: sets })).rejects.toThrow(
      /layer "Eyes": blend "xor" is not one of over, multiply/,
    );
  });

  it('refuses a target that exists, unless told to overwrite it', async () => {
    const from = hashLipsFolder('layers-again', good);
    await importHashLips({ from, name: 'twice', order: ['Background', 'Eyes'], into: sets });
    await expect(importHashLips({ from, name: 'twice', order: ['Background', 'Eyes', 'Hat'], into: sets })).rejects.toThrow(
      /layer set "twice" already exists at .*twice; pass overwrite to replace it/,
    );
    expect(loadLayerSet('twice', sets).layers).toHaveLength(2);
    const replaced = await importHashLips({ from, name: 'twice', order: ['Background', 'Eyes', 'Hat'], into: sets, overwrite: true });
    expect(replaced.layers).toBe(3);
    expect(loadLayerSet('twice', sets).layers).toHaveLength(3);
  });

  it('names each problem of the source folder or the name', async () => {
    const cases: [string, Record<string, Buffer | string>, string[], RegExp, string?][] = [
      ['missing layer', good, ['Background', 'Mouth'], /layer folder "Mouth" not found in .* \(folders: Background, Eyes, Hat\)/],
      ['empty layer', { ...good, 'Mouth/.keep': '' }, ['Background', 'Mouth'], /layer folder "Mouth" holds no images/],
      ['weight zero', { ...good, 'Eyes/Grey#0.png': good['Eyes/Red.png']! }, ['Eyes'], /Eyes\/Grey#0\.png has a bad weight "#0": expected a number above 0/],
      ['weight not a number', { ...good, 'Eyes/Grey#abc.png': good['Eyes/Red.png']! }, ['Eyes'], /Eyes\/Grey#abc\.png has a bad weight "#abc"/],
      [
        'duplicate trait',
        { ...good, 'Eyes/Blue#30.png': good['Eyes/Red.png']! },
        ['Eyes'],
        /layer "Eyes" has the trait "Blue" twice: Blue#30\.png and Blue#70\.png/,
      ],
      ['same trait, two types', { ...good, 'Hat/Cap.png': good['Eyes/Red.png']! }, ['Hat'], /layer "Hat" has the trait "Cap" twice/],
      ['not an image type', { ...good, 'Eyes/notes.txt': 'hello' }, ['Eyes'], /Eyes\/notes\.txt is not a layer image/],
      ['not the type it says', { ...good, 'Eyes/Fake.png': 'hello' }, ['Eyes'], /Eyes\/Fake\.png is not an image/],
      ['bad set name', good, ['Eyes'], /"Bad Name" is not a valid layer set folder name/, 'Bad Name'],
      ['set name with a path', good, ['Eyes'], /"\.\.\/escape" is not a valid layer set folder name/, '../escape'],
      ['no order', good, [], /order names no layers/],
    ];
    for (const [what, files, order, message, name] of cases) {
      const from = hashLipsFolder(`bad-${what.replace(/\W+/g, '-')}`, files);
      await expect(importHashLips({ from, name: name ?? 'bad', order, into: sets }), what).rejects.toThrow(message);
      expect(fs.existsSync(path.join(sets, 'bad')), what).toBe(false);
    }
    await expect(importHashLips({ from: path.join(work, 'nowhere'), name: 'bad', order: ['Eyes'], into: sets })).rejects.toThrow(
      /does not exist or is not a folder/,
    );
    // Nothing half written was left behind.
    expect(fs.readdirSync(sets).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});
