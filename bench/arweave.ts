/**
 * What the permanent copies on Arweave cost the format step: `npm run bench:arweave`.
 *
 * Runs `formatAsset` (activities/format.ts) two ways, interleaved A B A B ... in one invocation (the
 * machine is shared and noisy: both variants see the same moments of load):
 *
 *   A: createFormatActivities({ kubo, avif: false }): renditions and metadata into Kubo, no Arweave;
 *   B: the worker's own formatAsset, from createWorkerActivities(config) with ATELIER_ARWEAVE_URL set
 *      (workers/dependencies.ts builds the ArweaveArchive from config.arweave and the wallet file, as a
 *      worker does) and ATELIER_AVIF=false: the same work, plus one upload for every rendition and one
 *      for the metadata, each signed, posted and mined on arlocal.
 *
 * Every run gets a fresh draft: a 1024 px PNG scene whose circles are placed by a random seed, added to
 * Kubo with addContent (untimed), so B never finds an existing copy and really uploads. Each call runs
 * in a MockActivityEnvironment of its own (@temporalio/testing). BENCH_RUNS (default 10) runs of each
 * after one warm-up pair, then one more B run on the last B draft: its copies exist, so it only looks
 * them up (GraphQL) and uploads nothing. Prints each variant's median, fastest and slowest time, the
 * transactions B posted (from its heartbeat details, checked against the gateway's block height: the
 * local gateway mines one block per upload), and last the ratio of the medians B/A.
 *
 * Needs Kubo and arlocal only, on the test stack's ports of ATELIER_TEST_SLOT (default 6;
 * test/support/env.ts) and its data folder: starts whichever of the two is not running and stops what
 * it started at the end, also on Ctrl-C. Exits 1 if a fresh B run did not upload every content or the
 * lookup run uploaded anything.
 */
import { randomInt } from 'node:crypto';
import os from 'node:os';
import { MockActivityEnvironment } from '@temporalio/testing';
import { create as createKubo } from 'kubo-rpc-client';
import type { KuboRPCClient } from 'kubo-rpc-client';
import sharp from 'sharp';
import type { ArchiveProgress } from '../activities/arweave.ts';
import { createFormatActivities } from '../activities/format.ts';
import type { FormatInput } from '../activities/format.ts';
import { addContent } from '../activities/kubo.ts';
import type { AssetSpec, ContentRef, Draft, FormattedAsset, RenditionName } from '../common/asset.ts';
import { workflowIdOf } from '../common/asset.ts';
import { loadConfig } from '../common/config.ts';
import type { ServiceName } from '../scripts/lib/stack.ts';
import { Stack } from '../scripts/lib/stack.ts';
import { createWorkerActivities } from '../workers/dependencies.ts';
import { median, ms } from './stats.ts';

// The test stack's ports and data folder, on a slot of the bench's own unless the caller picks one.
process.env.ATELIER_TEST_SLOT ??= '6';
const { testEnv } = await import('../test/support/env.ts');

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`BENCH_RUNS expects a whole number of at least 1, got "${process.env.BENCH_RUNS}"`);
const WARMUP = 1;
const SIZE = 1024;
const RENDITIONS: RenditionName[] = ['original', 'webp-512', 'thumb-256'];
const SERVICES: ServiceName[] = ['kubo', 'arweave'];
const COLLECTION = 'bench-arweave';
/** Anvil's second well-known account: only written into the metadata (nothing is minted). */
const RECIPIENT = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

const log = (line: string) => console.log(`[arweave] ${line}`);

/** The caller's environment without any ATELIER_* setting, with the test stack's and the bench's. */
const config = loadConfig({
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ATELIER_'))),
  ...testEnv,
  ATELIER_AVIF: 'false',
  // The worker's wiring builds the mint activities too, and they want a contract; formatAsset never touches the chain.
  ATELIER_CONTRACT_ADDRESS: '0x0000000000000000000000000000000000000000',
});

type FormatAsset = (input: FormatInput) => Promise<FormattedAsset>;

interface Timed {
  ms: number;
  result: FormattedAsset;
  /** Transactions this call posted to Arweave (its heartbeat details record each before posting). */
  posted: number;
}

/** One call in an activity Context of its own, timed; `posted` read from its last heartbeat. */
async function timedFormat(formatAsset: FormatAsset, input: FormatInput): Promise<Timed> {
  const env = new MockActivityEnvironment({ activityType: 'formatAsset', heartbeatTimeoutMs: 30_000, startToCloseTimeoutMs: 300_000 });
  let details: Partial<ArchiveProgress> | undefined;
  env.on('heartbeat', (d: Partial<ArchiveProgress> | undefined) => (details = d));
  const start = performance.now();
  const result = await env.run<[FormatInput], FormattedAsset, FormatAsset>(formatAsset, input);
  const ms = performance.now() - start;
  return { ms, result, posted: Object.keys(details?.posted ?? {}).length };
}

/** A 1024 px scene with 40 circles placed by `seed`: different bytes on every run. */
async function sceneImage(seed: number): Promise<Buffer> {
  let state = seed >>> 0;
  const next = (max: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % max;
  };
  const circles = Array.from(
    { length: 40 },
    () => `<circle cx="${next(SIZE)}" cy="${next(SIZE)}" r="${8 + next(90)}" fill="#${next(0xffffff).toString(16).padStart(6, '0')}" opacity="0.8"/>`,
  ).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#f4e3c1"/><stop offset="1" stop-color="#3a6ea5"/></linearGradient></defs>
    <rect width="${SIZE}" height="${SIZE}" fill="url(#g)"/>${circles}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** A fresh draft in Kubo and the input formatAsset gets for it (an auto-approved asset). */
async function freshInput(kubo: KuboRPCClient, assetKey: string): Promise<FormatInput> {
  const seed = randomInt(2 ** 31);
  const bytes = await sceneImage(seed);
  const ref: ContentRef = await new MockActivityEnvironment().run(() => addContent(kubo, bytes, { pin: false }));
  const draft: Draft = { ...ref, width: SIZE, height: SIZE, inputs: { seed } };
  const spec: AssetSpec = {
    collectionId: COLLECTION,
    assetKey,
    name: `Bench scene ${assetKey}`,
    description: 'made by bench:arweave',
    attributes: [],
    generator: { kind: 'openai', prompt: 'circles over a gradient', seed },
    renditions: RENDITIONS,
    recipient: RECIPIENT,
    approval: { policy: 'auto' },
  };
  const workflowId = workflowIdOf(COLLECTION, assetKey);
  return { spec, draft, workflowId, approval: { by: 'policy:auto', via: 'policy', round: 1, at: new Date().toISOString() } };
}

async function gatewayHeight(): Promise<number> {
  const response = await fetch(`${config.arweave!.url}/info`, { signal: AbortSignal.timeout(10_000) });
  return ((await response.json()) as { height: number }).height;
}

/** Bytes B uploads for one asset: every rendition and the metadata. */
const uploadedBytes = (r: FormattedAsset) => r.renditions.reduce((sum, x) => sum + x.bytes, r.metadata.bytes);

interface Runs {
  a: Timed[];
  b: Timed[];
  /** B's calls of the warm-up pair: they post too. */
  warmupB: Timed[];
  lookup: Timed;
  lastBInput: FormatInput;
}

/** A B A B ...: WARMUP pairs untimed, RUNS pairs timed, then B once more on the last B draft. */
async function interleaved(stack: Stack, kubo: KuboRPCClient, formatA: FormatAsset, formatB: FormatAsset): Promise<Runs> {
  const tag = Date.now().toString(36);
  const a: Timed[] = [];
  const b: Timed[] = [];
  const warmupB: Timed[] = [];
  let lastBInput: FormatInput | undefined;
  for (let run = 0; run < WARMUP + RUNS; run++) {
    const timedA = await timedFormat(formatA, await freshInput(kubo, `${tag}-${run}-a`));
    // Kept funded outside the timing (arlocal charges by the byte; the stack tops the dev wallet up when low).
    await stack.ensureArweaveWallet();
    lastBInput = await freshInput(kubo, `${tag}-${run}-b`);
    const timedB = await timedFormat(formatB, lastBInput);
    if (run < WARMUP) {
      warmupB.push(timedB);
      continue;
    }
    a.push(timedA);
    b.push(timedB);
    log(`run ${run - WARMUP + 1}/${RUNS}: A ${timedA.ms.toFixed(1)} ms, B ${timedB.ms.toFixed(1)} ms (${timedB.posted} posted)`);
  }
  const lookup = await timedFormat(formatB, lastBInput!);
  return { a, b, warmupB, lookup, lastBInput: lastBInput! };
}

/** Prints the figures; false when B did not upload what it should have (or the lookup run uploaded). */
function report(runs: Runs, heightDelta: number): boolean {
  const { a, b, warmupB, lookup } = runs;
  const perAsset = RENDITIONS.length + 1;
  const freshB = [...warmupB, ...b];
  const posted = freshB.reduce((sum, t) => sum + t.posted, 0) + lookup.posted;
  const short = freshB.filter((t) => t.posted !== perAsset || t.result.arweave?.renditions.length !== RENDITIONS.length);
  const sameCopies = JSON.stringify(lookup.result.arweave) === JSON.stringify(b.at(-1)!.result.arweave);
  const draftKb = freshB.map((t) => t.result.renditions.find((r) => r.name === 'original')!.bytes / 1024);
  const uploadKb = median(freshB.map((t) => uploadedBytes(t.result) / 1024));
  console.log(
    `\ndraft: ${SIZE}x${SIZE} PNG, ${Math.min(...draftKb).toFixed(0)}-${Math.max(...draftKb).toFixed(0)} KB, fresh bytes every run; renditions ${RENDITIONS.join(', ')} ` +
      `(B uploads ${perAsset} contents, median ${uploadKb.toFixed(0)} KB an asset); ${RUNS} runs of each after ${WARMUP} warm-up pair, interleaved A B; ` +
      `${os.cpus().length} CPUs, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  const rows: [string, number[]][] = [
    ['A formatAsset, no Arweave', a.map((t) => t.ms)],
    [`B formatAsset + Arweave copies (${perAsset} uploads)`, b.map((t) => t.ms)],
    ['B again on the last B draft (lookup only)', [lookup.ms]],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`${'variant'.padEnd(width)} | median ms |   min ms |   max ms`);
  console.log(`${'-'.repeat(width)}-|-----------|----------|---------`);
  for (const [label, values] of rows) {
    console.log(`${label.padEnd(width)} |  ${ms(median(values))} | ${ms(Math.min(...values))} | ${ms(Math.max(...values))}`);
  }
  console.log(
    `\nArweave transactions posted: ${posted} (${freshB.length} fresh B runs, warm-up included: ${freshB.map((t) => t.posted).join(' ')}; lookup run ${lookup.posted}); ` +
      `gateway height +${heightDelta} (one block mined per upload)`,
  );
  if (short.length) console.log(`CHECK FAILED: ${short.length} fresh B runs did not post ${perAsset} transactions`);
  if (lookup.posted !== 0 || !sameCopies)
    console.log(`CHECK FAILED: the lookup run posted ${lookup.posted} and ${sameCopies ? 'returned' : 'did NOT return'} the earlier copies`);
  if (heightDelta !== posted) console.log(`CHECK FAILED: ${posted} posted, but the gateway's height moved by ${heightDelta}`);
  const ratio = median(b.map((t) => t.ms)) / median(a.map((t) => t.ms));
  console.log(
    `formatAsset with Arweave copies: median ${median(b.map((t) => t.ms)).toFixed(1)} ms vs ${median(a.map((t) => t.ms)).toFixed(1)} ms without (ratio ${ratio.toFixed(2)}), ` +
      `lookup only ${lookup.ms.toFixed(1)} ms`,
  );
  return short.length === 0 && lookup.posted === 0 && sameCopies && heightDelta === posted;
}

async function main(): Promise<number> {
  const stack = new Stack(config);
  const started: ServiceName[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      // Only what this bench started, last first; a stack that was up before stays up.
      for (const name of [...started].reverse()) {
        await stack.stop(name).then(
          (stopped) => stopped && log(`${name} stopped`),
          (error: Error) => log(`teardown of ${name}: ${error.message}`),
        );
      }
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping what the bench started`);
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let close = () => {};
  try {
    for (const name of SERVICES) {
      // Recorded before starting: a service that starts but never answers is stopped too.
      if (!stack.running(name)) started.push(name);
      await stack.start(name, log);
    }
    const kubo = createKubo({ url: config.ATELIER_KUBO_API_URL });
    const formatA = createFormatActivities({ kubo, avif: false }).formatAsset;
    const worker = createWorkerActivities(config);
    close = worker.close;
    const heightBefore = await gatewayHeight();
    const runs = await interleaved(stack, kubo, formatA, worker.activities.formatAsset);
    return report(runs, (await gatewayHeight()) - heightBefore) ? 0 : 1;
  } finally {
    close();
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
