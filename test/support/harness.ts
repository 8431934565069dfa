// Shared by the end-to-end tests: the test stack's config, one workflow bundle per test file,
// in-process workers, the CLI as a child process, and specs that are valid unless told otherwise.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { WorkflowBundle } from '@temporalio/worker';
import { JsonRpcProvider, Wallet, id as keccakOfText } from 'ethers';
import type { AssetSpec, AssetStatus, Stage } from '../../common/asset.ts';
import { ANVIL_DEV_KEY, loadConfig, projectRoot } from '../../common/config.ts';
import type { Config } from '../../common/config.ts';
import { contractLocation } from '../../common/deployment.ts';
import { parseAssetSpec } from '../../common/spec.ts';
import { AtelierClient } from '../../client/atelier.ts';
import { connectCreativeAsset } from '../../contracts/index.ts';
import { bundleAtelierWorkflows, createAtelierWorker } from '../../workers/worker.ts';
import { ensureGoTool } from '../../scripts/lib/tools.ts';
import { jsonRpc } from '../../scripts/lib/stack.ts';

export const config: Config = loadConfig();

// Workers log warnings and errors only: the tests' output stays readable.
Runtime.install({ logger: new DefaultLogger('WARN') });

let bundle: Promise<WorkflowBundle> | undefined;
export const workflowBundle = () => (bundle ??= bundleAtelierWorkflows(quietLogger()));

/**
 * A worker running in this process until `stop()`. It makes no Arweave copies unless the overrides
 * name ATELIER_ARWEAVE_URL: copies triple the format step (npm run bench:arweave), and the tests of
 * dynamic assets and of Arweave itself check them. Worker processes (spawnWorkerProcess) make them.
 */
export async function startWorker(overrides: Partial<Record<keyof Config, string>> = {}) {
  const workerConfig = loadConfig({ ...process.env, ATELIER_ARWEAVE_URL: '', ...overrides });
  const { worker, close } = await createAtelierWorker(workerConfig, { workflowBundle: await workflowBundle() });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await close();
    },
  };
}

export const uniqueCollection = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

export const recipient = new Wallet('0x' + '11'.repeat(32)).address;

export function testSpec(overrides: Partial<AssetSpec> & Record<string, unknown> = {}): AssetSpec {
  return parseAssetSpec({
    collectionId: uniqueCollection('test'),
    assetKey: '1',
    name: 'Test Critter',
    description: 'made by the test suite',
    recipient,
    generator: { kind: 'layers', layerSet: 'critters', traits: {}, seed: 7 },
    approval: { policy: 'manual', approvers: [], unsigned: true, remindAfter: '1h', expireAfter: '2h', maxRounds: 3 },
    ...overrides,
  });
}

/**
 * Each activity of a type in a run's history: its last attempt, how it ended ('completed', 'failed',
 * 'failed (non-retryable)', 'timedOut'), and when that attempt was a retry, why the one before it
 * ended: `retriedAfter` is the failure's message with its kind in brackets ('timeout', or the type).
 */
export async function activityAttempts(client: AtelierClient, workflowId: string, activityType: string) {
  const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
  const found = new Map<string, { attempt?: number; retriedAfter?: string; outcome?: string }>();
  for (const event of history.events ?? []) {
    if (event.activityTaskScheduledEventAttributes?.activityType?.name === activityType) found.set(String(event.eventId), {});
    const started = event.activityTaskStartedEventAttributes;
    const entry = started && found.get(String(started.scheduledEventId));
    if (entry) {
      entry.attempt = started.attempt ?? 0;
      const last = started.lastFailure;
      if (last) entry.retriedAfter = `${last.message} (${last.timeoutFailureInfo ? 'timeout' : (last.applicationFailureInfo?.type ?? 'failure')})`;
    }
    const failed = event.activityTaskFailedEventAttributes;
    for (const [outcome, attributes] of [
      ['completed', event.activityTaskCompletedEventAttributes],
      [failed?.failure?.applicationFailureInfo?.nonRetryable ? 'failed (non-retryable)' : 'failed', failed],
      ['timedOut', event.activityTaskTimedOutEventAttributes],
    ] as const) {
      const closed = attributes && found.get(String(attributes.scheduledEventId));
      if (closed) closed.outcome = outcome;
    }
  }
  return [...found.values()];
}

/**
 * Polls until `probe` gives a value; a probe that throws counts as not yet. A timeout names the last
 * probe's error and what `explain` says of the state.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, explain?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const value = await probe().catch((error: unknown) => {
      lastError = error;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      // What the wait last saw, so a timeout in CI explains itself.
      const seen = explain ? await explain().catch((error: unknown) => `(explaining failed: ${String(error)})`) : '';
      const failed = lastError === undefined ? '' : `; the last probe failed: ${String(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${failed}${seen ? `\n${seen}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function waitForStage(client: AtelierClient, workflowId: string, stage: Stage, timeoutMs = 60_000): Promise<AssetStatus> {
  return waitFor(
    `${workflowId} to reach ${stage}`,
    async () => {
      const status = await client.status(workflowId);
      return status.stage === stage ? status : undefined;
    },
    timeoutMs,
  );
}

/** Runs the real CLI in a child process, as a person would. */
export async function atelierCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(path.join(projectRoot, 'bin', 'atelier'), args, { env: process.env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

export function chain() {
  const provider = new JsonRpcProvider(config.ATELIER_ETH_RPC_URL, undefined, { staticNetwork: true, cacheTimeout: -1 });
  const contract = connectCreativeAsset(contractLocation(config).address, new Wallet(ANVIL_DEV_KEY, provider));
  return { provider, contract, close: () => provider.destroy() };
}

export async function gatewayGet(cidPath: string): Promise<Buffer> {
  const response = await fetch(`${config.ATELIER_KUBO_GATEWAY_URL}/ipfs/${cidPath}`);
  if (!response.ok) throw new Error(`gateway ${cidPath}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

function quietLogger() {
  const noop = () => {};
  return { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => console.error(m), log: noop };
}

/** With ATELIER_SAVE_HISTORIES=1, keeps a run's history for the replay test (test/histories/). */
export async function saveHistoryIfAsked(workflowId: string, name: string) {
  if (!process.env.ATELIER_SAVE_HISTORIES) return;
  // The CLI writes the canonical JSON form that Worker.runReplayHistories reads.
  const temporal = await ensureGoTool('temporal');
  const { stdout } = await promisify(execFile)(
    temporal,
    [
      'workflow',
      'show',
      '--workflow-id',
      workflowId,
      '--address',
      config.ATELIER_TEMPORAL_ADDRESS,
      '--namespace',
      config.ATELIER_TEMPORAL_NAMESPACE,
      '--output',
      'json',
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const dir = path.join(projectRoot, 'test', 'histories');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), stdout);
}

/** The real worker process (workers/main.ts), for tests that kill it. Resolves once it polls. */
export async function spawnWorkerProcess(env: Record<string, string> = {}): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'workers', 'main.ts')], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start within 90 s:\n${output}`)), 90_000);
    const collect = (chunk: Buffer) => {
      output += chunk;
      if (output.includes('worker polling')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${output}`)));
  });
  return { child, output: () => output };
}

/** SIGKILL, and wait until the process is gone. */
export async function killProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/**
 * A fresh signer with gas money and MINTER_ROLE: a nonce sequence of its own, so a test can count
 * every transaction it sent (and, in batch mode, a minter workflow of its own).
 */
export async function newMinterSigner(): Promise<{ key: string; address: string }> {
  const wallet = Wallet.createRandom();
  const { contract, close } = chain();
  try {
    await jsonRpc(config.ATELIER_ETH_RPC_URL, 'anvil_setBalance', [wallet.address, '0x56bc75e2d63100000']); // 100 ETH
    await (await contract.grantRole(keccakOfText('MINTER_ROLE'), wallet.address)).wait();
  } finally {
    close();
  }
  return { key: wallet.privateKey, address: wallet.address };
}

/** The hashes of `signer`'s transactions waiting in Anvil's pool (automine off), by nonce. */
export async function pooledTxsOf(signer: string): Promise<{ hash: string; nonce: string; maxFeePerGas: string }[]> {
  const pool = (await jsonRpc(config.ATELIER_ETH_RPC_URL, 'txpool_content')) as
    | { pending?: Record<string, Record<string, { hash: string; nonce: string; maxFeePerGas: string }>> }
    | undefined;
  if (!pool) throw new Error('txpool_content did not answer');
  const entry = Object.entries(pool.pending ?? {}).find(([address]) => address.toLowerCase() === signer.toLowerCase());
  return entry ? Object.values(entry[1]).sort((a, b) => Number(BigInt(a.nonce) - BigInt(b.nonce))) : [];
}

/**
 * A pass-through JSON-RPC endpoint in front of the test chain that notes every call it forwards
 * (method and params); Anvil answers everything, unchanged. A worker pointed at `url` shows what it
 * asked the chain, so a test can wait for it to have looked at a transaction instead of sleeping.
 */
export async function recordedRpc(target = config.ATELIER_ETH_RPC_URL) {
  const calls: { method: string; params: unknown[] }[] = [];
  const forward = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    try {
      for (const call of [JSON.parse(body.toString()) as { method: string; params?: unknown[] }].flat())
        calls.push({ method: call.method, params: call.params ?? [] });
    } catch {
      // Not JSON: forwarded as it is, Anvil answers the error.
    }
    try {
      const upstream = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      response.end(Buffer.from(await upstream.arrayBuffer()));
    } catch (error) {
      response.writeHead(502).end((error as Error).message);
    }
  };
  const server = http.createServer((request, response) => void forward(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    /** The calls of `method`, optionally only those whose first param is `first`. */
    callsOf: (method: string, first?: unknown) => calls.filter((c) => c.method === method && (first === undefined || c.params[0] === first)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The attempt of the recorded start of an activity type, once history has it. */
export async function startedAttempt(client: AtelierClient, workflowId: string, activityType: string): Promise<number | undefined> {
  const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  for (const event of history.events ?? []) {
    const attributes = event.activityTaskScheduledEventAttributes;
    if (attributes) scheduled.set(String(event.eventId), attributes.activityType?.name ?? '');
    const started = event.activityTaskStartedEventAttributes;
    if (started && scheduled.get(String(started.scheduledEventId)) === activityType) return started.attempt ?? 0;
  }
  return undefined;
}
