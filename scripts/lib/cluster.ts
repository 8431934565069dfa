// A real Temporal cluster on PostgreSQL (not the dev server), all on loopback, with its state in a
// data folder: PostgreSQL from the system's packages, the schema set up by Temporal's SQL tool, the
// Temporal server (frontend, history, matching and worker services in one process) with the
// module's development-postgres12 config, and the Web UI server. Used by the cluster suite
// (vitest.cluster.config.ts) and `npm run cluster:up|cluster:down`.
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { projectRoot } from '../../common/config.ts';
import { isAlive, killGroup, portIsFree, waitUntil } from './processes.ts';
import { registerSearchAttributes } from './stack.ts';
import { ensureClusterTools } from './tools.ts';

/** The server version tools/temporal-server pins: its schema and config files come from that module. */
const serverModule = 'go.temporal.io/server@v1.29.1';

export interface ClusterOptions {
  /** Everything the cluster writes: PostgreSQL's data, configs, logs, pid files. */
  dataDir: string;
  /** PostgreSQL on 127.0.0.1. */
  postgresPort?: number;
  /** The frontend's gRPC port; the other services take ports near it (see `ports`). */
  frontendPort?: number;
  uiPort?: number;
  namespace?: string;
}

type Log = (line: string) => void;
type ProcessName = 'temporal-server' | 'ui-server';

interface PidRecord {
  pid: number;
  binary: string;
}

const run = promisify(execFile);

/** The defaults keep clear of the dev stack (7233...) and the test stacks (17233 + 100 a slot...). */
export const clusterDefaults = { postgresPort: 26543, frontendPort: 27233, uiPort: 28233 } as const;

export class Cluster {
  readonly dataDir: string;
  readonly namespace: string;
  readonly postgresPort: number;
  readonly uiPort: number;
  /** Every port the Temporal server binds, derived from the frontend's as 7233 -> 7234, 6933, ... in the module's config. */
  readonly ports: Record<
    'frontend' | 'history' | 'matching' | 'worker' | 'http' | 'pprof' | 'metrics' | `${'frontend' | 'history' | 'matching' | 'worker'}Membership`,
    number
  >;

  constructor(options: ClusterOptions) {
    this.dataDir = path.resolve(projectRoot, options.dataDir);
    this.namespace = options.namespace ?? 'default';
    this.postgresPort = options.postgresPort ?? clusterDefaults.postgresPort;
    this.uiPort = options.uiPort ?? clusterDefaults.uiPort;
    const f = options.frontendPort ?? clusterDefaults.frontendPort;
    this.ports = {
      frontend: f,
      history: f + 1,
      matching: f + 2,
      worker: f + 6,
      http: f + 10,
      frontendMembership: f - 300,
      historyMembership: f - 299,
      matchingMembership: f - 298,
      workerMembership: f - 294,
      pprof: f + 703,
      metrics: f + 767,
    };
  }

  get address() {
    return `127.0.0.1:${this.ports.frontend}`;
  }
  get uiUrl() {
    return `http://127.0.0.1:${this.uiPort}/namespaces/${this.namespace}/workflows`;
  }
  private get pgDir() {
    return path.join(this.dataDir, 'postgres');
  }
  private get pgData() {
    return path.join(this.pgDir, 'data');
  }
  private get pgSocketDir() {
    return path.join(this.pgDir, 'socket');
  }
  private get logDir() {
    return path.join(this.dataDir, 'logs');
  }
  private get runDir() {
    return path.join(this.dataDir, 'run');
  }

  /** PostgreSQL, schema, Temporal server, namespace and search attributes, Web UI; reuses what already runs. */
  async up(log: Log = console.log): Promise<void> {
    const started = Date.now();
    const tools = await ensureClusterTools();
    await this.startPostgres(log);
    await this.setupSchema(tools['temporal-sql-tool'], log);
    this.writeServerConfig();
    await this.startProcess('temporal-server', tools['temporal-server'], log);
    if (await this.registerNamespace(log)) {
      // A namespace and search attributes just written reach every service's caches at once after a
      // restart, instead of after their refresh intervals (10 s namespaces, 60 s search attributes).
      await this.restartServer(log);
    }
    this.writeUiConfig();
    await this.startProcess('ui-server', tools['ui-server'], log);
    log(`cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s: Temporal ${this.address}, Web UI ${this.uiUrl}`);
  }

  /** Stops the Temporal server process (SIGTERM, SIGKILL after the grace period) and starts it again on the same database. */
  async restartServer(log: Log = console.log, { signal = 'SIGTERM' as NodeJS.Signals, graceMs = 20_000 } = {}): Promise<number> {
    const started = Date.now();
    await this.stopProcess('temporal-server', { signal, graceMs });
    log(`temporal-server stopped (${signal})`);
    await this.startProcess('temporal-server', (await ensureClusterTools())['temporal-server'], log);
    const took = Date.now() - started;
    log(`temporal-server restarted in ${(took / 1000).toFixed(1)} s`);
    return took;
  }

  /** Stops the UI, the server and PostgreSQL; the data stays. */
  async down(log: Log = console.log): Promise<void> {
    if (await this.stopProcess('ui-server')) log('ui-server stopped');
    if (await this.stopProcess('temporal-server')) log('temporal-server stopped');
    if (this.postgresRunning()) {
      await this.asPostgres(path.join(postgresBinDir(), 'pg_ctl'), ['-D', this.pgData, '-m', 'fast', '-w', 'stop']);
      log('postgres stopped');
    }
  }

  /** Stops everything and deletes the data folder. */
  async reset(log: Log = console.log): Promise<void> {
    await this.down(log);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  // --- PostgreSQL ---------------------------------------------------------------------------

  private postgresRunning(): boolean {
    const pidFile = path.join(this.pgData, 'postmaster.pid');
    if (!fs.existsSync(pidFile)) return false;
    return isAlive(Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]));
  }

  /** Run as the `postgres` user when we are root (PostgreSQL refuses to run as root). */
  private async asPostgres(binary: string, args: string[]): Promise<string> {
    const [file, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
    try {
      return (await run(file, argv, { cwd: '/', maxBuffer: 16 * 1024 * 1024 })).stdout;
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${path.basename(binary)} ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
    }
  }

  private psql(sql: string, database = 'postgres'): Promise<string> {
    return this.asPostgres(psqlBinary(), [
      '-h',
      this.pgSocketDir,
      '-p',
      String(this.postgresPort),
      '-U',
      'postgres',
      '-d',
      database,
      '-v',
      'ON_ERROR_STOP=1',
      '-tAc',
      sql,
    ]);
  }

  private async startPostgres(log: Log): Promise<void> {
    const bin = postgresBinDir();
    if (!fs.existsSync(path.join(this.pgData, 'PG_VERSION'))) {
      fs.mkdirSync(this.pgSocketDir, { recursive: true });
      if (process.getuid?.() === 0) chownRecursive(this.pgDir, 'postgres');
      // Local (socket) connections trusted, TCP ones need the password: Temporal's login is checked.
      await this.asPostgres(path.join(bin, 'initdb'), [
        '-D',
        this.pgData,
        '-U',
        'postgres',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
      ]);
      fs.appendFileSync(
        path.join(this.pgData, 'postgresql.conf'),
        [
          '',
          '# atelier cluster (scripts/lib/cluster.ts)',
          "listen_addresses = '127.0.0.1'",
          `unix_socket_directories = '${this.pgSocketDir}'`,
          // 4 services x (20 + 2) connections from the server's config, plus the schema tool and psql.
          'max_connections = 200',
          '',
        ].join('\n'),
      );
      log(`postgres initialised ${path.relative(projectRoot, this.pgData)}`);
    }
    if (this.postgresRunning()) {
      log(`postgres already running on 127.0.0.1:${this.postgresPort}`);
    } else {
      await assertPortFree(this.postgresPort, 'postgres', 'the cluster option postgresPort');
      const logFile = path.join(this.pgDir, 'postgres.log');
      await this.asPostgres(path.join(bin, 'pg_ctl'), ['-D', this.pgData, '-l', logFile, '-o', `-p ${this.postgresPort}`, '-w', '-t', '60', 'start']);
      log(`postgres started on 127.0.0.1:${this.postgresPort} (log ${path.relative(projectRoot, logFile)})`);
    }
    if ((await this.psql("SELECT 1 FROM pg_roles WHERE rolname = 'temporal'")).trim() !== '1') {
      await this.psql("CREATE ROLE temporal LOGIN CREATEDB PASSWORD 'temporal'");
      log('postgres role temporal created');
    }
  }

  /** Both databases created once and brought to the module's latest schema version (a no-op when they are). */
  private async setupSchema(sqlTool: string, log: Log): Promise<void> {
    const schemaRoot = path.join(await serverModuleDir(), 'schema', 'postgresql', 'v12');
    for (const [database, folder] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ] as const) {
      const base = ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(this.postgresPort), '-u', 'temporal', '--pw', 'temporal', '--db', database];
      const sql = async (...args: string[]) => {
        try {
          await run(sqlTool, [...base, ...args], { maxBuffer: 16 * 1024 * 1024 });
        } catch (error) {
          const e = error as { stderr?: string; message: string };
          throw new Error(`temporal-sql-tool --db ${database} ${args.join(' ')} failed: ${e.stderr || e.message}`);
        }
      };
      const exists = (await this.psql(`SELECT 1 FROM pg_database WHERE datname = '${database}'`)).trim() === '1';
      if (!exists) {
        await sql('create-database');
        await sql('setup-schema', '-v', '0.0');
      }
      await sql('update-schema', '-d', path.join(schemaRoot, folder, 'versioned'));
      log(`schema ${database} ${exists ? 'up to date' : 'created'}`);
    }
  }

  // --- Temporal server and Web UI -------------------------------------------------------------

  /** The module's development-postgres12 config and its dynamic config, with our ports. */
  private writeServerConfig(): void {
    const moduleConfig = path.join(serverModuleDirSync(), 'config');
    const dir = path.join(this.dataDir, 'temporal-server', 'config');
    fs.mkdirSync(path.join(dir, 'dynamicconfig'), { recursive: true });
    const p = this.ports;
    const replacements: [RegExp, string][] = [
      [/127\.0\.0\.1:5432/g, `127.0.0.1:${this.postgresPort}`],
      [/grpcPort: 7233/, `grpcPort: ${p.frontend}`],
      [/grpcPort: 7234/, `grpcPort: ${p.history}`],
      [/grpcPort: 7235/, `grpcPort: ${p.matching}`],
      [/grpcPort: 7239/, `grpcPort: ${p.worker}`],
      [/membershipPort: 6933/, `membershipPort: ${p.frontendMembership}`],
      [/membershipPort: 6934/, `membershipPort: ${p.historyMembership}`],
      [/membershipPort: 6935/, `membershipPort: ${p.matchingMembership}`],
      [/membershipPort: 6939/, `membershipPort: ${p.workerMembership}`],
      [/httpPort: 7243/, `httpPort: ${p.http}`],
      [/port: 7936/, `port: ${p.pprof}`],
      [/127\.0\.0\.1:8000/, `127.0.0.1:${p.metrics}`],
      [/localhost:7233/, `127.0.0.1:${p.frontend}`],
      [/level: info/, 'level: warn'],
      [/\/tmp\/temporal_(vis_)?archival\/development/g, path.join(this.dataDir, 'archival')],
    ];
    let yaml = fs.readFileSync(path.join(moduleConfig, 'development-postgres12.yaml'), 'utf8');
    for (const [pattern, value] of replacements) {
      if (!pattern.test(yaml)) throw new Error(`${serverModule} config/development-postgres12.yaml changed: no ${pattern} to replace`);
      yaml = yaml.replace(pattern, value);
    }
    fs.writeFileSync(path.join(dir, 'development-postgres12.yaml'), yaml);
    const dynamic = fs
      .readFileSync(path.join(moduleConfig, 'dynamicconfig', 'development-sql.yaml'), 'utf8')
      .replace('http://localhost:7243/', `http://127.0.0.1:${p.http}/`);
    fs.writeFileSync(path.join(dir, 'dynamicconfig', 'development-sql.yaml'), dynamic);
  }

  private writeUiConfig(): void {
    const dir = path.join(this.dataDir, 'ui-server', 'config');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'development.yaml'),
      [
        `temporalGrpcAddress: ${this.address}`,
        'host: 127.0.0.1',
        `port: ${this.uiPort}`,
        'enableUi: true',
        `defaultNamespace: ${this.namespace}`,
        'refreshInterval: 1m',
        'cors:',
        '  allowOrigins:',
        `    - http://127.0.0.1:${this.uiPort}`,
        '',
      ].join('\n'),
    );
  }

  private processPlan(name: ProcessName): { args: string[]; cwd: string; ports: number[]; ready: () => Promise<boolean> } {
    if (name === 'temporal-server') {
      const root = path.join(this.dataDir, 'temporal-server');
      return {
        args: ['--root', root, '--config', 'config', '--env', 'development-postgres12', '--allow-no-auth', 'start'],
        cwd: root,
        ports: Object.values(this.ports),
        ready: () => this.serverAnswers(),
      };
    }
    const root = path.join(this.dataDir, 'ui-server');
    return {
      args: ['--root', root, '--config', 'config', '--env', 'development', 'start'],
      cwd: root,
      ports: [this.uiPort],
      ready: async () => {
        try {
          return (await fetch(`http://127.0.0.1:${this.uiPort}/api/v1/settings`, { signal: AbortSignal.timeout(2_000) })).ok;
        } catch {
          return false;
        }
      },
    };
  }

  private pidFile(name: ProcessName) {
    return path.join(this.runDir, `${name}.json`);
  }

  /** The process we started for `name`, if it is still alive (and still ours: pids get reused). */
  running(name: ProcessName): PidRecord | undefined {
    const file = this.pidFile(name);
    if (!fs.existsSync(file)) return undefined;
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as PidRecord;
    try {
      if (isAlive(record.pid) && fs.readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0')[0] === record.binary) return record;
    } catch {
      /* gone */
    }
    fs.rmSync(file, { force: true });
    return undefined;
  }

  private async startProcess(name: ProcessName, binary: string, log: Log): Promise<void> {
    const plan = this.processPlan(name);
    const existing = this.running(name);
    if (existing) {
      if (!(await waitUntil(plan.ready, 60_000))) throw new Error(`${name} (pid ${existing.pid}) does not answer`);
      log(`${name} already running (pid ${existing.pid})`);
      return;
    }
    for (const port of plan.ports) await assertPortFree(port, name, 'the cluster options frontendPort / uiPort');
    fs.mkdirSync(this.logDir, { recursive: true });
    fs.mkdirSync(this.runDir, { recursive: true });
    const logFile = path.join(this.logDir, `${name}.log`);
    const out = fs.openSync(logFile, 'a');
    const child = spawn(binary, plan.args, { cwd: plan.cwd, detached: true, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    child.unref();
    fs.writeFileSync(this.pidFile(name), JSON.stringify({ pid: child.pid!, binary } satisfies PidRecord));
    let exited: number | null | undefined;
    child.on('exit', (code) => (exited = code));
    const started = Date.now();
    const answered = await waitUntil(async () => {
      if (exited !== undefined) throw new Error(`${name} exited with code ${exited} while starting; see ${logFile}`);
      return plan.ready();
    }, 120_000);
    if (!answered) throw new Error(`${name} did not answer within 120 s; see ${logFile}`);
    log(`${name} started (pid ${child.pid}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }

  private async stopProcess(name: ProcessName, { signal = 'SIGTERM' as NodeJS.Signals, graceMs = 20_000 } = {}): Promise<boolean> {
    const record = this.running(name);
    if (!record) return false;
    killGroup(record.pid, signal);
    if (!(await waitUntil(async () => !isAlive(record.pid), graceMs))) {
      killGroup(record.pid, 'SIGKILL');
      if (!(await waitUntil(async () => !isAlive(record.pid), 10_000))) throw new Error(`${name} (pid ${record.pid}) did not stop`);
    }
    fs.rmSync(this.pidFile(name), { force: true });
    return true;
  }

  /** The frontend answers and the history service serves: the namespace (once registered) can be described and listed. */
  private async serverAnswers(): Promise<boolean> {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address: this.address, connectTimeout: 1_000 });
      await connection.workflowService.getSystemInfo({});
      const namespaces = await connection.workflowService.listNamespaces({ pageSize: 100 });
      if (!namespaces.namespaces?.some((n) => n.namespaceInfo?.name === this.namespace)) return true;
      await connection.workflowService.listWorkflowExecutions({ namespace: this.namespace, pageSize: 1 });
      return true;
    } catch {
      return false;
    } finally {
      await connection?.close();
    }
  }

  /** The namespace and Atelier's search attributes; true when something had to be written. */
  private async registerNamespace(log: Log): Promise<boolean> {
    const connection = await Connection.connect({ address: this.address });
    try {
      let changed = false;
      const namespace = this.namespace;
      const { namespaces } = await connection.workflowService.listNamespaces({ pageSize: 100 });
      if (!namespaces?.some((n) => n.namespaceInfo?.name === namespace)) {
        await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') });
        log(`namespace ${namespace} registered`);
        changed = true;
      }
      // The frontend finds a new namespace only after its cache refreshes: retry until it does.
      const added = await waitFor(() => registerSearchAttributes(connection.operatorService, namespace, this.address), 30_000);
      if (added.length > 0) {
        log(`search attributes ${added.join(', ')} added`);
        changed = true;
      }
      return changed;
    } finally {
      await connection.close();
    }
  }
}

// --- helpers -------------------------------------------------------------------------------------

/** PostgreSQL's server binaries: Debian keeps them in /usr/lib/postgresql/<version>/bin, others on PATH. */
export function postgresBinDir(): string {
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    const versions = fs
      .readdirSync(debian)
      .filter((v) => fs.existsSync(path.join(debian, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(debian, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'initdb'))) return path.dirname(fs.realpathSync(path.join(dir, 'initdb')));
  }
  throw new Error('PostgreSQL not found (no initdb in /usr/lib/postgresql/*/bin or on PATH). Install it: apt-get install -y postgresql');
}

function psqlBinary(): string {
  const beside = path.join(postgresBinDir(), 'psql');
  return fs.existsSync(beside) ? beside : 'psql';
}

/** The server module's folder in Go's module cache (schema and config files), downloaded if missing. */
async function serverModuleDir(): Promise<string> {
  const dir = serverModuleDirSync();
  if (!fs.existsSync(dir)) await run('go', ['mod', 'download', serverModule], { cwd: path.join(projectRoot, 'tools', 'temporal-server') });
  return dir;
}

function serverModuleDirSync(): string {
  const cache = execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
  return path.join(cache, serverModule);
}

function chownRecursive(dir: string, user: string): void {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }));
  const walk = (p: string) => {
    fs.chownSync(p, uid, gid);
    if (fs.statSync(p).isDirectory()) for (const entry of fs.readdirSync(p)) walk(path.join(p, entry));
  };
  walk(dir);
}

async function assertPortFree(port: number, service: string, setting: string): Promise<void> {
  const free = await waitUntil(() => portIsFree(port), 10_000);
  if (!free) throw new Error(`Cannot start ${service}: port ${port} on 127.0.0.1 is taken. Stop that process, or move the cluster with ${setting}.`);
}

/** Retries `attempt` until it resolves; the last error once the time is up. */
async function waitFor<T>(attempt: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
