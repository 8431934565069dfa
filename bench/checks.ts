/**
 * The draft checks, one at a time: `npm run bench:checks`.
 *
 * Runs `runChecks` (activities/checks.ts) on a 1024x1024 PNG (a rendered scene over noise, about the
 * size of a generated draft) with every check configured, BENCH_RUNS times (default 20, after 2
 * warm-up runs), and prints each check's median, fastest and slowest time as `runChecks` measured
 * it, then the perceptual hash (computed on every run, not a check of its own) and the whole call.
 * nearDuplicate compares with 1000 other hashes. Moderation goes through the real `openai` client to
 * the local stand-in server of the tests (test/support/openaiServer.ts), not to OpenAI: its time is
 * this machine's downscale, PNG encode and a local HTTP round trip, without the service's latency.
 * Needs no stack.
 */
import os from 'node:os';
import OpenAI from 'openai';
import sharp from 'sharp';
import { openaiModerator, perceptualHash, runChecks } from '../activities/checks.ts';
import type { OtherAsset } from '../activities/checks.ts';
import { checkNames, checksSchema } from '../common/checks.ts';
import type { CheckName } from '../common/checks.ts';
import { startImagesServer } from '../test/support/openaiServer.ts';
import { median, ms } from './stats.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARMUP = 2;
const OTHERS = 1000;
const SIZE = 1024;

/** A 1024 px scene over gaussian noise: a PNG about as costly to decode as a generated draft. */
async function draftImage(): Promise<Buffer> {
  const svg = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 512 512">
      <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#f4e3c1"/><stop offset="1" stop-color="#3a6ea5"/></linearGradient></defs>
      <rect width="512" height="512" fill="url(#g)" opacity="0.85"/>
      <circle cx="200" cy="220" r="120" fill="#c0392b" opacity="0.9"/><rect x="300" y="300" width="160" height="120" fill="#2c3e50"/>
      <circle cx="170" cy="190" r="25" fill="#fff"/></svg>`,
  );
  return sharp({ create: { width: SIZE, height: SIZE, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 24 } } })
    .composite([{ input: svg }])
    .png()
    .toBuffer();
}

/** Deterministic 64-bit hashes (an LCG), none of them near the draft's by construction of chance. */
function otherHashes(count: number): OtherAsset[] {
  let state = 0x2545f491;
  const next32 = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state.toString(16).padStart(8, '0');
  };
  return Array.from({ length: count }, (_, i) => ({ assetKey: `bench/${i}`, perceptualHash: next32() + next32() }));
}

async function main() {
  const image = await draftImage();
  const checks = checksSchema.parse({
    minSize: 1000,
    maxSize: 2048,
    aspectRatio: '1:1',
    maxBytes: 5_000_000,
    colorSpace: 'srgb',
    transparency: false,
    palette: { colors: ['#f4e3c1', '#3a6ea5', '#c0392b', '#2c3e50', '#ffffff', '#808080', '#000000', '#7f8c8d'] },
    nearDuplicate: {},
    moderation: true,
  });
  const server = await startImagesServer();
  try {
    const moderate = openaiModerator(new OpenAI({ apiKey: 'sk-bench', baseURL: server.baseURL }));
    const others = otherHashes(OTHERS);
    const times = new Map<CheckName, number[]>(checkNames.map((name) => [name, []]));
    const hashTimes: number[] = [];
    const totals: number[] = [];
    let last;
    for (let run = 0; run < WARMUP + RUNS; run++) {
      const hashStart = performance.now();
      await perceptualHash(image);
      const hashMs = performance.now() - hashStart;
      const start = performance.now();
      last = await runChecks(image, checks, { others, moderate });
      const total = performance.now() - start;
      if (run < WARMUP) continue;
      hashTimes.push(hashMs);
      totals.push(total);
      for (const result of [...last.passed, ...last.failed]) times.get(result.check)!.push(result.ms);
    }

    const labels: Partial<Record<CheckName, string>> = {
      nearDuplicate: `nearDuplicate (${OTHERS} others)`,
      moderation: 'moderation (local stand-in server)',
    };
    const rows: [string, number[]][] = [
      ...checkNames.map((name): [string, number[]] => [labels[name] ?? name, times.get(name)!]),
      ['perceptualHash (every run)', hashTimes],
      ['runChecks, all of the above', totals],
    ];
    const width = Math.max(...rows.map(([label]) => label.length));
    console.log(
      `draft: ${SIZE}x${SIZE} PNG, ${(image.byteLength / 1e6).toFixed(2)} MB; ${RUNS} runs after ${WARMUP} warm-up; ${os.cpus().length} CPUs, sharp ${sharp.versions.sharp}`,
    );
    console.log(`${'check'.padEnd(width)} | median ms |   min ms |   max ms`);
    console.log(`${'-'.repeat(width)}-|-----------|----------|---------`);
    for (const [label, values] of rows) {
      console.log(`${label.padEnd(width)} |  ${ms(median(values))} | ${ms(Math.min(...values))} | ${ms(Math.max(...values))}`);
    }
    console.log(`\nlast outcome: ${last!.failed.length} failed (${last!.failed.map((r) => `${r.check}: ${r.detail}`).join('; ') || 'none'})`);
    console.log(`passed: ${last!.passed.map((r) => `${r.check}: ${r.detail}`).join('; ')}`);
  } finally {
    await server.close();
  }
}

await main();
