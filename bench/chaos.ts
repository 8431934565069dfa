/**
 * Exactly-once minting under faults: `npm run bench:chaos [-- --seed <n>] [--count 200] [--kills 20] [--minting-kills 5] [--cap-min 30]`.
 *
 * Brings up its own stack (Temporal dev server, Kubo, Anvil) on ports of its own (21233, 22233-22235,
 * 21001, 22080, 22545; data in .data/bench-chaos, reset first), deploys the contract, and runs the
 * same work twice in one invocation, each with a real worker process (workers/main.ts through
 * `node --import tsx`, ATELIER_MINT_BATCH_WAIT_MS=2000), a fresh minting signer (its own minter
 * workflow and nonce sequence) and a task queue of its own:
 *
 *   calm:  --count assets (spec: auto approval policy, `mint: { mode: 'batch' }`) in collection
 *          `calm-<seed>`, no faults. Its wall time W is the yardstick.
 *   chaos: the same assets in collection `chaos-<seed>`, while a driver, from a seeded PRNG (the seed
 *          is printed; `--seed` repeats the schedule, not the machine's timing), spreads over W:
 *            - --kills SIGKILLs of the worker process, each once it has polled for 1-4 s, started
 *              again at once: most at random moments, --minting-kills of them (default a quarter)
 *              a random 0-0.5 s after the minter is seen with a batch activity running on the live
 *              worker (prepare, send or await), the moments exactly-once rests on (the work mints
 *              only at its end);
 *            - Anvil stopped for 30 s (SIGTERM: it writes its state on exit) once runs are minting,
 *              and started again;
 *            - Kubo stopped for 30 s mid-pin (a run pinning, or the minter pinning a batch
 *              directory), and started again;
 *            - the Temporal server SIGKILLed once and started again (SQLite in the data folder);
 *            - forged and malformed messages: `mintRequest` signals to the minter (an asset nobody
 *              approved with a real-looking replyTo, a minting asset to another recipient, null, an
 *              asset id that is no number, an undecodable payload), `mintResult` signals to minting
 *              asset runs (a token 999999, a refusal, a malformed answer), and approve/reject Updates
 *              and signals with garbage.
 *
 * Then it checks both runs from the outside, with no help from the workflows' own answers:
 *   - on chain (AssetMinted/BatchMinted and Transfer logs, tokenOfAsset, ownerOf, tokenURI): every
 *     asset has exactly one token, owned by its recipient; no token for an asset outside the runs
 *     ("forged"); every Transfer from zero belongs to a logged asset;
 *   - through the Kubo gateway: each token's metadata has the sha256 of the run's metadata CID, names
 *     its asset, run and `policy:auto` approval, and every CID in it (image, renditions, draft) gives
 *     bytes with the sha256 it states;
 *   - the signer: latest nonce = pending nonce = its transactions on chain (no gap, nothing stuck);
 *   - Temporal: every assetLifecycle run of the collection closed COMPLETED at stage minted with the
 *     chain's token; every minter run running idle (nothing queued or in flight) or completed.
 * Histories of any asset that fails a check are written to .data/bench-chaos/histories/ and summed up.
 *
 * Last line: `chaos: <n> faults survived, <lost> assets lost, <dup> minted twice, <forged> forged
 * mints, wall <s> s (ratio <r> to the calm run)`. Goal: 0, 0, 0 and a ratio <= 2. Exits 1 when a
 * check fails or the cap (--cap-min minutes for the whole invocation) is reached; then it stops the
 * faults, checks what there is and reports. Tears everything down at the end, also on Ctrl-C.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomInt, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';
import { JsonRpcProvider, Wallet, ZeroAddress, id as keccakOfText } from 'ethers';
import { CID } from 'multiformats/cid';
import { minterIdOf } from '../activities/mintBatch.ts';
import { AtelierClient } from '../client/atelier.ts';
import type { AssetResult, AssetSpec } from '../common/asset.ts';
import { workflowIdOf } from '../common/asset.ts';
import { ANVIL_DEV_KEY, loadConfig, projectRoot } from '../common/config.ts';
import type { Config } from '../common/config.ts';
import type { Deployment } from '../common/deployment.ts';
import { mintRequestSignalName, mintResultSignalName } from '../common/mint.ts';
import type { MinterStatus } from '../common/mint.ts';
import { AtelierStage } from '../common/searchAttributes.ts';
import { parseAssetSpec } from '../common/spec.ts';
import { assetIdOf, connectCreativeAsset } from '../contracts/index.ts';
import { ensureDeployment } from '../scripts/lib/deploy.ts';
import { Stack, jsonRpc } from '../scripts/lib/stack.ts';
import type { ServiceName } from '../scripts/lib/stack.ts';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string' },
    count: { type: 'string', default: '200' },
    kills: { type: 'string', default: '20' },
    'minting-kills': { type: 'string' },
    'cap-min': { type: 'string', default: '30' },
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
const SEED = args.seed === undefined ? randomInt(1, 2 ** 31) : whole('seed', args.seed, 0, 2 ** 32 - 1);
const COUNT = whole('count', args.count, 1, 1000);
const KILLS = whole('kills', args.kills, 0, 200);
const CAP_MS = whole('cap-min', args['cap-min'], 1, 600) * 60_000;

const OUTAGE_MS = 30_000;
/** Of the kills, this many wait for a mint batch under way (default a quarter); the rest fall at random moments. */
const MINTING_KILLS = args['minting-kills'] === undefined ? Math.round(KILLS / 4) : whole('minting-kills', args['minting-kills'], 0, KILLS);
const BATCH_WAIT_MS = '2000';
/** Anvil's second well-known account: every asset goes to this collector. */
const COLLECTOR = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
/** Where a forger would like tokens to go. */
const ATTACKER = new Wallet('0x' + 'ee'.repeat(32)).address;
const FORGED_TOKEN = '999999';

const began = Date.now();
const capAt = began + CAP_MS;
const capReached = () => Date.now() > capAt;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => console.log(`[chaos] ${line}`);
const seconds = (ms: number) => (ms / 1000).toFixed(1);

const env: Record<string, string> = {
  ATELIER_DATA_DIR: '.data/bench-chaos',
  ATELIER_TEMPORAL_ADDRESS: '127.0.0.1:21233',
  ATELIER_TEMPORAL_UI_PORT: '22233',
  ATELIER_KUBO_API_URL: 'http://127.0.0.1:21001',
  ATELIER_KUBO_GATEWAY_URL: 'http://127.0.0.1:22080',
  ATELIER_ETH_RPC_URL: 'http://127.0.0.1:22545',
  // Nothing from the caller's environment may point the bench anywhere else.
  ATELIER_TEMPORAL_NAMESPACE: 'default',
  ATELIER_CONTRACT_ADDRESS: '',
  ATELIER_CONFIRMATIONS: '1',
  ATELIER_SLACK_BOT_TOKEN: '',
  ATELIER_SLACK_APP_PUBLIC_KEY: '',
  ATELIER_OPENAI_API_KEY: '',
};
const config: Config = loadConfig({ ...process.env, ...env });
const stack = new Stack(config);

// ---------------------------------------------------------------------------------------------
// Seeded randomness: one stream per lane, so one lane's draws never shift another's.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rngFor = (lane: string) => mulberry32(parseInt(createHash('sha256').update(`${SEED}:${lane}`).digest('hex').slice(0, 8), 16));
const between = (rng: () => number, low: number, high: number) => low + rng() * (high - low);

// ---------------------------------------------------------------------------------------------
// The worker as a real process: SIGKILLed by the driver, started again at once.

class WorkerProcess {
  private child: ChildProcess | undefined;
  private starting: Promise<void> | undefined;
  private killing = false;
  private stopping = false;
  /** When the current process said it polls; 0 while none does. */
  pollingSince = 0;
  spawns = 0;
  readonly unexpectedExits: string[] = [];

  constructor(
    readonly label: string,
    private readonly workerEnv: Record<string, string>,
    private readonly logFile: string,
  ) {}

  /** Starts a worker unless one is starting; resolves once it polls (a start that fails, say while the server is down, is tried again). */
  start(): Promise<void> {
    return (this.starting ??= (async () => {
      try {
        for (;;) {
          if (this.stopping) return;
          if ((await this.spawnOnce()) === 'polling') return;
          if (capReached()) throw new Error(`${this.label} worker did not start before the cap`);
          await sleep(1_000);
        }
      } finally {
        this.starting = undefined;
      }
    })());
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.killing = true;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.killing = false;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  private spawnOnce(): Promise<'polling' | 'exited'> {
    this.spawns++;
    const out = fs.createWriteStream(this.logFile, { flags: 'a' });
    out.write(`--- ${this.label} worker, start ${this.spawns} at ${new Date().toISOString()}\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'workers', 'main.ts')], {
      cwd: projectRoot,
      env: { ...process.env, ...this.workerEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let seen = '';
    return new Promise((resolve) => {
      const onData = (chunk: Buffer) => {
        out.write(chunk);
        if (this.child !== child || this.pollingSince) return;
        seen = (seen + chunk.toString()).slice(-8192);
        if (seen.includes('worker polling')) {
          this.pollingSince = Date.now();
          resolve('polling');
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        out.end(`--- exit (code ${code}, signal ${signal})\n`);
        const wasPolling = this.pollingSince > 0;
        if (this.child === child) {
          this.child = undefined;
          this.pollingSince = 0;
        }
        if (!wasPolling) return resolve('exited');
        if (!this.killing && !this.stopping) {
          // Not the driver's doing: noted (a finding), and the worker is started again.
          this.unexpectedExits.push(`${new Date().toISOString()} code ${code} signal ${signal}`);
          log(`${this.label} worker exited by itself (code ${code}, signal ${signal}); starting another (see ${this.logFile})`);
          void this.start().catch((error) => log(`could not start the ${this.label} worker again: ${(error as Error).message}`));
        }
      });
    });
  }
}

/**
 * Starts a service the driver stopped, trying again for up to 2 minutes. Once, under load, `Stack.start`
 * right after `Stack.stop('temporal', { signal: 'SIGKILL' })` found the port still listening and
 * refused it as another program's (likely: the stop waits for the process to be a zombie, and a
 * multi-threaded process's main thread is one while its other threads still hold its sockets).
 */
async function bringBack(name: ServiceName): Promise<void> {
  let refusals = 0;
  await retrying(
    `start ${name} again`,
    async () => {
      try {
        await stack.start(name, () => {});
      } catch (error) {
        if (refusals++ === 0) log(`           ${name} did not start at once (${(error as Error).message.split('\n')[0]}); trying again`);
        throw error;
      }
    },
    Math.min(capAt, Date.now() + 120_000),
  );
}

// ---------------------------------------------------------------------------------------------
// Chain helpers.

function provider(): JsonRpcProvider {
  return new JsonRpcProvider(config.ATELIER_ETH_RPC_URL, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 250 });
}

/** A fresh signer with gas money and MINTER_ROLE: a minter workflow and a nonce sequence of its own. */
async function newMinterSigner(deployment: Deployment): Promise<{ key: string; address: string }> {
  const wallet = Wallet.createRandom();
  const rpc = provider();
  try {
    await jsonRpc(config.ATELIER_ETH_RPC_URL, 'anvil_setBalance', [wallet.address, '0x56bc75e2d63100000']); // 100 ETH
    const admin = connectCreativeAsset(deployment.address, new Wallet(ANVIL_DEV_KEY, rpc));
    await (await admin.grantRole(keccakOfText('MINTER_ROLE'), wallet.address)).wait();
  } finally {
    rpc.destroy();
  }
  return { key: wallet.privateKey, address: wallet.address };
}

async function blockNumber(): Promise<number | undefined> {
  const head = (await jsonRpc(config.ATELIER_ETH_RPC_URL, 'eth_blockNumber')) as string | undefined;
  return head === undefined ? undefined : Number(head);
}

// ---------------------------------------------------------------------------------------------
// Work: start the assets, wait until every run has closed.

interface RunPlan {
  label: 'calm' | 'chaos';
  collectionId: string;
  taskQueue: string;
  specs: AssetSpec[];
  signer: { key: string; address: string };
  minterId: string;
  worker: WorkerProcess;
  /** From the first start to the last run's close (or the cap). */
  wallMs?: number;
  finished?: boolean;
  /** What its minter runs showed once the work was done (see minterProblems). */
  minterProblems?: string[];
}

function specsFor(collectionId: string): AssetSpec[] {
  return Array.from({ length: COUNT }, (_, i) =>
    parseAssetSpec({
      collectionId,
      assetKey: String(i),
      name: `Chaos Critter ${i}`,
      description: 'made by bench:chaos',
      recipient: COLLECTOR,
      // The same seeds in both runs: the same images, the same work.
      generator: { kind: 'layers', layerSet: 'critters', traits: {}, seed: i },
      approval: { policy: 'auto' },
      mint: { mode: 'batch' },
    }),
  );
}

/** Keeps trying while the server is down (a start is idempotent: a running asset keeps its run). */
async function retrying<T>(what: string, work: () => Promise<T>, giveUpAt = capAt): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (Date.now() > giveUpAt) throw new Error(`${what}: ${(error as Error).message}`);
      await sleep(Math.min(500 * attempt, 3_000));
    }
  }
}

async function startAll(atelier: AtelierClient, specs: AssetSpec[]): Promise<void> {
  for (let i = 0; i < specs.length; i += 20) {
    await Promise.all(specs.slice(i, i + 20).map((spec) => retrying(`start ${spec.collectionId}/${spec.assetKey}`, () => atelier.start(spec))));
  }
}

const inCollection = (collectionId: string, extra = '') => `WorkflowType = 'assetLifecycle' AND AtelierCollection = '${collectionId}'${extra}`;

/** Polls visibility until every run of the collection has closed; false at the cap. */
async function waitAllClosed(atelier: AtelierClient, plan: RunPlan, t0: number): Promise<boolean> {
  let lastReport = Date.now();
  for (;;) {
    try {
      const all = (await atelier.temporal.workflow.count(inCollection(plan.collectionId))).count;
      const open = (await atelier.temporal.workflow.count(inCollection(plan.collectionId, ` AND ExecutionStatus = 'Running'`))).count;
      if (all >= plan.specs.length && open === 0) return true;
      if (Date.now() - lastReport >= 15_000) {
        lastReport = Date.now();
        const minted = (await atelier.temporal.workflow.count(inCollection(plan.collectionId, ` AND AtelierStage = 'minted'`))).count;
        log(`[+${seconds(Date.now() - t0).padStart(6)} s] ${plan.label}: ${minted}/${plan.specs.length} minted, ${open} open`);
      }
    } catch {
      // The server is down (the driver killed it): ask again.
    }
    if (capReached()) return false;
    await sleep(1_000);
  }
}

async function runWork(atelier: AtelierClient, plan: RunPlan, driver?: (t0: number) => Promise<void>): Promise<{ driverDone: Promise<void> }> {
  const t0 = Date.now();
  const driverDone = driver ? driver(t0) : Promise.resolve();
  // A driver that fails must not leave the wait below hanging: it is reported after it.
  driverDone.catch(() => undefined);
  await startAll(atelier, plan.specs);
  log(`${plan.label}: ${plan.specs.length} assets started in ${seconds(Date.now() - t0)} s`);
  plan.finished = await waitAllClosed(atelier, plan, t0);
  plan.wallMs = Date.now() - t0;
  log(`${plan.label}: ${plan.finished ? 'every run closed' : 'CAP REACHED with runs open'} after ${seconds(plan.wallMs)} s`);
  return { driverDone };
}

// ---------------------------------------------------------------------------------------------
// The fault driver.

interface FaultRecord {
  at: number;
  kind: string;
  detail: string;
  /** Delivered after the last run had closed. */
  late?: boolean;
}

class Driver {
  readonly faults: FaultRecord[] = [];
  /** Planned faults that could not be delivered, with why. */
  readonly skipped: string[] = [];
  /** Asset runs that forged messages named. */
  readonly targets = new Set<string>();
  readonly problems: string[] = [];
  private t0 = 0;
  /** Set when every run has closed. */
  workDoneAt: number | undefined;

  constructor(
    private readonly atelier: AtelierClient,
    private readonly plan: RunPlan,
    private readonly calm: { metadataCid: string },
    private readonly contract: string,
    /** The window the faults are spread over: the calm run's wall time. */
    private readonly windowMs: number,
  ) {}

  private note(kind: string, detail: string) {
    const at = Date.now() - this.t0;
    const late = this.workDoneAt !== undefined;
    this.faults.push({ at, kind, detail, late });
    log(`[+${seconds(at).padStart(6)} s] ${kind}: ${detail}${late ? ' (after the last run closed)' : ''}`);
  }

  private async until(fraction: number): Promise<boolean> {
    const at = this.t0 + fraction * this.windowMs;
    while (Date.now() < at) {
      if (capReached()) return false;
      await sleep(Math.min(250, at - Date.now()));
    }
    return !capReached();
  }

  run(t0: number): Promise<void> {
    this.t0 = t0;
    const lanes = [this.scheduledKills(), this.mintingKills(), this.anvil(), this.kubo(), this.temporal(), this.forgeries()].map((lane) =>
      lane.catch(async (error) => {
        this.problems.push(`driver lane failed: ${(error as Error).message}`);
        log(`driver lane failed: ${(error as Error).stack}`);
        // Whatever it stopped comes back, so the work can still finish and be checked.
        await retrying('bring the stack back', () => stack.up(() => {}), Math.min(capAt, Date.now() + 120_000)).catch((e) =>
          log(`stack not back: ${(e as Error).message}`),
        );
      }),
    );
    return Promise.all(lanes).then(() => undefined);
  }

  private skip(kind: string, why: string) {
    this.skipped.push(`${kind}: ${why}`);
    log(`[+${seconds(Date.now() - this.t0).padStart(6)} s] NOT delivered: ${kind}: ${why}`);
  }

  /** One kill at a time: a kill waits until the previous one's worker polls again. */
  private killLock: Promise<unknown> = Promise.resolve();

  /**
   * SIGKILLs the worker once it has polled for `upFor` ms and `moment()` says now (it answers what
   * is going on, or undefined: not yet), then starts it again at once. False if the work ended first
   * (`whileWorkOpen`) or the cap was reached.
   */
  private async killWorker(label: string, upFor: number, moment: () => Promise<string | undefined>, whileWorkOpen: boolean): Promise<boolean> {
    const worker = this.plan.worker;
    for (;;) {
      if (capReached() || (whileWorkOpen && this.workDoneAt !== undefined)) return false;
      const attempt = this.killLock.then(async () => {
        if (!worker.pollingSince || Date.now() - worker.pollingSince < upFor) return false;
        const what = await moment();
        if (what === undefined || !worker.pollingSince) return false;
        const up = Date.now() - worker.pollingSince;
        await worker.kill();
        this.note('worker SIGKILL', `${label}, after ${seconds(up)} s polling${what ? `; ${what}` : ''}`);
        const restarting = Date.now();
        await worker.start();
        log(`           worker polling again after ${seconds(Date.now() - restarting)} s`);
        return true;
      });
      this.killLock = attempt.catch(() => undefined);
      if (await attempt) return true;
      await sleep(100);
    }
  }

  /** Most kills at random moments of the window, each once the worker has polled for 1-4 s. */
  private async scheduledKills(): Promise<void> {
    const rng = rngFor('kills');
    const count = KILLS - MINTING_KILLS;
    const moments = Array.from({ length: count }, () => between(rng, 0.03, 1)).sort((a, b) => a - b);
    for (const [i, moment] of moments.entries()) {
      const upFor = between(rng, 1_000, 4_000);
      if (!(await this.until(moment))) return this.skip('worker SIGKILL', `${count - i} scheduled kills: the cap was reached`);
      await this.killWorker(`#${i + 1} of ${count} at random moments`, upFor, async () => '', false);
    }
  }

  /**
   * The rest while the minter has a batch activity running on the current worker (prepare, send or
   * await): the moments exactly-once depends on. Each at a random 0-0.5 s after one is seen.
   */
  private async mintingKills(): Promise<void> {
    const rng = rngFor('minting-kills');
    for (let i = 0; i < MINTING_KILLS; i++) {
      const upFor = between(rng, 1_000, 4_000);
      const delay = between(rng, 0, 500);
      const killed = await this.killWorker(
        `#${i + 1} of ${MINTING_KILLS} during a mint batch`,
        upFor,
        async () => {
          const before = await this.minterActivity(this.plan.worker.pollingSince);
          if (!before) return undefined;
          await sleep(delay);
          return `minter: ${before} (seen ${Math.round(delay)} ms before), now ${(await this.minterActivity()) ?? 'none'}`;
        },
        true,
      );
      if (!killed) return this.skip('worker SIGKILL', `${MINTING_KILLS - i} kills during a mint batch: no batch under way before the work ended`);
    }
  }

  /**
   * The minter's batch activities under way ("sendMintBatch attempt 2"), or undefined. `liveSince`:
   * only attempts started since then (by the worker polling now; a dead worker's attempt waits out
   * its heartbeat timeout and no process runs it).
   */
  private async minterActivity(liveSince?: number): Promise<string | undefined> {
    try {
      const description = await this.atelier.temporal.workflow.getHandle(this.plan.minterId).describe();
      const started = proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
      const startedAt = (a: { lastStartedTime?: { seconds?: unknown; nanos?: number | null } | null }) =>
        a.lastStartedTime ? Number(a.lastStartedTime.seconds ?? 0) * 1000 + Math.floor((a.lastStartedTime.nanos ?? 0) / 1e6) : 0;
      const pending = (description.raw.pendingActivities ?? []).filter(
        (a) => /MintBatch$/.test(a.activityType?.name ?? '') && (liveSince === undefined || (a.state === started && startedAt(a) >= liveSince)),
      );
      return pending.length ? pending.map((a) => `${a.activityType?.name} attempt ${a.attempt}`).join(', ') : undefined;
    } catch {
      return undefined;
    }
  }

  /** Waits until `now()` answers (polled every 200 ms); undefined if the work ended or the cap came first. */
  private async whenWorkShows(now: () => Promise<string | undefined>): Promise<string | undefined> {
    while (this.workDoneAt === undefined && !capReached()) {
      const what = await now().catch(() => undefined);
      if (what) return what;
      await sleep(200);
    }
    return undefined;
  }

  private async runsAt(stage: string): Promise<number> {
    return (await this.atelier.temporal.workflow.count(inCollection(this.plan.collectionId, ` AND ExecutionStatus = 'Running' AND AtelierStage = '${stage}'`)))
      .count;
  }

  /** Anvil stopped for 30 s while runs mint (it writes its state on exit and loads it again). */
  private async anvil(): Promise<void> {
    const rng = rngFor('anvil');
    if (!(await this.until(between(rng, 0.1, 0.6)))) return this.skip('Anvil stop', 'the cap was reached');
    const what = await this.whenWorkShows(async () => {
      const minting = await this.runsAt('minting');
      return minting > 0 ? `${minting} runs minting${(await this.minterActivity()) ? `, minter: ${await this.minterActivity()}` : ''}` : undefined;
    });
    if (!what) return this.skip('Anvil stop', 'no run was minting before the work ended');
    const before = await blockNumber();
    await stack.stop('anvil');
    this.note('Anvil stopped', `for ${OUTAGE_MS / 1000} s at block ${before}, ${what}`);
    try {
      await sleep(OUTAGE_MS);
    } finally {
      await bringBack('anvil');
    }
    const after = await blockNumber();
    log(`           Anvil back at block ${after}`);
    if (before === undefined || after === undefined || after < before) this.problems.push(`Anvil came back at block ${after}, below ${before}: it lost blocks`);
  }

  /** Kubo stopped for 30 s mid-pin: a run pinning its content, or the minter pinning a batch directory. */
  private async kubo(): Promise<void> {
    const rng = rngFor('kubo');
    if (!(await this.until(between(rng, 0.1, 0.6)))) return this.skip('Kubo stop', 'the cap was reached');
    const what = await this.whenWorkShows(async () => {
      const pinning = await this.runsAt('pinning');
      if (pinning > 0) return `${pinning} runs pinning`;
      const minter = await this.minterActivity(this.plan.worker.pollingSince || Date.now());
      return minter?.includes('prepareMintBatch') ? `minter: ${minter}` : undefined;
    });
    if (!what) return this.skip('Kubo stop', 'nothing was pinning before the work ended');
    await stack.stop('kubo');
    this.note('Kubo stopped', `for ${OUTAGE_MS / 1000} s, ${what}`);
    try {
      await sleep(OUTAGE_MS);
    } finally {
      await bringBack('kubo');
    }
  }

  /** The Temporal server SIGKILLed once and started again at once. */
  private async temporal(): Promise<void> {
    const rng = rngFor('temporal');
    if (!(await this.until(between(rng, 0.1, 0.8)))) return;
    const stopped = Date.now();
    await stack.stop('temporal', { signal: 'SIGKILL' });
    this.note('Temporal server SIGKILL', 'started again at once');
    await bringBack('temporal');
    log(`           Temporal answering again after ${seconds(Date.now() - stopped)} s`);
  }

  /** Forged and malformed messages, each at a random moment, to the minter and to asset runs. */
  private async forgeries(): Promise<void> {
    const { atelier, plan } = this;
    const temporal = atelier.temporal;
    const unknownKey = String(COUNT + 7);
    const forgeries: { name: string; send: (rng: () => number) => Promise<string> }[] = [
      {
        name: 'mintRequest for an asset nobody approved',
        send: async () => {
          const minter = await this.minterHandle();
          await minter.signal(mintRequestSignalName, {
            assetId: assetIdOf(plan.collectionId, unknownKey).toString(),
            collectionId: plan.collectionId,
            assetKey: unknownKey,
            recipient: ATTACKER,
            metadataCid: this.calm.metadataCid,
            replyTo: workflowIdOf(plan.collectionId, unknownKey),
          });
          return `asset ${plan.collectionId}/${unknownKey} to ${ATTACKER}, replyTo ${workflowIdOf(plan.collectionId, unknownKey)}`;
        },
      },
      {
        name: 'mintRequest for a minting asset, to another recipient',
        send: async (rng) => {
          const target = await this.pickRun(rng);
          if (!target) throw new Error('no open run to send it to');
          const status = await retrying('status', () => atelier.status(target.workflowId), Date.now() + 60_000).catch(() => undefined);
          const minter = await this.minterHandle();
          await minter.signal(mintRequestSignalName, {
            assetId: assetIdOf(plan.collectionId, target.assetKey).toString(),
            collectionId: plan.collectionId,
            assetKey: target.assetKey,
            recipient: ATTACKER,
            metadataCid: status?.metadataCid ?? this.calm.metadataCid,
            replyTo: target.workflowId,
          });
          return `${target.workflowId} (${status?.stage ?? '?'}) to ${ATTACKER}`;
        },
      },
      {
        name: 'mintRequest null',
        send: async () => {
          await (await this.minterHandle()).signal(mintRequestSignalName, null);
          return 'to the minter';
        },
      },
      {
        name: 'mintRequest with assetId "not-a-number"',
        send: async () => {
          await (
            await this.minterHandle()
          ).signal(mintRequestSignalName, {
            assetId: 'not-a-number',
            collectionId: plan.collectionId,
            assetKey: '0',
            recipient: ATTACKER,
            metadataCid: this.calm.metadataCid,
            replyTo: workflowIdOf(plan.collectionId, '0'),
          });
          return 'to the minter';
        },
      },
      {
        name: 'mintRequest with an undecodable payload',
        send: async () => {
          await this.minterHandle();
          await this.rawSignal(plan.minterId, mintRequestSignalName, '{"assetId": "1", "recipient": ');
          return 'broken JSON to the minter';
        },
      },
      {
        name: `mintResult claiming token ${FORGED_TOKEN}`,
        send: async (rng) => {
          const target = await this.pickRun(rng);
          if (!target) throw new Error('no open run to send it to');
          await temporal.workflow.getHandle(target.workflowId).signal(mintResultSignalName, {
            assetId: assetIdOf(plan.collectionId, target.assetKey).toString(),
            ok: true,
            mint: { tokenId: FORGED_TOKEN, txHash: '0x' + 'ab'.repeat(32), blockNumber: 1, contract: this.contract, chainId: 31337, alreadyMinted: false },
          });
          return `to ${target.workflowId} (${target.stage})`;
        },
      },
      {
        name: 'mintResult refusing the mint',
        send: async (rng) => {
          const target = await this.pickRun(rng);
          if (!target) throw new Error('no open run to send it to');
          await temporal.workflow.getHandle(target.workflowId).signal(mintResultSignalName, {
            assetId: assetIdOf(plan.collectionId, target.assetKey).toString(),
            ok: false,
            type: 'MintFailed',
            reason: 'forged by bench:chaos',
          });
          return `to ${target.workflowId} (${target.stage})`;
        },
      },
      {
        name: 'mintResult malformed',
        send: async (rng) => {
          const target = await this.pickRun(rng);
          if (!target) throw new Error('no open run to send it to');
          await temporal.workflow.getHandle(target.workflowId).signal(mintResultSignalName, { assetId: 42, ok: 'yes', mint: 'token' });
          return `to ${target.workflowId} (${target.stage})`;
        },
      },
      {
        name: 'approve Update with garbage',
        send: async (rng) => {
          const target = await this.pickRun(rng, null);
          if (!target) throw new Error('no open run to send it to');
          return `to ${target.workflowId}: ${await this.update(target.workflowId, 'approve', { by: 42, round: 'one', draftCid: null, via: 'chaos' })}`;
        },
      },
      {
        name: 'reject Update with null',
        send: async (rng) => {
          const target = await this.pickRun(rng, null);
          if (!target) throw new Error('no open run to send it to');
          return `to ${target.workflowId}: ${await this.update(target.workflowId, 'reject', null)}`;
        },
      },
      {
        name: 'approve signal with garbage',
        send: async (rng) => {
          const target = await this.pickRun(rng, null);
          if (!target) throw new Error('no open run to send it to');
          await temporal.workflow.getHandle(target.workflowId).signal('approve', { by: 'mallory', round: 1, draftCid: 'bafy-not-a-cid', via: 'script' });
          return `to ${target.workflowId} (${target.stage})`;
        },
      },
      {
        name: 'reject signal with an undecodable payload',
        send: async (rng) => {
          const target = await this.pickRun(rng, null);
          if (!target) throw new Error('no open run to send it to');
          await this.rawSignal(target.workflowId, 'reject', '{"by": "mallory", "comment": ');
          return `broken JSON to ${target.workflowId} (${target.stage})`;
        },
      },
    ];
    // Each at its own random moment, with its own stream: one waiting for its target never holds another.
    await Promise.all(
      forgeries.map(async (forgery) => {
        const rng = rngFor(`forgery:${forgery.name}`);
        const kind = `forged: ${forgery.name}`;
        if (!(await this.until(between(rng, 0.1, 0.9)))) return this.skip(kind, 'the cap was reached');
        try {
          this.note(kind, await retrying(forgery.name, () => forgery.send(rng), Math.min(capAt, Date.now() + 90_000)));
        } catch (error) {
          this.skip(kind, (error as Error).message);
        }
      }),
    );
  }

  /** The minter of this run's signer, once it exists (the first asset to mint starts it). */
  private async minterHandle() {
    const handle = this.atelier.temporal.workflow.getHandle(this.plan.minterId);
    await retrying('the minter to exist', () => handle.describe());
    return handle;
  }

  /**
   * A running asset run of this collection, chosen by the PRNG among those at `stage` (default:
   * minting; null: any stage) as soon as there is one; any open run if none got there before the
   * work ended.
   */
  private async pickRun(rng: () => number, stage: string | null = 'minting'): Promise<{ workflowId: string; assetKey: string; stage: string } | undefined> {
    const list = async (extra: string) => {
      const ids: { workflowId: string; stage: string }[] = [];
      for await (const run of this.atelier.temporal.workflow.list({
        query: inCollection(this.plan.collectionId, ` AND ExecutionStatus = 'Running'${extra}`),
      })) {
        ids.push({ workflowId: run.workflowId, stage: run.typedSearchAttributes.get(AtelierStage) ?? '?' });
      }
      return ids.sort((a, b) => a.workflowId.localeCompare(b.workflowId));
    };
    let runs: { workflowId: string; stage: string }[] = [];
    while (stage && this.workDoneAt === undefined && !capReached()) {
      runs = await list(` AND AtelierStage = '${stage}'`).catch(() => []);
      if (runs.length > 0) break;
      await sleep(250);
    }
    if (runs.length === 0) runs = await list('');
    const draw = rng();
    if (runs.length === 0) return undefined;
    const chosen = runs[Math.floor(draw * runs.length)]!;
    this.targets.add(chosen.workflowId);
    return { ...chosen, assetKey: chosen.workflowId.split(':').at(-1)! };
  }

  /** A signal whose payload is not JSON at all (what `temporal workflow signal --input '{...'` can send). */
  private async rawSignal(workflowId: string, signalName: string, data: string): Promise<void> {
    await this.atelier.temporal.workflowService.signalWorkflowExecution({
      namespace: config.ATELIER_TEMPORAL_NAMESPACE,
      workflowExecution: { workflowId },
      signalName,
      input: { payloads: [{ metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode(data) }] },
      identity: 'bench:chaos forger',
      requestId: randomUUID(),
    });
  }

  /** An Update the run should refuse: its answer, or that none came within 60 s. */
  private async update(workflowId: string, name: string, arg: unknown): Promise<string> {
    const handle = this.atelier.temporal.workflow.getHandle(workflowId);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no answer within 60 s'), 60_000)));
    try {
      return await Promise.race([
        handle.executeUpdate(name, { args: [arg] }).then(
          (accepted) => `ACCEPTED: ${JSON.stringify(accepted).slice(0, 200)}`,
          (error: Error) => `refused (${((error.cause as Error | undefined)?.message ?? error.message).slice(0, 160)})`,
        ),
        late,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checks from the outside.

interface ChainRecord {
  /** asset id -> token ids (from AssetMinted / BatchMinted). */
  tokensOf: Map<string, bigint[]>;
  /** Token ids with a Transfer from the zero address. */
  transfers: Set<bigint>;
  nextTokenId: bigint;
}

async function readChain(deployment: Deployment): Promise<ChainRecord> {
  const rpc = provider();
  try {
    const contract = connectCreativeAsset(deployment.address, rpc);
    const logs = await rpc.getLogs({ address: deployment.address, fromBlock: deployment.blockNumber, toBlock: 'latest' });
    const tokensOf = new Map<string, bigint[]>();
    const transfers = new Set<bigint>();
    const add = (assetId: bigint, tokenId: bigint) => tokensOf.set(assetId.toString(), [...(tokensOf.get(assetId.toString()) ?? []), tokenId]);
    for (const entry of logs) {
      const parsed = contract.interface.parseLog(entry);
      if (parsed?.name === 'AssetMinted') add(parsed.args.getValue('assetId') as bigint, parsed.args.getValue('tokenId') as bigint);
      else if (parsed?.name === 'BatchMinted') {
        const first = parsed.args.getValue('firstTokenId') as bigint;
        (parsed.args.getValue('assetIds') as bigint[]).forEach((assetId, i) => add(BigInt(assetId), first + BigInt(i)));
      } else if (parsed?.name === 'Transfer' && parsed.args.getValue('from') === ZeroAddress) transfers.add(parsed.args.getValue('tokenId') as bigint);
    }
    return { tokensOf, transfers, nextTokenId: await contract.nextTokenId() };
  } finally {
    rpc.destroy();
  }
}

interface RunCheck {
  lost: string[];
  twice: string[];
  /** Assets whose run, token, owner or content fails a check, with why. */
  problems: Map<string, string[]>;
  general: string[];
  cidsChecked: number;
  signerTxs: number;
  reverted: number;
}

async function gatewayBytes(cidPath: string): Promise<Buffer> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const response = await fetch(`${config.ATELIER_KUBO_GATEWAY_URL}/ipfs/${cidPath}`, { signal: AbortSignal.timeout(30_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return Buffer.from(await response.arrayBuffer());
    } catch (error) {
      lastError = error;
      await sleep(1_000);
    }
  }
  throw new Error(`gateway /ipfs/${cidPath}: ${(lastError as Error).message}`);
}

const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

async function checkRun(atelier: AtelierClient, plan: RunPlan, chain: ChainRecord, deployment: Deployment): Promise<RunCheck> {
  const check: RunCheck = { lost: [], twice: [], problems: new Map(), general: [], cidsChecked: 0, signerTxs: 0, reverted: 0 };
  const problem = (workflowId: string, why: string) => check.problems.set(workflowId, [...(check.problems.get(workflowId) ?? []), why]);
  const rpc = provider();
  const contract = connectCreativeAsset(deployment.address, rpc);
  try {
    // Temporal: every run of the collection closed COMPLETED at stage minted.
    const runs = new Map<string, { status: string; stage: string | null }>();
    for await (const run of atelier.temporal.workflow.list({ query: inCollection(plan.collectionId) })) {
      if (runs.has(run.workflowId) && runs.get(run.workflowId)!.status === 'COMPLETED') continue;
      runs.set(run.workflowId, { status: run.status.name, stage: run.typedSearchAttributes.get(AtelierStage) ?? null });
    }
    if (runs.size !== plan.specs.length) check.general.push(`${runs.size} runs listed in ${plan.collectionId}, expected ${plan.specs.length}`);

    await inParallel(plan.specs, 8, async (spec) => {
      const workflowId = workflowIdOf(spec.collectionId, spec.assetKey);
      const assetId = assetIdOf(spec.collectionId, spec.assetKey);
      const tokens = chain.tokensOf.get(assetId.toString()) ?? [];
      if (tokens.length === 0) check.lost.push(workflowId);
      if (tokens.length > 1) check.twice.push(workflowId);
      const listed = runs.get(workflowId);
      if (!listed) problem(workflowId, 'no run listed');
      else if (listed.status !== 'COMPLETED' || listed.stage !== 'minted') problem(workflowId, `run ${listed.status} at stage ${listed.stage}`);
      let result: AssetResult | undefined;
      if (listed?.status === 'COMPLETED') result = (await atelier.result(workflowId).catch(() => undefined)) as AssetResult | undefined;
      if (tokens.length !== 1) {
        if (tokens.length > 1) problem(workflowId, `tokens ${tokens.join(', ')} on chain`);
        else problem(workflowId, 'no token on chain');
        return;
      }
      const token = tokens[0]!;
      const [onRecord, owner, uri] = await Promise.all([contract.tokenOfAsset(assetId), contract.ownerOf(token), contract.tokenURI(token)]);
      if (onRecord !== token) problem(workflowId, `tokenOfAsset says ${onRecord}, the logs ${token}`);
      if (owner.toLowerCase() !== spec.recipient.toLowerCase()) problem(workflowId, `token ${token} is owned by ${owner}, not ${spec.recipient}`);
      if (result) {
        if (result.stage !== 'minted' || result.mint?.tokenId !== token.toString())
          problem(workflowId, `the run's result says ${result.stage}, token ${result.mint?.tokenId}; the chain ${token}`);
        if (result.decisions.length !== 1 || result.decisions[0]?.by !== 'policy:auto') problem(workflowId, `decisions ${JSON.stringify(result.decisions)}`);
      } else if (listed?.status === 'COMPLETED') problem(workflowId, 'no result from the completed run');
      // Through the gateway: the metadata and every CID it names, each with its sha256.
      const match = /^ipfs:\/\/([a-z0-9]+)(\/\d+)?$/.exec(uri);
      if (!match) return problem(workflowId, `tokenURI ${uri}`);
      try {
        const metadataBytes = await gatewayBytes(`${match[1]}${match[2] ?? ''}`);
        check.cidsChecked++;
        if (result?.metadataCid) {
          const digest = Buffer.from(CID.parse(result.metadataCid).multihash.digest).toString('hex');
          if (digest !== sha256Hex(metadataBytes)) problem(workflowId, `metadata at ${uri} is not ${result.metadataCid} (sha256 differs)`);
        }
        const metadata = JSON.parse(metadataBytes.toString('utf8')) as {
          image: string;
          properties: {
            collection: string;
            assetKey: string;
            renditions: { name: string; uri: string; sha256: string }[];
            provenance: { approvedBy: string; workflowId: string; draft: { uri: string; sha256: string } };
          };
        };
        const { properties } = metadata;
        if (properties.collection !== spec.collectionId || properties.assetKey !== spec.assetKey)
          problem(workflowId, `metadata names ${properties.collection}/${properties.assetKey}`);
        if (properties.provenance.approvedBy !== 'policy:auto' || properties.provenance.workflowId !== workflowId) {
          problem(workflowId, `metadata provenance: approved by ${properties.provenance.approvedBy} in ${properties.provenance.workflowId}`);
        }
        const original = properties.renditions.find((r) => r.name === 'original');
        if (!original || original.uri !== metadata.image) problem(workflowId, `image ${metadata.image} is not the original rendition`);
        for (const content of [...properties.renditions, properties.provenance.draft]) {
          const cid = content.uri.replace(/^ipfs:\/\//, '');
          const bytes = await gatewayBytes(cid);
          check.cidsChecked++;
          if (sha256Hex(bytes) !== content.sha256) problem(workflowId, `${content.uri} has sha256 ${sha256Hex(bytes)}, metadata says ${content.sha256}`);
        }
      } catch (error) {
        problem(workflowId, `content: ${(error as Error).message}`);
      }
    });

    // The signer: no nonce gap, nothing stuck, every transaction accounted for.
    const latest = await rpc.getTransactionCount(plan.signer.address, 'latest');
    const pending = await rpc.getTransactionCount(plan.signer.address, 'pending');
    const head = await rpc.getBlockNumber();
    for (let n = deployment.blockNumber; n <= head; n++) {
      const block = await rpc.getBlock(n, true);
      for (const tx of block?.prefetchedTransactions ?? []) {
        if (tx.from.toLowerCase() !== plan.signer.address.toLowerCase()) continue;
        check.signerTxs++;
        const receipt = await rpc.getTransactionReceipt(tx.hash);
        if (receipt?.status !== 1) check.reverted++;
      }
    }
    if (latest !== pending || latest !== check.signerTxs) {
      check.general.push(`signer ${plan.signer.address}: latest nonce ${latest}, pending nonce ${pending}, ${check.signerTxs} transactions on chain`);
    }

    check.general.push(...(plan.minterProblems ?? []));
  } finally {
    rpc.destroy();
  }
  return check;
}

/** The run's minter runs: running idle (nothing queued, nothing in flight) or completed. Asked while its worker runs. */
async function minterProblems(atelier: AtelierClient, plan: RunPlan): Promise<string[]> {
  const problems: string[] = [];
  for await (const run of atelier.temporal.workflow.list({ query: `WorkflowType = 'minter' AND WorkflowId = '${plan.minterId}'` })) {
    if (run.status.name === 'RUNNING') {
      const status = await retrying(
        'the minter status',
        () => atelier.temporal.workflow.getHandle(run.workflowId, run.runId).query<MinterStatus>('minterStatus'),
        Date.now() + 60_000,
      ).catch((error: Error) => error);
      if (status instanceof Error) problems.push(`minter ${run.runId}: status query failed: ${status.message}`);
      else if (status.queued > 0 || status.inFlight)
        problems.push(`minter ${run.runId} still holds ${status.queued} queued, in flight ${JSON.stringify(status.inFlight)}`);
    } else if (run.status.name !== 'COMPLETED' && run.status.name !== 'CONTINUED_AS_NEW') {
      problems.push(`minter run ${run.runId} ended ${run.status.name}`);
    }
  }
  return problems;
}

/**
 * What the histories of a run's asset workflows and minter runs went through: workflow tasks that
 * failed (by cause and message) or timed out, activity attempts retried, activities that failed for
 * good. A worker killed mid-task leaves timeouts and retries; a failed workflow task names its cause.
 */
async function historyTally(atelier: AtelierClient, plan: RunPlan): Promise<string[]> {
  const tally = { workflowTaskTimedOut: 0, retriedAttempts: 0, activityFailed: 0 };
  const failedTasks = new Map<string, number>();
  const runs: { workflowId: string; runId?: string }[] = plan.specs.map((spec) => ({ workflowId: workflowIdOf(spec.collectionId, spec.assetKey) }));
  for await (const run of atelier.temporal.workflow.list({ query: `WorkflowId = '${plan.minterId}'` }))
    runs.push({ workflowId: run.workflowId, runId: run.runId });
  await inParallel(runs, 8, async ({ workflowId, runId }) => {
    const history = await atelier.temporal.workflow
      .getHandle(workflowId, runId)
      .fetchHistory()
      .catch(() => undefined);
    for (const event of history?.events ?? []) {
      if (event.workflowTaskTimedOutEventAttributes) tally.workflowTaskTimedOut++;
      // Only an activity's last attempt is in history: its number tells how many went before it.
      tally.retriedAttempts += Math.max(0, (event.activityTaskStartedEventAttributes?.attempt ?? 1) - 1);
      if (event.activityTaskFailedEventAttributes || event.activityTaskTimedOutEventAttributes) tally.activityFailed++;
      const failed = event.workflowTaskFailedEventAttributes;
      if (failed) {
        const cause = proto.temporal.api.enums.v1.WorkflowTaskFailedCause[failed.cause ?? 0] ?? String(failed.cause);
        const key = `${cause.replace('WORKFLOW_TASK_FAILED_CAUSE_', '')}: ${(failed.failure?.message ?? '').slice(0, 160)}`;
        failedTasks.set(key, (failedTasks.get(key) ?? 0) + 1);
      }
    }
  });
  const failedCount = [...failedTasks.values()].reduce((a, b) => a + b, 0);
  return [
    `${plan.label} histories (${runs.length} runs): ${tally.workflowTaskTimedOut} workflow tasks timed out, ${failedCount} failed; ` +
      `${tally.retriedAttempts} activity attempts retried, ${tally.activityFailed} activities failed or timed out for good`,
    ...[...failedTasks].map(([key, n]) => `  workflow task failed ${n}x: ${key}`),
  ];
}

/**
 * What a run that forged messages named went through, from its history: each mintResult it got (from
 * the minter or from someone else) and how often it asked the minter. Three refusals fail a run.
 */
async function targetSummary(atelier: AtelierClient, workflowId: string): Promise<string> {
  try {
    const history = await atelier.temporal.workflow.getHandle(workflowId).fetchHistory();
    const answers: string[] = [];
    let asks = 0;
    const scheduled = new Map<string, string>();
    for (const event of history.events ?? []) {
      const a = event.activityTaskScheduledEventAttributes;
      if (a) scheduled.set(String(event.eventId), a.activityType?.name ?? '?');
      if (event.activityTaskCompletedEventAttributes && scheduled.get(String(event.activityTaskCompletedEventAttributes.scheduledEventId)) === 'requestMint')
        asks++;
      const signal = event.workflowExecutionSignaledEventAttributes;
      if (signal?.signalName !== mintResultSignalName) continue;
      const payload = signal.input?.payloads?.[0]?.data;
      let answer: { ok?: unknown; type?: unknown; mint?: { tokenId?: unknown } } | null = null;
      try {
        answer = payload ? JSON.parse(Buffer.from(payload).toString('utf8')) : null;
      } catch {
        /* not JSON */
      }
      const from = signal.externalWorkflowExecution?.workflowId?.startsWith('minter:') ? 'minter' : 'forger';
      const what = answer?.ok === true ? `token ${answer.mint?.tokenId}` : answer?.ok === false ? `refusal ${answer.type}` : 'malformed';
      answers.push(`${what} (${from})`);
    }
    const description = await atelier.temporal.workflow.getHandle(workflowId).describe();
    return `${workflowId}: ${description.status.name}; asked the minter ${asks} times; mintResult signals: ${answers.join(', ') || 'none'}`;
  } catch (error) {
    return `${workflowId}: ${(error as Error).message}`;
  }
}

/** Writes the run's history to the data folder and sums up what it shows. */
async function explain(atelier: AtelierClient, workflowId: string, runId?: string): Promise<string[]> {
  const dir = path.join(config.dataDir, 'histories');
  fs.mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  try {
    const handle = atelier.temporal.workflow.getHandle(workflowId, runId);
    const history = await handle.fetchHistory();
    const file = path.join(dir, `${workflowId.replace(/[^\w.-]+/g, '_')}${runId ? `-${runId}` : ''}.json`);
    fs.writeFileSync(file, historyToJSON(history));
    const events = history.events ?? [];
    const decode = (payloads: { data?: Uint8Array | null }[] | null | undefined) =>
      (payloads ?? []).map((p) => (p.data ? Buffer.from(p.data).toString('utf8').slice(0, 240) : '')).join(', ');
    lines.push(`${workflowId}: ${events.length} events, history in ${path.relative(projectRoot, file)}`);
    const scheduled = new Map<string, string>();
    for (const event of events) {
      const id = String(event.eventId);
      const a = event.activityTaskScheduledEventAttributes;
      if (a) scheduled.set(id, a.activityType?.name ?? '?');
      const signal = event.workflowExecutionSignaledEventAttributes;
      if (signal) lines.push(`  #${id} signal ${signal.signalName}(${decode(signal.input?.payloads)}) from ${signal.identity}`);
      const failed = event.activityTaskFailedEventAttributes;
      if (failed) lines.push(`  #${id} ${scheduled.get(String(failed.scheduledEventId))} failed: ${failed.failure?.message?.slice(0, 200)}`);
      const timedOut = event.activityTaskTimedOutEventAttributes;
      if (timedOut) lines.push(`  #${id} ${scheduled.get(String(timedOut.scheduledEventId))} timed out`);
      const completed = event.activityTaskCompletedEventAttributes;
      if (completed && ['requestMint', 'confirmMint'].includes(scheduled.get(String(completed.scheduledEventId)) ?? '')) {
        lines.push(`  #${id} ${scheduled.get(String(completed.scheduledEventId))} -> ${decode(completed.result?.payloads)}`);
      }
      const closed = event.workflowExecutionFailedEventAttributes ?? event.workflowExecutionTerminatedEventAttributes;
      if (closed) lines.push(`  #${id} run ended: ${JSON.stringify(closed).slice(0, 300)}`);
    }
    const description = await handle.describe();
    lines.push(
      `  status ${description.status.name}; pending activities: ${(description.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name} attempt ${a.attempt} ${a.lastFailure?.message ?? ''}`).join('; ') || 'none'}`,
    );
  } catch (error) {
    lines.push(`${workflowId}: could not read its history: ${(error as Error).message}`);
  }
  return lines;
}

function report(label: string, check: RunCheck) {
  const failed = check.lost.length + check.twice.length + check.problems.size + check.general.length > 0;
  log(
    `${label} check: ${check.lost.length} lost, ${check.twice.length} minted twice, ${check.problems.size} assets with problems, ` +
      `${check.cidsChecked} CIDs fetched and hashed; signer sent ${check.signerTxs} transactions (${check.reverted} reverted)${failed ? '' : ': all good'}`,
  );
  for (const line of check.general) log(`  ${label}: ${line}`);
  for (const [workflowId, whys] of [...check.problems].slice(0, 30)) log(`  ${workflowId}: ${whys.join('; ')}`);
  if (check.problems.size > 30) log(`  ... and ${check.problems.size - 30} more`);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  log(
    `seed ${SEED} (again: npm run bench:chaos -- --seed ${SEED}${COUNT !== 200 ? ` --count ${COUNT}` : ''}${KILLS !== 20 ? ` --kills ${KILLS}` : ''}${args['minting-kills'] !== undefined ? ` --minting-kills ${MINTING_KILLS}` : ''}); ${COUNT} assets a run, ${KILLS} worker kills (${MINTING_KILLS} during mint batches), cap ${CAP_MS / 60_000} min`,
  );
  const workers: WorkerProcess[] = [];
  let atelier: AtelierClient | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const worker of workers) await worker.stop().catch(() => undefined);
      await atelier?.close().catch(() => undefined);
      await stack.down(() => {}).catch((error) => log(`teardown: ${(error as Error).message}`));
    })());
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Whatever happens, the invocation ends: 10 minutes past the cap it tears down and exits.
  const hardStop = setTimeout(
    () => {
      log('hard stop: 10 minutes past the cap');
      void cleanup().finally(() => process.exit(1));
    },
    CAP_MS + 10 * 60_000,
  );

  try {
    await stack.reset(() => {});
    await stack.up((line) => log(line));
    const deployment = await ensureDeployment(config);
    log(`stack up in ${seconds(Date.now() - began)} s, contract ${deployment.address}; data in ${path.relative(projectRoot, config.dataDir)}`);
    atelier = await AtelierClient.connect(config);
    fs.mkdirSync(stack.logDir, { recursive: true });

    const plans: RunPlan[] = [];
    for (const label of ['calm', 'chaos'] as const) {
      const signer = await newMinterSigner(deployment);
      const taskQueue = `bench-chaos-${label}`;
      const worker = new WorkerProcess(
        label,
        { ...env, ATELIER_SIGNER_KEY: signer.key, ATELIER_TASK_QUEUE: taskQueue, ATELIER_MINT_BATCH_WAIT_MS: BATCH_WAIT_MS },
        path.join(stack.logDir, `worker-${label}.log`),
      );
      workers.push(worker);
      plans.push({
        label,
        collectionId: `${label}-${SEED}`,
        taskQueue,
        specs: specsFor(`${label}-${SEED}`),
        signer,
        minterId: minterIdOf(deployment.chainId, deployment.address, signer.address),
        worker,
      });
    }
    const [calm, chaos] = plans as [RunPlan, RunPlan];

    // The calm run: the same work, no faults.
    const calmClient = await AtelierClient.connect({ ...config, ATELIER_TASK_QUEUE: calm.taskQueue });
    try {
      await calm.worker.start();
      log(`calm: worker polling ${calm.taskQueue} (signer ${calm.signer.address})`);
      await runWork(calmClient, calm);
      calm.minterProblems = await minterProblems(calmClient, calm);
    } finally {
      await calm.worker.stop();
      await calmClient.close();
    }
    const calmResult = calm.finished ? await atelier.result(workflowIdOf(calm.collectionId, '0')).catch(() => undefined) : undefined;
    const calmMetadataCid = calmResult?.metadataCid ?? 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';

    // The chaos run: the same work under the driver's faults, spread over the calm run's wall time.
    const window = calm.wallMs ?? 60_000;
    const chaosClient = await AtelierClient.connect({ ...config, ATELIER_TASK_QUEUE: chaos.taskQueue });
    let driver: Driver | undefined;
    try {
      if (!capReached()) {
        await chaos.worker.start();
        log(`chaos: worker polling ${chaos.taskQueue} (signer ${chaos.signer.address}); faults spread over ${seconds(window)} s`);
        driver = new Driver(chaosClient, chaos, { metadataCid: calmMetadataCid }, deployment.address, window);
        const { driverDone } = await runWork(chaosClient, chaos, (t0) => driver!.run(t0));
        driver.workDoneAt = Date.now();
        await driverDone;
        // Faults delivered late may still be settling (a service restarting): wait for the stack to answer.
        await retrying(
          'the stack to answer',
          async () => {
            const down = (await stack.status()).filter((s) => s.state !== 'up');
            if (down.length) throw new Error(down.map((s) => `${s.name} ${s.state}`).join(', '));
          },
          Date.now() + 120_000,
        );
        chaos.minterProblems = await minterProblems(chaosClient, chaos);
      }

      // Checks, from the outside; the chaos worker still runs (it answers the minter's status query).
      const chain = await readChain(deployment);
      const known = new Set(plans.flatMap((plan) => plan.specs.map((spec) => assetIdOf(spec.collectionId, spec.assetKey).toString())));
      const loggedTokens = [...chain.tokensOf.values()].flat();
      const forgedTokens = [...chain.tokensOf]
        .filter(([assetId]) => !known.has(assetId))
        .flatMap(([assetId, tokens]) => tokens.map((t) => `token ${t} for asset ${assetId}`));
      const orphans = [...chain.transfers].filter((t) => !loggedTokens.includes(t));
      const general: string[] = [];
      if (orphans.length) general.push(`tokens with a Transfer from zero but no mint log: ${orphans.join(', ')}`);
      if (chain.nextTokenId - 1n !== BigInt(chain.transfers.size)) general.push(`nextTokenId ${chain.nextTokenId} after ${chain.transfers.size} tokens`);
      log(`chain: ${chain.transfers.size} tokens, ${chain.tokensOf.size} assets with a token, ${forgedTokens.length} tokens for assets outside the runs`);
      for (const line of [...general, ...forgedTokens]) log(`  ${line}`);

      const checks: RunCheck[] = [];
      for (const plan of plans) {
        if (plan.wallMs === undefined) continue;
        const check = await checkRun(atelier, plan, chain, deployment);
        report(plan.label, check);
        for (const line of await historyTally(atelier, plan)) log(`  ${line}`);
        checks.push(check);
        const suspects = [...new Set([...check.lost, ...check.twice, ...check.problems.keys()])].slice(0, 10);
        for (const workflowId of suspects) for (const line of await explain(atelier, workflowId)) log(`  ${line}`);
        if (suspects.length > 0) {
          for await (const run of atelier.temporal.workflow.list({ query: `WorkflowId = '${plan.minterId}'` })) {
            for (const line of (await explain(atelier, run.workflowId, run.runId)).slice(0, 1)) log(`  minter ${line}`);
          }
        }
      }

      if (driver) {
        const late = driver.faults.filter((f) => f.late).length;
        const kinds = new Map<string, number>();
        for (const f of driver.faults)
          kinds.set(f.kind.replace(/ .*/, '').replace(/:$/, ''), (kinds.get(f.kind.replace(/ .*/, '').replace(/:$/, '')) ?? 0) + 1);
        log(
          `driver: ${driver.faults.length} faults (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}), ${late} of them after the last run closed; worker started ${chaos.worker.spawns} times, ${chaos.worker.unexpectedExits.length} exits not caused by the driver`,
        );
        for (const line of driver.skipped) log(`  not delivered: ${line}`);
        for (const workflowId of [...driver.targets].sort()) log(`  named by forgeries: ${await targetSummary(atelier, workflowId)}`);
        for (const line of driver.problems) log(`  driver: ${line}`);
      }
      log(
        `machine: ${os.cpus().length} cores, load average ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')} (1, 5, 15 min); whole invocation ${seconds(Date.now() - began)} s`,
      );

      const chaosCheck = chaos.wallMs !== undefined ? checks.at(-1) : undefined;
      const lost = chaosCheck ? chaosCheck.lost.length : COUNT;
      const twice = checks.reduce((n, c) => n + c.twice.length, 0);
      const forged = forgedTokens.length;
      const ratio = chaos.wallMs && calm.wallMs ? chaos.wallMs / calm.wallMs : NaN;
      const clean =
        calm.finished === true &&
        chaos.finished === true &&
        !capReached() &&
        general.length === 0 &&
        checks.every((c) => c.lost.length + c.twice.length + c.problems.size + c.general.length === 0) &&
        forged === 0 &&
        (driver?.problems.length ?? 1) === 0 &&
        chaos.worker.unexpectedExits.length === 0;
      log(
        `goal: 0 lost, 0 twice, 0 forged ${lost + twice + forged === 0 ? 'met' : 'NOT met'}; ratio <= 2 ${ratio <= 2 ? 'met' : 'NOT met'}; every check ${clean ? 'passed' : 'did NOT pass (see above)'}${capReached() ? '; the cap was reached' : ''}`,
      );
      console.log(
        `chaos: ${driver?.faults.length ?? 0} faults survived, ${lost} assets lost, ${twice} minted twice, ${forged} forged mints, ` +
          `wall ${chaos.wallMs !== undefined ? Math.round(chaos.wallMs / 1000) : '-'} s (ratio ${Number.isFinite(ratio) ? ratio.toFixed(2) : '-'} to the calm run)`,
      );
      return clean ? 0 : 1;
    } finally {
      await chaosClient.close();
    }
  } finally {
    await cleanup();
    clearTimeout(hardStop);
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
