// The local stack: Temporal dev server (with Web UI), an offline Kubo node and Anvil,
// all on loopback, with their state in the data folder. Used by `npm run stack:*`,
// the demo and the test suite's global setup. With a local ATELIER_ARWEAVE_URL (config.arweave.local)
// it also runs arlocal, an Arweave gateway, on that URL's port, with a funded dev wallet.
//
// With an external Temporal (config.temporal.external: a profile, TEMPORAL_ADDRESS, TLS or an API key,
// a non-loopback address, or ATELIER_TEMPORAL_EXTERNAL=true; see common/temporalConnection.ts), or
// `new Stack(config, { temporal: 'external' })`, the stack starts only Kubo and Anvil: `up` checks that
// Temporal answers and registers Atelier's search attributes on its namespace when they are missing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { Config } from '../../common/config.ts';
import { atelierSearchAttributes } from '../../common/searchAttributes.ts';
import { temporalConnectOptions } from '../../common/temporalConnection.ts';
import { isAlive, killGroup, portIsFree, waitUntil } from './processes.ts';
import { anvilBinary, ensureGoTool } from './tools.ts';

export type ServiceName = 'temporal' | 'kubo' | 'anvil' | 'arweave';
export const serviceNames: ServiceName[] = ['temporal', 'kubo', 'anvil', 'arweave'];

/** arlocal's command-line program, run by this Node.js. */
const arlocalScript = () => createRequire(import.meta.url).resolve('arlocal/bin/index.js');

/** What the dev wallet gets on the local gateway (winston): 1000 AR, topped up below 100 AR (arlocal charges ~0.066 AR a KB). */
const ARLOCAL_FUNDS = 10n ** 15n;
const ARLOCAL_TOP_UP_BELOW = 10n ** 14n;

interface PidRecord {
  pid: number;
  binary: string;
  args: string[];
  startedAt: string;
}

interface ServicePlan {
  name: ServiceName;
  /** Ports the service binds, each with the variable that sets it (for error messages). */
  ports: { port: number; variable: string }[];
  binary: () => Promise<string>;
  args: (binary: string) => Promise<string[]> | string[];
  env?: Record<string, string>;
  /** The working folder (arlocal writes its request log `logs` into it). */
  cwd?: string;
  ready: () => Promise<boolean>;
  address: string;
}

const portOf = (url: string) => Number(new URL(url).port || (url.startsWith('https') ? 443 : 80));

export interface StackOptions {
  /** 'external': never start or stop a Temporal server, use the configured one. Default: config.temporal.external. */
  temporal?: 'embedded' | 'external';
}

export interface ServiceStatus {
  name: ServiceName;
  state: 'up' | 'down' | 'not answering';
  pid?: number;
  address: string;
  /** Temporal only: a server the stack does not start. */
  external?: boolean;
}

export class Stack {
  /** Whether Temporal is a server this stack does not start (then it runs only Kubo and Anvil). */
  readonly temporalExternal: boolean;

  constructor(
    readonly config: Config,
    options: StackOptions = {},
  ) {
    this.temporalExternal = options.temporal ? options.temporal === 'external' : (config.temporal?.external ?? false);
  }

  /** The services this stack starts and stops: all three, or Kubo and Anvil beside an external Temporal; arlocal for a local Arweave URL. */
  get services(): ServiceName[] {
    return serviceNames.filter((name) => (name !== 'temporal' || !this.temporalExternal) && (name !== 'arweave' || this.config.arweave?.local));
  }

  get runDir() {
    return path.join(this.config.dataDir, 'run');
  }
  get logDir() {
    return path.join(this.config.dataDir, 'logs');
  }
  get temporalDbFile() {
    return path.join(this.config.dataDir, 'temporal', 'temporal.db');
  }
  get ipfsPath() {
    return path.join(this.config.dataDir, 'ipfs');
  }
  get anvilStateFile() {
    return path.join(this.config.dataDir, 'anvil', 'state.json');
  }
  /** arlocal's folder: its SQLite database (db/db.sqlite, kept across restarts with --persist) and request log. */
  get arweaveDir() {
    return path.join(this.config.dataDir, 'arweave');
  }
  get temporalUiUrl() {
    const namespace = this.config.ATELIER_TEMPORAL_NAMESPACE;
    if (!this.temporalExternal) return `http://127.0.0.1:${this.config.ATELIER_TEMPORAL_UI_PORT}/namespaces/${namespace}/workflows`;
    if (/\.tmprl\.cloud:\d+$/.test(this.config.ATELIER_TEMPORAL_ADDRESS)) return `https://cloud.temporal.io/namespaces/${namespace}/workflows`;
    return `(the Web UI of the Temporal server at ${this.config.ATELIER_TEMPORAL_ADDRESS}, namespace ${namespace})`;
  }

  private plan(name: ServiceName): ServicePlan {
    const c = this.config;
    switch (name) {
      case 'temporal': {
        const grpcPort = Number(c.ATELIER_TEMPORAL_ADDRESS.split(':')[1]);
        const uiPort = c.ATELIER_TEMPORAL_UI_PORT;
        // The dev server's HTTP API and metrics ports follow the UI port so that two
        // stacks (dev and test) never collide on a default.
        const httpPort = uiPort + 1;
        const metricsPort = uiPort + 2;
        return {
          name,
          ports: [
            { port: grpcPort, variable: 'ATELIER_TEMPORAL_ADDRESS' },
            { port: uiPort, variable: 'ATELIER_TEMPORAL_UI_PORT' },
            { port: httpPort, variable: 'ATELIER_TEMPORAL_UI_PORT (+1, HTTP API)' },
            { port: metricsPort, variable: 'ATELIER_TEMPORAL_UI_PORT (+2, metrics)' },
          ],
          binary: () => ensureGoTool('temporal'),
          args: () => {
            fs.mkdirSync(path.dirname(this.temporalDbFile), { recursive: true });
            return [
              'server',
              'start-dev',
              '--ip',
              '127.0.0.1',
              '--port',
              String(grpcPort),
              '--ui-port',
              String(uiPort),
              '--http-port',
              String(httpPort),
              '--metrics-port',
              String(metricsPort),
              '--db-filename',
              this.temporalDbFile,
              // The dev server writes through one SQLite connection; a write-ahead log without a sync per
              // commit keeps "task started" writes inside the server's 1 s sync-match deadline under load
              // (past it, a task is dropped and waits out its whole timeout).
              '--sqlite-pragma',
              'journal_mode=wal',
              '--sqlite-pragma',
              'synchronous=normal',
              '--namespace',
              c.ATELIER_TEMPORAL_NAMESPACE,
              '--log-level',
              'warn',
              ...atelierSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=${cliTypeName(key.type)}`]),
            ];
          },
          ready: () => this.temporalAnswers(),
          address: c.ATELIER_TEMPORAL_ADDRESS,
        };
      }
      case 'kubo':
        return {
          name,
          ports: [
            { port: portOf(c.ATELIER_KUBO_API_URL), variable: 'ATELIER_KUBO_API_URL' },
            { port: portOf(c.ATELIER_KUBO_GATEWAY_URL), variable: 'ATELIER_KUBO_GATEWAY_URL' },
          ],
          binary: () => ensureGoTool('ipfs'),
          args: async (binary) => {
            await this.prepareKuboRepo(binary);
            return ['daemon', '--offline'];
          },
          env: { IPFS_PATH: this.ipfsPath },
          ready: async () => (await postOk(`${c.ATELIER_KUBO_API_URL}/api/v0/id`)) !== undefined,
          address: c.ATELIER_KUBO_API_URL,
        };
      case 'anvil':
        return {
          name,
          ports: [{ port: portOf(c.ATELIER_ETH_RPC_URL), variable: 'ATELIER_ETH_RPC_URL' }],
          binary: async () => anvilBinary(),
          args: () => {
            fs.mkdirSync(path.dirname(this.anvilStateFile), { recursive: true });
            return [
              '--host',
              '127.0.0.1',
              '--port',
              String(portOf(c.ATELIER_ETH_RPC_URL)),
              '--chain-id',
              '31337',
              // Loaded at start, dumped at exit and every second, so even a SIGKILL loses at most a second.
              '--state',
              this.anvilStateFile,
              '--state-interval',
              '1',
            ];
          },
          ready: async () => (await jsonRpc(c.ATELIER_ETH_RPC_URL, 'eth_chainId')) !== undefined,
          address: c.ATELIER_ETH_RPC_URL,
        };
      case 'arweave': {
        // Only for a local gateway; its address otherwise names the default (for status and errors).
        const url = c.arweave?.local ? c.arweave.url : 'http://127.0.0.1:1984';
        return {
          name,
          ports: [{ port: portOf(url), variable: 'ATELIER_ARWEAVE_URL' }],
          binary: async () => process.execPath,
          args: () => {
            fs.mkdirSync(this.arweaveDir, { recursive: true });
            // --persist keeps the database (wallets, transactions, blocks) across restarts; --dbpath is taken from the
            // working folder. --hidelogs: arlocal would print every posted transaction, data included, to its log; the
            // request lines still go to `logs` in its folder.
            return [arlocalScript(), String(portOf(url)), '--persist', '--dbpath', 'db', '--hidelogs'];
          },
          cwd: this.arweaveDir,
          ready: async () => (await getJson(`${url}/info`)) !== undefined,
          address: url,
        };
      }
    }
  }

  private pidFile(name: ServiceName) {
    return path.join(this.runDir, `${name}.json`);
  }

  /** The process `up` started for this service, if it is still alive. */
  running(name: ServiceName): PidRecord | undefined {
    const file = this.pidFile(name);
    if (!fs.existsSync(file)) return undefined;
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as PidRecord;
    if (isOurProcess(record)) return record;
    fs.rmSync(file, { force: true });
    return undefined;
  }

  /** Starts the service unless it already runs, then waits until it answers. */
  async start(name: ServiceName, log: (line: string) => void = console.log): Promise<void> {
    if (name === 'temporal' && this.temporalExternal) {
      throw new Error(`Temporal is external (${this.externalReason}): the stack does not start it; it uses ${this.config.ATELIER_TEMPORAL_ADDRESS}`);
    }
    const plan = this.plan(name);
    const existing = this.running(name);
    if (existing) {
      if (!(await waitUntil(plan.ready, 30_000))) throw new Error(`${name} (pid ${existing.pid}) did not answer at ${plan.address}`);
      if (name === 'arweave') await this.ensureArweaveWallet();
      log(`${name.padEnd(8)} already running (pid ${existing.pid}) at ${plan.address}`);
      return;
    }
    for (const { port, variable } of plan.ports) {
      // Sockets of a killed server can linger a few seconds; only a listener means "taken".
      const free = await waitUntil(() => portIsFree(port), portHasListener(port) ? 0 : 30_000);
      if (!free) {
        throw new Error(
          `Cannot start ${name}: port ${port} on 127.0.0.1 is held by another process that atelier did not start.\n` +
            `Stop that process, or pick another port with ${variable}.` +
            (name === 'temporal'
              ? `\nIf it is a Temporal server Atelier should use, say so: ATELIER_TEMPORAL_EXTERNAL=true (the stack then starts only Kubo and Anvil).`
              : ''),
        );
      }
    }
    const binary = await plan.binary();
    const args = await plan.args(binary);
    fs.mkdirSync(this.runDir, { recursive: true });
    fs.mkdirSync(this.logDir, { recursive: true });
    const logFile = path.join(this.logDir, `${name}.log`);
    const out = fs.openSync(logFile, 'a');
    const child = spawn(binary, args, {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, ...plan.env },
      cwd: plan.cwd,
    });
    fs.closeSync(out);
    child.unref();
    const record: PidRecord = { pid: child.pid!, binary, args, startedAt: new Date().toISOString() };
    fs.writeFileSync(this.pidFile(name), JSON.stringify(record, null, 2));
    let exited: number | null | undefined;
    child.on('exit', (code) => (exited = code));
    const answered = await waitUntil(async () => {
      if (exited !== undefined) throw new Error(`${name} exited with code ${exited} while starting; see ${logFile}`);
      return plan.ready();
    }, 60_000);
    if (!answered) throw new Error(`${name} did not answer at ${plan.address} within 60 s; see ${logFile}`);
    if (name === 'temporal') await this.ensureSearchAttributes();
    if (name === 'arweave') await this.ensureArweaveWallet();
    log(`${name.padEnd(8)} started (pid ${record.pid}) at ${plan.address}`);
  }

  /** Stops what `up` started: SIGTERM, then SIGKILL after the grace period. SIGKILL at once when asked. */
  async stop(name: ServiceName, { signal = 'SIGTERM' as NodeJS.Signals, graceMs = 15_000 } = {}): Promise<boolean> {
    const record = this.running(name);
    if (!record) return false;
    killGroup(record.pid, signal);
    if (!(await waitUntil(async () => !isAlive(record.pid), graceMs))) {
      killGroup(record.pid, 'SIGKILL');
      if (!(await waitUntil(async () => !isAlive(record.pid), 5_000))) throw new Error(`${name} (pid ${record.pid}) did not stop`);
    }
    fs.rmSync(this.pidFile(name), { force: true });
    return true;
  }

  async up(log: (line: string) => void = console.log): Promise<void> {
    // Tools first (one build at a time on small machines), then the services side by side.
    if (!this.temporalExternal) await ensureGoTool('temporal');
    await ensureGoTool('ipfs');
    await Promise.all([...this.services.map((name) => this.start(name, log)), ...(this.temporalExternal ? [this.useExternalTemporal(log)] : [])]);
  }

  private get externalReason(): string {
    return this.config.temporal?.external ? this.config.temporal.externalReason : "the stack's options";
  }

  /** An external Temporal: it must answer (30 s), and Atelier's search attributes are added if missing. */
  private async useExternalTemporal(log: (line: string) => void): Promise<void> {
    const { ATELIER_TEMPORAL_ADDRESS: address, ATELIER_TEMPORAL_NAMESPACE: namespace } = this.config;
    let lastError = '';
    const answered = await waitUntil(async () => {
      lastError = (await this.temporalProblem()) ?? '';
      return lastError === '';
    }, 30_000);
    if (!answered) {
      throw new Error(`Temporal at ${address} (external: ${this.externalReason}) did not answer for namespace ${namespace} within 30 s: ${lastError}`);
    }
    await this.ensureSearchAttributes();
    log(`${'temporal'.padEnd(8)} external at ${address}, namespace ${namespace} (${this.externalReason})`);
  }

  async down(log: (line: string) => void = console.log): Promise<void> {
    // Everything `up` started, whatever the configuration says now (an embedded server started
    // before Temporal became external is stopped too); an external server is never touched.
    for (const name of serviceNames) {
      if (await this.stop(name)) log(`${name.padEnd(8)} stopped`);
    }
  }

  async status(): Promise<ServiceStatus[]> {
    // arlocal only when this configuration runs it, or an earlier one left it running.
    const shown = serviceNames.filter((name) => name !== 'arweave' || this.services.includes(name) || this.running(name));
    return Promise.all(
      shown.map(async (name) => {
        const plan = this.plan(name);
        if (name === 'temporal' && this.temporalExternal) {
          const answers = (await this.temporalProblem()) === undefined;
          return { name, state: answers ? ('up' as const) : ('not answering' as const), address: plan.address, external: true };
        }
        const record = this.running(name);
        if (!record) return { name, state: 'down' as const, address: plan.address };
        const answers = await plan.ready().catch(() => false);
        return { name, state: answers ? ('up' as const) : ('not answering' as const), pid: record.pid, address: plan.address };
      }),
    );
  }

  /** Stops everything and deletes the data folder: a fresh chain, node and Temporal database. */
  async reset(log: (line: string) => void = console.log): Promise<void> {
    await this.down(log);
    fs.rmSync(this.config.dataDir, { recursive: true, force: true });
    log(`removed ${this.config.dataDir}`);
  }

  private async temporalAnswers(): Promise<boolean> {
    return (await this.temporalProblem()) === undefined;
  }

  /** Why Temporal does not answer describeNamespace with the configured connection, or undefined when it does. */
  private async temporalProblem(): Promise<string | undefined> {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ ...temporalConnectOptions(this.config), connectTimeout: 2_000 });
      await connection.workflowService.describeNamespace({ namespace: this.config.ATELIER_TEMPORAL_NAMESPACE });
      return undefined;
    } catch (error) {
      return (error as Error).message || String(error);
    } finally {
      await connection?.close().catch(() => {});
    }
  }

  /**
   * Atelier's search attributes on the namespace, added where missing: `--search-attribute` does not
   * reach a namespace already stored in the dev server's SQLite file, and an external server may not
   * have them yet. Credentials that may not add them get an error naming each one and the command an
   * admin runs.
   */
  async ensureSearchAttributes(): Promise<void> {
    const connection = await Connection.connect(temporalConnectOptions(this.config));
    try {
      await registerSearchAttributes(connection.operatorService, this.config.ATELIER_TEMPORAL_NAMESPACE, this.config.ATELIER_TEMPORAL_ADDRESS);
    } finally {
      await connection.close();
    }
  }

  /**
   * The local gateway's dev wallet: a JWK key file made once (mode 600, never printed) where the
   * worker reads it (config.arweave.walletFile), and funded through arlocal's /mint whenever it runs low.
   */
  async ensureArweaveWallet(): Promise<string> {
    const settings = this.config.arweave;
    if (!settings?.local) throw new Error('the stack runs arlocal only for a local ATELIER_ARWEAVE_URL');
    const { default: Arweave } = await import('arweave');
    const arweave = Arweave.init({});
    if (!fs.existsSync(settings.walletFile)) {
      const key = await arweave.wallets.generate();
      fs.mkdirSync(path.dirname(settings.walletFile), { recursive: true });
      fs.writeFileSync(settings.walletFile, JSON.stringify(key), { mode: 0o600, flag: 'wx' });
    }
    const key = JSON.parse(fs.readFileSync(settings.walletFile, 'utf8'));
    const address = await arweave.wallets.jwkToAddress(key);
    const balance = await fetch(`${settings.url}/wallet/${address}/balance`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text());
    if (!/^\d+$/.test(balance.trim()) || BigInt(balance.trim()) < ARLOCAL_TOP_UP_BELOW) {
      const minted = await fetch(`${settings.url}/mint/${address}/${ARLOCAL_FUNDS}`, { signal: AbortSignal.timeout(5_000) });
      if (!minted.ok) throw new Error(`arlocal at ${settings.url} did not fund the dev wallet ${address}: HTTP ${minted.status}`);
    }
    return address;
  }

  /** An offline node with no peers: repo created once, addresses re-applied on every start. */
  private async prepareKuboRepo(binary: string): Promise<void> {
    const configFile = path.join(this.ipfsPath, 'config');
    if (!fs.existsSync(configFile)) {
      fs.mkdirSync(this.ipfsPath, { recursive: true });
      await run(binary, ['init', '--profile', 'test', '--empty-repo'], { IPFS_PATH: this.ipfsPath });
    }
    const kuboConfig = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    kuboConfig.Addresses.API = `/ip4/127.0.0.1/tcp/${portOf(this.config.ATELIER_KUBO_API_URL)}`;
    kuboConfig.Addresses.Gateway = `/ip4/127.0.0.1/tcp/${portOf(this.config.ATELIER_KUBO_GATEWAY_URL)}`;
    kuboConfig.Addresses.Swarm = [];
    kuboConfig.Bootstrap = [];
    kuboConfig.Gateway = { ...kuboConfig.Gateway, NoFetch: true };
    fs.writeFileSync(configFile, JSON.stringify(kuboConfig, null, 2));
  }
}

/** The operator service calls registerSearchAttributes makes (a Connection's operatorService has them). */
export interface SearchAttributeOperator {
  listSearchAttributes(request: { namespace: string }): Promise<{ customAttributes?: Record<string, unknown> | null }>;
  addSearchAttributes(request: { namespace: string; searchAttributes: Record<string, IndexedValueType> }): Promise<unknown>;
}

/** gRPC status codes that mean "these credentials may not" (or the server does not offer it: Temporal Cloud). */
const PERMISSION_DENIED = 7;
const UNIMPLEMENTED = 12;

/** Adds Atelier's search attributes that the namespace lacks; a refusal names each one and the admin's command. */
export async function registerSearchAttributes(operator: SearchAttributeOperator, namespace: string, address: string): Promise<string[]> {
  let missing: (typeof atelierSearchAttributes)[number][] = [...atelierSearchAttributes];
  try {
    const { customAttributes } = await operator.listSearchAttributes({ namespace });
    missing = atelierSearchAttributes.filter((key) => !(key.name in (customAttributes ?? {})));
    if (missing.length === 0) return [];
    await operator.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, indexedValueType(key.type)])),
    });
    return missing.map((key) => key.name);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== PERMISSION_DENIED && code !== UNIMPLEMENTED) throw error;
    const kind = code === PERMISSION_DENIED ? 'PermissionDenied' : 'Unimplemented';
    const names = missing.map((key) => `${key.name} (${cliTypeName(key.type)})`).join(', ');
    const commands = missing.map(
      (key) => `  temporal operator search-attribute create --address ${address} --namespace ${namespace} --name ${key.name} --type ${cliTypeName(key.type)}`,
    );
    const cloud = `  tcld namespace search-attributes add --namespace ${namespace} ${missing.map((key) => `--search-attribute "${key.name}=${cliTypeName(key.type)}"`).join(' ')}`;
    throw new Error(
      `Temporal namespace ${namespace} at ${address} needs the search attributes ${names}, and these credentials may not add them ` +
        `(${kind}: ${(error as { details?: string }).details ?? (error as Error).message}).\n` +
        `An admin of the namespace must add them, once:\n${commands.join('\n')}\n` +
        `On Temporal Cloud (tcld, or the namespace's page in the Cloud UI):\n${cloud}`,
    );
  }
}

function cliTypeName(type: string): string {
  // The CLI spells types as the server does: Keyword, Int, ...
  return { KEYWORD: 'Keyword', INT: 'Int', TEXT: 'Text', BOOL: 'Bool', DOUBLE: 'Double', DATETIME: 'Datetime', KEYWORD_LIST: 'KeywordList' }[type] ?? type;
}

type IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;

function indexedValueType(type: string): IndexedValueType {
  const { IndexedValueType } = proto.temporal.api.enums.v1;
  const byName: Record<string, IndexedValueType> = {
    KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  };
  const value = byName[type];
  if (value === undefined) throw new Error(`no indexed value type for search attribute type ${type}`);
  return value;
}

function isOurProcess(record: PidRecord): boolean {
  if (!isAlive(record.pid)) return false;
  try {
    const cmdline = fs.readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0');
    return cmdline[0] === record.binary;
  } catch {
    return true;
  }
}

/** Whether some process listens on the loopback port (Linux: /proc/net/tcp; elsewhere assume so). */
function portHasListener(port: number): boolean {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    return fs
      .readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .some((line) => {
        const [, local, , state] = line.trim().split(/\s+/);
        return local?.endsWith(`:${hexPort}`) && state === '0A';
      });
  } catch {
    return true;
  }
}

async function getJson(url: string): Promise<unknown> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return response.ok ? await response.json() : undefined;
  } catch {
    return undefined;
  }
}

async function postOk(url: string): Promise<unknown> {
  try {
    const response = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(2_000) });
    return response.ok ? await response.json() : undefined;
  } catch {
    return undefined;
  }
}

export async function jsonRpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await response.json()) as { result?: unknown };
    return body.result;
  } catch {
    return undefined;
  }
}

function run(binary: string, args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${binary} ${args.join(' ')} failed (${code}): ${stderr}`))));
  });
}
