/**
 * What Temporal costs a whole collection: `npm run bench:pipeline [-- --count 1000] [--concurrency 8] [--cap-min 60] [--seed n] [--skip-bare]`.
 *
 * Brings up its own stack (Temporal dev server, Kubo, Anvil) on ports of its own (23233, 24233-24235,
 * 23001, 24080, 24545; data in .data/bench-pipeline, reset first), deploys the contract, and runs the
 * same per-asset work twice in one invocation, one after the other (never side by side: the machine
 * may have 2 cores):
 *
 *   (b) bare script: a child process (this file again, with `--bare`) builds the worker's activities
 *       with createWorkerActivities(config) and, --concurrency assets at a time, calls generateDraft,
 *       formatAsset (with the `policy:auto` approval record the workflow makes), pinAsset and the
 *       direct mint mintAsset for each asset, each call inside a fresh MockActivityEnvironment from
 *       @temporalio/testing (the activities heartbeat and read their Context). No Temporal at all.
 *       Its assets are those of the collection below (the same DNA, traits and renditions, through
 *       planCollection, traitsOfDna and assetSpecOf), in collection `pipeline-bare`, to another recipient.
 *   (a) Atelier: the collection `pipeline-atelier` (layer set critters, auto approval, renditions
 *       original, webp-512 and thumb-256, window --concurrency) through collectionRun, with one real
 *       worker process (workers/main.ts through `node --import tsx`, ATELIER_WORKER_MAX_ACTIVITIES =
 *       --concurrency, ATELIER_MINT_BATCH_SIZE=100, ATELIER_MINT_BATCH_WAIT_MS=500) on a task queue of
 *       its own, timed from the start to the progress phase `completed`.
 *
 * Each child's memory is read from /proc/<pid>/status: VmRSS sampled every 500 ms, and VmHWM read once
 * its work is done (before it exits); the peak is the larger. The bench process itself is not counted.
 *
 * Prints progress every 10 s, then per-asset times, where (a)'s time went (until publication, the
 * publication itself, the mint phase; then, from the histories read after the timing, each activity
 * type's and workflow tasks' mean queue wait and run) and the bare script's time per activity, and last:
 * `pipeline <count> assets: <s> s, bare script <s> s (ratio <r>), worker peak RSS <n> MiB`.
 * `--skip-bare` runs (a) only (the 10,000-asset run is compared per asset with the 1,000-asset one);
 * ATELIER_WORKER_MAX_CACHED_WORKFLOWS, if set, reaches the worker.
 * Exits 1 unless (a) ends `completed` with counts.minted = report.minted = count, and the bare script
 * minted every asset once. `--cap-min` caps the whole invocation. Tears everything down at the end,
 * also on Ctrl-C and on failure.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { tsToMs } from '@temporalio/common/lib/time.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import { AtelierClient } from '../client/atelier.ts';
import { CollectionClient, planCollection } from '../client/collection.ts';
import type { AssetSpec, MintReceipt } from '../common/asset.ts';
import { workflowIdOf } from '../common/asset.ts';
import type { CollectionPhase, CollectionProgress } from '../common/collection.ts';
import { assetSpecOf } from '../common/collectionSpec.ts';
import { ANVIL_DEV_KEY, loadConfig, projectRoot } from '../common/config.ts';
import type { Config } from '../common/config.ts';
import type { DecisionRecord } from '../common/decision.ts';
import { traitsOfDna } from '../common/dna.ts';
import { ensureDeployment } from '../scripts/lib/deploy.ts';
import { prebuiltBundle, writePrebuiltBundle } from '../workers/prebuiltBundle.ts';
import { bundleAtelierWorkflows } from '../workers/worker.ts';
import { Stack } from '../scripts/lib/stack.ts';
import { createWorkerActivities } from '../workers/dependencies.ts';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    'cap-min': { type: 'string', default: '60' },
    seed: { type: 'string', default: '20240' },
    // The bare script's child process (internal).
    bare: { type: 'boolean', default: false },
    // Only the Atelier run (the 10,000-asset run is compared per asset with the 1,000-asset one).
    'skip-bare': { type: 'boolean', default: false },
    collection: { type: 'string' },
    recipient: { type: 'string' },
  },
});
const whole = (name: string, raw: string | undefined, min: number, max: number) => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`--${name} expects a whole number from ${min} to ${max}, got "${raw}"`);
    process.exit(2);
  }
  return value;
};
const COUNT = whole('count', args.count, 1, 20_000);
const CONCURRENCY = whole('concurrency', args.concurrency, 1, 256);
const CAP_MS = whole('cap-min', args['cap-min'], 1, 600) * 60_000;
const SEED = whole('seed', args.seed, 0, 2 ** 31 - 1);

const RENDITIONS = ['original', 'webp-512', 'thumb-256'] as const;
const ATELIER_ID = 'pipeline-atelier';
const BARE_ID = 'pipeline-bare';
/** Anvil's second and third well-known accounts: one receives (a), the other (b). */
const ATELIER_RECIPIENT = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const BARE_RECIPIENT = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const TASK_QUEUE = 'bench-pipeline';
const PROGRESS_EVERY_MS = 10_000;
const SAMPLE_EVERY_MS = 500;

const began = Date.now();
const capAt = began + CAP_MS;
const capReached = () => Date.now() > capAt;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => console.log(`[pipeline] ${line}`);
const seconds = (ms: number) => (ms / 1000).toFixed(1);
const mib = (kib: number) => Math.round(kib / 1024);

const env: Record<string, string> = {
  ATELIER_DATA_DIR: '.data/bench-pipeline',
  ATELIER_TEMPORAL_ADDRESS: '127.0.0.1:23233',
  ATELIER_TEMPORAL_UI_PORT: '24233',
  ATELIER_KUBO_API_URL: 'http://127.0.0.1:23001',
  ATELIER_KUBO_GATEWAY_URL: 'http://127.0.0.1:24080',
  ATELIER_ETH_RPC_URL: 'http://127.0.0.1:24545',
  // Nothing from the caller's environment may point the bench anywhere else, or change the work (see childEnv).
  ATELIER_TEMPORAL_NAMESPACE: 'default',
  ATELIER_CONTRACT_ADDRESS: '',
  ATELIER_CONFIRMATIONS: '1',
  ATELIER_AVIF: 'false',
  ATELIER_LAYER_SETS_DIR: 'samples/collections',
  ATELIER_SLACK_BOT_TOKEN: '',
  ATELIER_SLACK_APP_PUBLIC_KEY: '',
  ATELIER_OPENAI_API_KEY: '',
  // The deployer: admin (publication sets contractURI) and minter.
  ATELIER_SIGNER_KEY: ANVIL_DEV_KEY,
};
/** The caller's environment without any ATELIER_* setting (defaults for the rest), with the bench's. */
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ATELIER_'))),
  ...env,
  ...extra,
});

/** The collection both runs make (the bare script under another id and recipient: other asset ids, the same DNA). */
function collectionSpec(id: string, recipient: string) {
  return {
    id,
    name: 'Bench Critters',
    description: 'made by bench:pipeline',
    size: COUNT,
    seed: SEED,
    generator: { kind: 'layers', layerSet: 'critters' },
    renditions: [...RENDITIONS],
    recipient,
    approval: { mode: 'auto' },
    concurrency: CONCURRENCY,
  };
}

// ---------------------------------------------------------------------------------------------
// Memory of a child process, from /proc.

function statusOf(pid: number): { rssKib?: number; hwmKib?: number } {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    return { rssKib: field('VmRSS'), hwmKib: field('VmHWM') };
  } catch {
    return {};
  }
}

class MemorySampler {
  maxRssKib = 0;
  hwmKib = 0;
  samples = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), SAMPLE_EVERY_MS);
    this.sample();
  }
  private sample() {
    const { rssKib } = statusOf(this.pid);
    if (rssKib !== undefined) {
      this.samples++;
      this.maxRssKib = Math.max(this.maxRssKib, rssKib);
    }
  }
  /** Reads VmHWM once more and stops sampling; call while the process is still alive. */
  finish() {
    this.sample();
    clearInterval(this.timer);
    const { hwmKib } = statusOf(this.pid);
    if (hwmKib !== undefined) this.hwmKib = hwmKib;
  }
  get peakKib() {
    return Math.max(this.maxRssKib, this.hwmKib);
  }
}

function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

// ---------------------------------------------------------------------------------------------
// (b) The bare script, in its own process: `--bare`.

interface StepTimes {
  generateDraft: number;
  formatAsset: number;
  pinAsset: number;
  mintAsset: number;
}
interface BareResult {
  wallMs: number;
  done: number;
  failed: number;
  errors: string[];
  tokens: string[];
  /** Summed over every asset (they overlap: --concurrency at a time). */
  stepMs: StepTimes;
}

async function bareMain(): Promise<void> {
  const collectionId = args.collection ?? BARE_ID;
  const recipient = args.recipient ?? BARE_RECIPIENT;
  const config = loadConfig();
  const { activities, close } = createWorkerActivities(config);
  const plan = planCollection(collectionSpec(collectionId, recipient));
  const specs: AssetSpec[] = plan.dna.map((dna, index) => assetSpecOf(plan.spec, index, traitsOfDna(plan.structure, dna)));

  /** Each call in an activity Context of its own (one Context per run: heartbeatWhile keys its nesting on it). */
  const call = <A, R>(activityType: string, fn: (input: A) => Promise<R>, input: A): Promise<R> =>
    new MockActivityEnvironment({ activityType, heartbeatTimeoutMs: 30_000, startToCloseTimeoutMs: 300_000 }).run(fn, input);
  const stepMs: StepTimes = { generateDraft: 0, formatAsset: 0, pinAsset: 0, mintAsset: 0 };
  const timed = async <R>(step: keyof StepTimes, work: () => Promise<R>): Promise<R> => {
    const t = performance.now();
    try {
      return await work();
    } finally {
      stepMs[step] += performance.now() - t;
    }
  };

  async function oneAsset(spec: AssetSpec): Promise<MintReceipt> {
    const draft = await timed('generateDraft', () => call('generateDraft', activities.generateDraft, { spec, round: 1, feedback: [] }));
    // What assetLifecycle records for an auto-approved draft.
    const approval: DecisionRecord = { kind: 'approve', by: 'policy:auto', via: 'policy', round: 1, draftCid: draft.cid, at: new Date().toISOString() };
    const workflowId = workflowIdOf(spec.collectionId, spec.assetKey);
    const formatted = await timed('formatAsset', () => call('formatAsset', activities.formatAsset, { spec, draft, approval, workflowId }));
    await timed('pinAsset', () => call('pinAsset', activities.pinAsset, { contents: [...formatted.renditions, formatted.metadata] }));
    return timed('mintAsset', () =>
      call('mintAsset', activities.mintAsset, {
        collectionId: spec.collectionId,
        assetKey: spec.assetKey,
        recipient: spec.recipient,
        metadataCid: formatted.metadata.cid,
      }),
    );
  }

  const t0 = performance.now();
  let next = 0;
  let done = 0;
  let failed = 0;
  const errors: string[] = [];
  const tokens: string[] = [];
  const ticker = setInterval(() => console.log(`@progress ${done} ${failed} ${specs.length}`), PROGRESS_EVERY_MS);
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, specs.length) }, async () => {
      while (next < specs.length) {
        const spec = specs[next++]!;
        try {
          const receipt = await oneAsset(spec);
          tokens.push(receipt.tokenId);
          done++;
        } catch (error) {
          failed++;
          if (errors.length < 10) errors.push(`#${spec.assetKey}: ${(error as Error).message}`);
        }
      }
    }),
  );
  const wallMs = performance.now() - t0;
  clearInterval(ticker);
  const result: BareResult = { wallMs, done, failed, errors, tokens, stepMs };
  console.log(`@result ${JSON.stringify(result)}`);
  // The parent reads this process's VmHWM now, then closes stdin: only then does it exit.
  await new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
    process.stdin.resume();
  });
  close();
  process.exit(0);
}

/** Runs the bare script as a child process; undefined when it did not finish (the cap, a crash). */
async function runBare(logFile: string, track: (child: ChildProcess | undefined) => void): Promise<{ result?: BareResult; memory: MemorySampler }> {
  const out = fs.createWriteStream(logFile, { flags: 'a' });
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(projectRoot, 'bench', 'pipeline.ts'),
      '--bare',
      '--count',
      String(COUNT),
      '--concurrency',
      String(CONCURRENCY),
      '--seed',
      String(SEED),
      '--collection',
      BARE_ID,
      '--recipient',
      BARE_RECIPIENT,
    ],
    { cwd: projectRoot, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] },
  );
  track(child);
  const memory = new MemorySampler(child.pid!);
  const t0 = Date.now();
  child.stderr!.pipe(out, { end: false });
  let result: BareResult | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const gotResult = new Promise<void>((resolve) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('@progress ')) {
        const [done, failed, total] = line.split(' ').slice(1).map(Number);
        log(`[+${seconds(Date.now() - t0).padStart(6)} s] bare: ${done}/${total} minted${failed ? `, ${failed} failed` : ''}`);
      } else if (line.startsWith('@result ')) {
        result = JSON.parse(line.slice('@result '.length)) as BareResult;
        resolve();
      } else out.write(line + '\n');
    });
    void exited.then(() => resolve());
  });
  const cap = setInterval(() => {
    if (capReached()) {
      log('CAP REACHED during the bare script: stopping it');
      child.kill('SIGKILL');
    }
  }, 1_000);
  await gotResult;
  clearInterval(cap);
  memory.finish();
  child.stdin!.end();
  await Promise.race([exited, sleep(15_000)]);
  await stopChild(child, 'SIGKILL');
  track(undefined);
  out.end();
  return { result, memory };
}

// ---------------------------------------------------------------------------------------------
// (a) Atelier: the collection through collectionRun, with one real worker process.

async function startWorker(logFile: string): Promise<ChildProcess> {
  const out = fs.createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'workers', 'main.ts')], {
    cwd: projectRoot,
    env: childEnv({
      ATELIER_TASK_QUEUE: TASK_QUEUE,
      ATELIER_WORKER_MAX_ACTIVITIES: String(CONCURRENCY),
      ATELIER_MINT_BATCH_SIZE: '100',
      ATELIER_MINT_BATCH_WAIT_MS: '500',
      // The worker's cache as configured by whoever runs the bench (the default otherwise).
      ...(process.env.ATELIER_WORKER_MAX_CACHED_WORKFLOWS ? { ATELIER_WORKER_MAX_CACHED_WORKFLOWS: process.env.ATELIER_WORKER_MAX_CACHED_WORKFLOWS } : {}),
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out.write(chunk);
      seen = (seen + chunk.toString()).slice(-8192);
      if (seen.includes('worker polling')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      out.end(`--- worker exit (code ${code}, signal ${signal})\n`);
      reject(new Error(`the worker exited (code ${code}, signal ${signal}) before it polled; see ${logFile}`));
    });
  });
  return child;
}

interface AtelierRun {
  wallMs?: number;
  progress?: CollectionProgress;
  /** When the bench first saw each phase, ms after the start. */
  phaseSeenAt: Partial<Record<CollectionPhase, number>>;
  /** ms after the start when no asset was waiting or generating any more (every one pinned). */
  allPreparedAt?: number;
  /** ms after the start when the first asset minted. */
  firstMintedAt?: number;
  t0: number;
}

async function runAtelier(atelier: AtelierClient, worker: ChildProcess): Promise<AtelierRun> {
  const plan = planCollection(collectionSpec(ATELIER_ID, ATELIER_RECIPIENT));
  const collections = new CollectionClient(atelier.temporal, TASK_QUEUE);
  const run: AtelierRun = { phaseSeenAt: {}, t0: Date.now() };
  const started = await collections.start(plan);
  log(`atelier: collection ${plan.spec.id} ${started.outcome} (${started.workflowId}), ${COUNT} assets, window ${CONCURRENCY}`);
  let lastReport = Date.now();
  for (;;) {
    const at = Date.now() - run.t0;
    let progress: CollectionProgress | undefined;
    try {
      progress = await collections.progress(plan.spec.id);
    } catch {
      // Not answering yet (its first task) or for a moment: ask again.
    }
    if (progress) {
      run.progress = progress;
      run.phaseSeenAt[progress.phase] ??= at;
      const c = progress.counts;
      if (run.allPreparedAt === undefined && c.waiting + c.held + c.generating + c.awaiting_approval === 0) run.allPreparedAt = at;
      if (run.firstMintedAt === undefined && c.minted > 0) run.firstMintedAt = at;
      if (Date.now() - lastReport >= PROGRESS_EVERY_MS) {
        lastReport = Date.now();
        log(
          `[+${seconds(at).padStart(6)} s] atelier: ${c.minted}/${COUNT} minted (phase ${progress.phase}; ready ${c.ready}, minting ${c.minting}, ` +
            `generating ${c.generating}, waiting ${c.waiting}, failed ${c.failed})`,
        );
      }
      if (['completed', 'settled', 'cancelled'].includes(progress.phase)) {
        run.wallMs = at;
        return run;
      }
    }
    if (worker.exitCode !== null || worker.signalCode !== null) {
      log(`atelier: the worker exited (code ${worker.exitCode}, signal ${worker.signalCode})`);
      return run;
    }
    if (capReached()) {
      log('atelier: CAP REACHED before the collection completed');
      return run;
    }
    await sleep(500);
  }
}

/**
 * Where (a)'s time went, from the histories (read after the timing): every run on the bench's own
 * server is (a)'s (the bare script never touches Temporal). Per activity type: how many, the mean wait
 * in the task queue (scheduled to started) and the mean run (started to closed); workflow tasks the
 * same; and each asset run's mean time from its start to pinned, and from pinned to its close.
 */
async function historyBreakdown(atelier: AtelierClient): Promise<string[]> {
  const t = Date.now();
  const runs: { workflowId: string; runId: string; type: string }[] = [];
  for await (const w of atelier.temporal.workflow.list()) runs.push({ workflowId: w.workflowId, runId: w.runId, type: w.type });
  interface Tally {
    n: number;
    waitMs: number;
    runMs: number;
  }
  const tallies = new Map<string, Tally>();
  const add = (key: string, waitMs: number, runMs: number) => {
    const tally = tallies.get(key) ?? { n: 0, waitMs: 0, runMs: 0 };
    tally.n++;
    tally.waitMs += waitMs;
    tally.runMs += runMs;
    tallies.set(key, tally);
  };
  const asset = { n: 0, toPinnedMs: 0, pinnedToCloseMs: 0 };
  let next = 0;
  let unread = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < runs.length) {
        const run = runs[next++]!;
        let events;
        try {
          events = (await atelier.temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory()).events ?? [];
        } catch {
          unread++;
          continue;
        }
        const at = (e: (typeof events)[number]) => tsToMs(e.eventTime);
        const byId = new Map(events.map((e) => [String(e.eventId), e]));
        const scheduled = new Map<string, { name: string; at: number }>();
        let startedAt: number | undefined;
        let pinnedAt: number | undefined;
        for (const e of events) {
          startedAt ??= at(e);
          const a = e.activityTaskScheduledEventAttributes;
          if (a) scheduled.set(String(e.eventId), { name: a.activityType?.name ?? '?', at: at(e) });
          const closed =
            e.activityTaskCompletedEventAttributes ??
            e.activityTaskFailedEventAttributes ??
            e.activityTaskTimedOutEventAttributes ??
            e.activityTaskCanceledEventAttributes;
          if (closed) {
            const sched = scheduled.get(String(closed.scheduledEventId));
            const started = byId.get(String(closed.startedEventId));
            if (sched && started)
              add(`${run.type}/${sched.name}${e.activityTaskCompletedEventAttributes ? '' : ' (not completed)'}`, at(started) - sched.at, at(e) - at(started));
            if (sched?.name === 'pinAsset' && e.activityTaskCompletedEventAttributes) pinnedAt = at(e);
          }
          const wft = e.workflowTaskCompletedEventAttributes;
          if (wft) {
            const started = byId.get(String(wft.startedEventId));
            const sched = byId.get(String(wft.scheduledEventId));
            if (started && sched) add(`${run.type} workflow task`, at(started) - at(sched), at(e) - at(started));
          }
        }
        const last = events.at(-1);
        if (run.type === 'assetLifecycle' && startedAt !== undefined && pinnedAt !== undefined && last) {
          asset.n++;
          asset.toPinnedMs += pinnedAt - startedAt;
          asset.pinnedToCloseMs += at(last) - pinnedAt;
        }
      }
    }),
  );
  const lines = [...tallies]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([key, v]) =>
        `  ${key}: ${v.n}x, mean wait ${(v.waitMs / v.n).toFixed(0)} ms, mean run ${(v.runMs / v.n).toFixed(0)} ms, run total ${seconds(v.runMs)} s`,
    );
  if (asset.n > 0) {
    lines.unshift(
      `  asset runs: mean ${(asset.toPinnedMs / asset.n).toFixed(0)} ms from start to pinned, ${(asset.pinnedToCloseMs / asset.n / 1000).toFixed(1)} s from pinned to close (waiting for publication and the mint turn included)`,
    );
  }
  lines.unshift(`histories of ${runs.length} runs read in ${seconds(Date.now() - t)} s${unread ? ` (${unread} unreadable)` : ''}:`);
  return lines;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const config: Config = loadConfig(childEnv());
  const stack = new Stack(config);
  log(`${COUNT} assets, concurrency ${CONCURRENCY}, seed ${SEED}, cap ${CAP_MS / 60_000} min; ${os.cpus().length} cores`);
  let bareChild: ChildProcess | undefined;
  let worker: ChildProcess | undefined;
  let atelier: AtelierClient | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await stopChild(bareChild, 'SIGKILL').catch(() => undefined);
      await stopChild(worker).catch(() => undefined);
      await atelier?.close().catch(() => undefined);
      await stack.down(() => {}).catch((error) => log(`teardown: ${(error as Error).message}`));
    })());
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = true;
    log(`${signal}: tearing down`);
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Whatever happens, the invocation ends: 5 minutes past the cap it tears down and exits.
  const hardStop = setTimeout(
    () => {
      log('hard stop: 5 minutes past the cap');
      void cleanup().finally(() => process.exit(1));
    },
    CAP_MS + 5 * 60_000,
  );

  try {
    await stack.reset(() => {});
    await stack.up((line) => log(line));
    const deployment = await ensureDeployment(config);
    log(`stack up in ${seconds(Date.now() - began)} s, contract ${deployment.address}; data in ${path.relative(projectRoot, config.dataDir)}`);
    fs.mkdirSync(stack.logDir, { recursive: true });
    const loadAt = () =>
      os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ');

    // (b) first: the bare script.
    log(`bare: ${COUNT} assets, ${CONCURRENCY} at a time, in a child process (log ${path.relative(projectRoot, path.join(stack.logDir, 'bare.log'))})`);
    const bare = args['skip-bare']
      ? { result: undefined, memory: undefined }
      : await runBare(path.join(stack.logDir, 'bare.log'), (child) => (bareChild = child));
    const bareResult = bare.result;
    const bareOk = bareResult !== undefined && bareResult.done === COUNT && new Set(bareResult.tokens).size === COUNT;
    if (bareResult) {
      log(
        `bare: ${bareResult.done}/${COUNT} minted (${new Set(bareResult.tokens).size} distinct tokens), ${bareResult.failed} failed, in ${seconds(bareResult.wallMs)} s; load ${loadAt()}`,
      );
      for (const error of bareResult.errors) log(`  bare failure ${error}`);
    } else if (!args['skip-bare']) log('bare: did NOT finish (see the log)');

    if (interrupted) return 130;
    // (a) then Atelier.
    let run: AtelierRun | undefined;
    let workerMemory: MemorySampler | undefined;
    let breakdown: string[] = [];
    if (!capReached()) {
      const workerLog = path.join(stack.logDir, 'worker-pipeline.log');
      const spawning = Date.now();
      // The worker starts from the prebuilt workflow bundle, as a deployed one would (npm run build).
      if (!('bundle' in prebuiltBundle())) writePrebuiltBundle(await bundleAtelierWorkflows());
      worker = await startWorker(workerLog);
      log(`atelier: worker pid ${worker.pid} polling ${TASK_QUEUE} after ${seconds(Date.now() - spawning)} s (log ${path.relative(projectRoot, workerLog)})`);
      workerMemory = new MemorySampler(worker.pid!);
      const startupHwmKib = statusOf(worker.pid!).hwmKib;
      log(`atelier: worker VmHWM once polling (bundling the workflows and loading included) ${startupHwmKib !== undefined ? mib(startupHwmKib) : '-'} MiB`);
      atelier = await AtelierClient.connect(config);
      run = await runAtelier(atelier, worker);
      workerMemory.finish();
      await stopChild(worker);
      worker = undefined;
      if (interrupted) return 130;
      breakdown = await historyBreakdown(atelier).catch((error) => [`histories not read: ${(error as Error).message}`]);
    }

    // Figures (none after Ctrl-C: the teardown ends the process).
    if (interrupted) return 130;
    const p = run?.progress;
    const atelierOk = run?.wallMs !== undefined && p?.phase === 'completed' && p.counts.minted === COUNT && p.report?.minted === COUNT;
    log(`machine: ${os.cpus().length} cores, load average ${loadAt()} (1, 5, 15 min); whole invocation ${seconds(Date.now() - began)} s`);
    if (bareResult && bare.memory) {
      const s = bareResult.stepMs;
      const sum = s.generateDraft + s.formatAsset + s.pinAsset + s.mintAsset;
      const share = (ms: number) => `${(ms / COUNT).toFixed(0)} ms (${((ms / sum) * 100).toFixed(0)}%)`;
      log(
        `bare script: ${(bareResult.wallMs / COUNT).toFixed(1)} ms per asset (wall / count); peak RSS ${mib(bare.memory.peakKib)} MiB (VmHWM ${mib(bare.memory.hwmKib)} MiB, max sampled VmRSS ${mib(bare.memory.maxRssKib)} MiB)`,
      );
      log(
        `bare script, mean time in each call per asset (${CONCURRENCY} assets overlap): generateDraft ${share(s.generateDraft)}, formatAsset ${share(s.formatAsset)}, ` +
          `pinAsset ${share(s.pinAsset)}, mintAsset ${share(s.mintAsset)}`,
      );
    }
    if (run && p) {
      const publishedAt = p.published ? Date.parse(p.published.at) - run.t0 : undefined;
      const end = run.wallMs ?? Date.now() - run.t0;
      log(
        `atelier: ${run.wallMs !== undefined ? (run.wallMs / COUNT).toFixed(1) : '-'} ms per asset (wall / count); phase ${p.phase}; minted ${p.counts.minted}, report.minted ${p.report?.minted ?? '-'}, failed ${p.failed}; ` +
          `token order matches provenance: ${p.report?.tokenOrderMatchesProvenance ?? '-'}; runs of the collection workflow ${p.runs}`,
      );
      log(
        `atelier: every asset pinned at ${run.allPreparedAt !== undefined ? seconds(run.allPreparedAt) : '-'} s; publishing seen at ${run.phaseSeenAt.publishing !== undefined ? seconds(run.phaseSeenAt.publishing) : '-'} s; ` +
          `published at ${publishedAt !== undefined ? seconds(publishedAt) : '-'} s (time to publication); first mint seen at ${run.firstMintedAt !== undefined ? seconds(run.firstMintedAt) : '-'} s; ` +
          `completed at ${run.wallMs !== undefined ? seconds(run.wallMs) : '-'} s`,
      );
      if (publishedAt !== undefined) {
        log(
          `atelier: time to publication ${seconds(publishedAt)} s (${(publishedAt / COUNT).toFixed(1)} ms per asset), mint phase ${seconds(end - publishedAt)} s ` +
            `(published.at to the end; ${((end - publishedAt) / COUNT).toFixed(1)} ms per asset)`,
        );
      }
      for (const f of p.failures.slice(0, 10)) log(`  atelier failure #${f.assetKey}: ${f.reason}`);
      for (const line of breakdown) log(`atelier ${line}`);
    }
    if (workerMemory) {
      log(
        `atelier worker: peak RSS ${mib(workerMemory.peakKib)} MiB (VmHWM ${mib(workerMemory.hwmKib)} MiB, max sampled VmRSS ${mib(workerMemory.maxRssKib)} MiB over ${workerMemory.samples} samples)`,
      );
    }
    log(
      `check: atelier ${atelierOk ? `every asset minted once (counts.minted = report.minted = ${COUNT})` : 'NOT every asset minted once'}; ` +
        `bare ${args['skip-bare'] ? 'skipped' : bareOk ? `every asset minted once (${COUNT} distinct tokens)` : 'NOT every asset minted'}${capReached() ? '; the cap was reached' : ''}`,
    );
    const atelierS = run?.wallMs !== undefined ? run.wallMs / 1000 : NaN;
    const bareS = bareResult ? bareResult.wallMs / 1000 : NaN;
    const ratio = atelierS / bareS;
    const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
    console.log(
      `pipeline ${COUNT} assets: ${fmt(atelierS)} s, bare script ${args['skip-bare'] ? 'skipped' : `${fmt(bareS)} s`} (ratio ${Number.isFinite(ratio) ? ratio.toFixed(2) : '-'}), ` +
        `worker peak RSS ${workerMemory ? mib(workerMemory.peakKib) : '-'} MiB`,
    );
    return atelierOk && (bareOk || args['skip-bare']) ? 0 : 1;
  } finally {
    await cleanup();
    clearTimeout(hardStop);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (args.bare) {
  bareMain().catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
