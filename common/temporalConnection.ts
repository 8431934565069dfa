// Where Temporal is and how to reach it, resolved the way Temporal's own tools do (a TOML profile,
// then the TEMPORAL_* variables, through @temporalio/envconfig), with Atelier's ATELIER_TEMPORAL_ADDRESS
// and ATELIER_TEMPORAL_NAMESPACE on top. Called by loadConfig (common/config.ts), so a wrong setting
// stops the program at start with the variable's name and the problem; secrets (an API key, a client
// key's data) are never shown. Workers, clients and the stack connect with temporalConnectOptions.
//
// Precedence, per setting, highest first:
//   1. ATELIER_TEMPORAL_ADDRESS / ATELIER_TEMPORAL_NAMESPACE (Atelier's own, scoped to this program)
//   2. TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS* (the standard variables)
//   3. the profile TEMPORAL_PROFILE names (else "default") in TEMPORAL_CONFIG_FILE (else
//      ~/.config/temporalio/temporal.toml)
//   4. the embedded dev server: 127.0.0.1:7233, namespace default, no TLS
// ATELIER_* wins because TEMPORAL_* is often exported machine-wide for the `temporal` CLI, while an
// ATELIER_* value is set for Atelier alone (the test suite and the benchmarks set it to point at their
// own stacks, and must not be moved by a developer's shell). TLS and API keys have no ATELIER_* alias.
import fs from 'node:fs';
import path from 'node:path';
import { loadClientConfig, loadClientConfigProfile } from '@temporalio/envconfig';
import type { ClientConfigProfile, ConfigDataSource } from '@temporalio/envconfig';

/** The embedded dev server's own address (the stack's default) and namespace. */
export const EMBEDDED_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const EMBEDDED_TEMPORAL_NAMESPACE = 'default';

export interface TemporalTls {
  serverNameOverride?: string;
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
}

/** The resolved connection (loadConfig puts it in Config.temporal). */
export interface TemporalSettings {
  address: string;
  namespace: string;
  /** Secret: never print it (loadConfig copies it to Config.TEMPORAL_API_KEY, which the redactor covers). */
  apiKey?: string;
  /** true: TLS with the system's roots; an object: its settings; false/undefined: plain. */
  tls?: TemporalTls | boolean;
  /** gRPC metadata (TEMPORAL_GRPC_META_* or a profile's grpc_meta). */
  metadata?: Record<string, string>;
  /** A server Atelier's stack does not start: the stack then starts only Kubo and Anvil. */
  external: boolean;
  /** Why it is (or is not) external, for logs. */
  externalReason: string;
  /** Where the address and namespace came from: a variable's name, a profile, or "default". */
  origin: { address: string; namespace: string };
  /** The profile used, if a config file had one. */
  profile?: { name: string; file: string };
}

/** What connect() of @temporalio/client and NativeConnection.connect of @temporalio/worker both take. */
export interface TemporalConnectOptions {
  address: string;
  tls?: TemporalTls | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

type Env = Record<string, string | undefined>;

const hostPortPattern = /^(?:\[[0-9a-fA-F:.]+\]|[\w.-]+):(\d{1,5})$/;
const namespacePattern = /^[\w.-]+$/;
const boolValues: Record<string, boolean> = { true: true, '1': true, false: false, '0': false };

/** A problem with an address, or undefined when it is host:port. */
export function addressProblem(value: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return 'expected host:port without a scheme (the connection adds TLS itself)';
  const match = hostPortPattern.exec(value);
  if (!match) return 'expected host:port';
  const port = Number(match[1]);
  if (port < 1 || port > 65535) return 'expected a port 1-65535';
  return undefined;
}

export function isLoopbackHost(address: string): boolean {
  const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The user's default Temporal config file, as envconfig finds it (for messages). */
function defaultConfigFile(env: Env): string | undefined {
  if (process.platform === 'win32') return env.APPDATA ? path.join(env.APPDATA, 'temporalio', 'temporal.toml') : undefined;
  if (process.platform === 'darwin') return env.HOME ? path.join(env.HOME, 'Library', 'Application Support', 'temporalio', 'temporal.toml') : undefined;
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg) return path.isAbsolute(xdg) ? path.join(xdg, 'temporalio', 'temporal.toml') : undefined;
  return env.HOME ? path.join(env.HOME, '.config', 'temporalio', 'temporal.toml') : undefined;
}

const set = (env: Env, name: string) => env[name] !== undefined && env[name] !== '';

/**
 * Resolves Temporal's connection from the environment. `atelier` holds the ATELIER_* values that
 * were set (and already validated by loadConfig) and ATELIER_TEMPORAL_EXTERNAL. Each problem found is
 * pushed onto `problems` as "NAME=value: what is wrong (example: ...)", secrets as "(value not shown)".
 */
export function resolveTemporal(
  env: Env,
  atelier: { address?: string; namespace?: string; external: 'auto' | 'true' | 'false' },
  problems: string[],
): TemporalSettings | undefined {
  const before = problems.length;
  const problem = (text: string) => problems.push(text);

  // The standard variables envconfig reads, without empty ones (an empty value means unset here, as
  // for every ATELIER_* variable), and booleans checked and spelled the way envconfig reads them.
  const temporalEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (name.startsWith('TEMPORAL_GRPC_META_')) temporalEnv[name] = value;
    else if (name.startsWith('TEMPORAL_') && value !== '') temporalEnv[name] = value;
    else if (['HOME', 'XDG_CONFIG_HOME', 'APPDATA'].includes(name)) temporalEnv[name] = value;
  }
  for (const name of ['TEMPORAL_TLS', 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION']) {
    const raw = temporalEnv[name];
    if (raw === undefined) continue;
    const parsed = boolValues[raw.toLowerCase()];
    if (parsed === undefined) {
      problem(`${name}=${JSON.stringify(raw)}: expected true or false (example: ${name}=true)`);
      delete temporalEnv[name];
    } else temporalEnv[name] = String(parsed);
  }
  if (temporalEnv.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === 'true') {
    problem(
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION=true: not supported by the TypeScript SDK 1.24 (its connections always verify the host); ' +
        'set TEMPORAL_TLS_SERVER_NAME to the name in the server certificate instead (example: TEMPORAL_TLS_SERVER_NAME=temporal.internal)',
    );
  }

  // The config file: TEMPORAL_CONFIG_FILE must exist when set; the default one may be missing.
  const explicitFile = temporalEnv.TEMPORAL_CONFIG_FILE;
  const file = explicitFile ?? defaultConfigFile(temporalEnv);
  const fileVariable = explicitFile ? 'TEMPORAL_CONFIG_FILE' : 'the default Temporal config file';
  let useFile = false;
  let fileProblem = false;
  if (explicitFile && !fs.existsSync(explicitFile)) {
    fileProblem = true;
    problem(`TEMPORAL_CONFIG_FILE=${JSON.stringify(explicitFile)}: no such file (example: TEMPORAL_CONFIG_FILE=~/.config/temporalio/temporal.toml)`);
  } else if (file && fs.existsSync(file)) {
    useFile = true;
  }
  const profileName = temporalEnv.TEMPORAL_PROFILE;
  let profileNames: string[] = [];
  if (useFile) {
    try {
      profileNames = Object.keys(loadClientConfig({ configSource: { path: file! } }).profiles);
    } catch (error) {
      problem(`${fileVariable} ${file}: not a valid Temporal config file: ${(error as Error).message}`);
      useFile = false;
      fileProblem = true;
    }
  }
  if (profileName && useFile && !profileNames.includes(profileName)) {
    problem(`TEMPORAL_PROFILE=${JSON.stringify(profileName)}: no such profile in ${file} (profiles there: ${profileNames.join(', ') || 'none'})`);
    useFile = false;
  } else if (profileName && !useFile && !fileProblem) {
    problem(
      `TEMPORAL_PROFILE=${JSON.stringify(profileName)}: no Temporal config file to read it from (set TEMPORAL_CONFIG_FILE, or create ${file ?? '~/.config/temporalio/temporal.toml'})`,
    );
  }
  const profileUsed = useFile && (profileName !== undefined || profileNames.includes('default')) ? (profileName ?? 'default') : undefined;
  const inProfile = (key: string) => `${key} in profile "${profileUsed}" of ${file}`;

  // Without TEMPORAL_PROFILE, envconfig would fall back to TEMPORAL_PROFILE from the environment: pass
  // the one checked above. Errors left (both a _PATH and a _DATA of one item) are named below.
  let merged: ClientConfigProfile = {};
  try {
    merged = loadClientConfigProfile({
      profile: profileUsed,
      configSource: useFile ? { path: file! } : undefined,
      disableFile: !useFile,
      overrideEnvVars: temporalEnv,
    });
  } catch (error) {
    const message = (error as Error).message;
    const both = /Cannot specify both (\w+)_path and \w+_data/.exec(message);
    if (both) {
      const item = both[1]!.toUpperCase();
      problem(`TEMPORAL_TLS_${item}_PATH and TEMPORAL_TLS_${item}_DATA (or ${both[1]}_path and ${both[1]}_data in the profile): give one of them, not both`);
    } else problem(`Temporal connection settings: ${message}`);
    return undefined;
  }
  const fromEnv = (name: string) => set(temporalEnv, name);
  const originOf = (variable: string, key: string) => (fromEnv(variable) ? variable : inProfile(key));

  // Address and namespace: ATELIER_* > TEMPORAL_* > profile > the embedded server's.
  let address: string;
  let addressOrigin: string;
  if (atelier.address) [address, addressOrigin] = [atelier.address, 'ATELIER_TEMPORAL_ADDRESS'];
  else if (merged.address) [address, addressOrigin] = [merged.address, originOf('TEMPORAL_ADDRESS', 'address')];
  else [address, addressOrigin] = [EMBEDDED_TEMPORAL_ADDRESS, 'default'];
  if (addressOrigin !== 'ATELIER_TEMPORAL_ADDRESS') {
    const why = addressProblem(address);
    if (why) problem(`${addressOrigin}=${JSON.stringify(address)}: ${why} (example: TEMPORAL_ADDRESS=my-namespace.a1b2c.tmprl.cloud:7233)`);
  }
  let namespace: string;
  let namespaceOrigin: string;
  if (atelier.namespace) [namespace, namespaceOrigin] = [atelier.namespace, 'ATELIER_TEMPORAL_NAMESPACE'];
  else if (merged.namespace) [namespace, namespaceOrigin] = [merged.namespace, originOf('TEMPORAL_NAMESPACE', 'namespace')];
  else [namespace, namespaceOrigin] = [EMBEDDED_TEMPORAL_NAMESPACE, 'default'];
  if (!namespacePattern.test(namespace)) {
    problem(`${namespaceOrigin}=${JSON.stringify(namespace)}: expected a namespace name (example: TEMPORAL_NAMESPACE=my-namespace.a1b2c)`);
  }

  // The API key: never shown, not even when malformed.
  const apiKey = merged.apiKey;
  const apiKeyOrigin = originOf('TEMPORAL_API_KEY', 'api_key');
  if (apiKey !== undefined && (apiKey.trim() === '' || /\s/.test(apiKey))) {
    problem(`${apiKeyOrigin} (value not shown): contains whitespace or a line break; give the key alone`);
  }

  // TLS: envconfig's settings, checked, with the files read now (a missing file fails at start).
  const tlsConfig = merged.tls;
  let tls: TemporalTls | boolean | undefined;
  if (tlsConfig?.disabled === true) {
    const tlsOrigin = fromEnv('TEMPORAL_TLS') ? 'TEMPORAL_TLS=false' : inProfile('tls.disabled = true');
    if (apiKey !== undefined) {
      problem(`${apiKeyOrigin} is set but ${tlsOrigin}: an API key is sent only over TLS (Temporal Cloud requires it); remove ${tlsOrigin}`);
    }
    if (tlsConfig.clientCert || tlsConfig.clientKey || tlsConfig.serverCACert || tlsConfig.serverName) {
      problem(`${tlsOrigin}, yet TLS settings are given (a client certificate, key, CA or server name): turn TLS on or remove them`);
    }
    tls = false;
  } else if (tlsConfig !== undefined) {
    const source = (variable: string, key: string, data: ConfigDataSource | undefined) => {
      if (!data) return undefined;
      const isPath = 'path' in data;
      const name = fromEnv(`${variable}_${isPath ? 'PATH' : 'DATA'}`)
        ? `${variable}_${isPath ? 'PATH' : 'DATA'}`
        : inProfile(`${key}_${isPath ? 'path' : 'data'}`);
      return { data, name, isPath };
    };
    const cert = source('TEMPORAL_TLS_CLIENT_CERT', 'tls.client_cert', tlsConfig.clientCert);
    const key = source('TEMPORAL_TLS_CLIENT_KEY', 'tls.client_key', tlsConfig.clientKey);
    const ca = source('TEMPORAL_TLS_SERVER_CA_CERT', 'tls.server_ca_cert', tlsConfig.serverCACert);
    const read = (item: ReturnType<typeof source>, kind: 'certificate' | 'private key', secret: boolean): Buffer | undefined => {
      if (!item) return undefined;
      let content: Buffer;
      if ('path' in item.data) {
        const file = item.data.path;
        try {
          content = fs.readFileSync(file);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          const why =
            code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable (permission denied)' : code === 'EISDIR' ? 'a folder, not a file' : code;
          problem(`${item.name}=${JSON.stringify(file)}: ${why} (example: ${item.name}=/etc/temporal/client.${kind === 'certificate' ? 'pem' : 'key'})`);
          return undefined;
        }
      } else content = Buffer.from(item.data.data);
      const pem = kind === 'certificate' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
      if (!pem.test(content.toString('latin1'))) {
        const shown = item.isPath ? `=${JSON.stringify((item.data as { path: string }).path)}` : secret ? ' (value not shown)' : '';
        problem(`${item.name}${shown}: not a PEM ${kind} (expected a "-----BEGIN ${kind === 'certificate' ? 'CERTIFICATE' : 'PRIVATE KEY'}-----" block)`);
        return undefined;
      }
      return content;
    };
    if (cert && !key) problem(`${cert.name} is set but no client key (TEMPORAL_TLS_CLIENT_KEY_PATH or _DATA): mTLS needs the certificate and its key`);
    if (key && !cert) problem(`${key.name} is set but no client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH or _DATA): mTLS needs the certificate and its key`);
    const crt = read(cert, 'certificate', false);
    const keyPem = read(key, 'private key', true);
    const caPem = read(ca, 'certificate', false);
    tls = {
      ...(tlsConfig.serverName ? { serverNameOverride: tlsConfig.serverName } : {}),
      ...(caPem ? { serverRootCACertificate: caPem } : {}),
      ...(crt && keyPem ? { clientCertPair: { crt, key: keyPem } } : {}),
    };
  } else if (apiKey !== undefined) {
    tls = true; // as envconfig does: an API key means TLS
  }
  const tlsOn = tls !== undefined && tls !== false;

  // External or embedded.
  let external: boolean;
  let externalReason: string;
  const loopback = isLoopbackHost(address);
  if (atelier.external === 'true') [external, externalReason] = [true, 'ATELIER_TEMPORAL_EXTERNAL=true'];
  else if (atelier.external === 'false') {
    [external, externalReason] = [false, 'ATELIER_TEMPORAL_EXTERNAL=false'];
    if (!loopback) problem(`ATELIER_TEMPORAL_EXTERNAL=false, but ${addressOrigin} names ${address}: the embedded dev server listens on 127.0.0.1 only`);
    if (tlsOn || apiKey !== undefined)
      problem('ATELIER_TEMPORAL_EXTERNAL=false, but TLS or an API key is configured: the embedded dev server speaks plain gRPC');
  } else if (tlsOn || apiKey !== undefined) [external, externalReason] = [true, 'TLS or an API key is configured'];
  else if (!loopback) [external, externalReason] = [true, `${addressOrigin} names ${address}, not a loopback address`];
  else if (addressOrigin !== 'ATELIER_TEMPORAL_ADDRESS' && addressOrigin !== 'default' && !['127.0.0.1:7233', 'localhost:7233'].includes(address)) {
    [external, externalReason] = [true, `${addressOrigin} names ${address}, not the dev stack's ${EMBEDDED_TEMPORAL_ADDRESS}`];
  } else [external, externalReason] = [false, `the embedded dev server at ${address}`];

  if (problems.length > before) return undefined;
  return {
    address,
    namespace,
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...(merged.grpcMeta && Object.keys(merged.grpcMeta).length > 0 ? { metadata: merged.grpcMeta } : {}),
    external,
    externalReason,
    origin: { address: addressOrigin, namespace: namespaceOrigin },
    ...(profileUsed ? { profile: { name: profileUsed, file: file! } } : {}),
  };
}

/**
 * The options for Connection.connect (client) and NativeConnection.connect (worker). The address is
 * the config's (callers may have replaced ATELIER_TEMPORAL_ADDRESS in a copy of it); TLS, the API key
 * and metadata come from the resolved settings.
 */
export function temporalConnectOptions(config: { ATELIER_TEMPORAL_ADDRESS: string; temporal?: TemporalSettings }): TemporalConnectOptions {
  const t = config.temporal;
  return {
    address: config.ATELIER_TEMPORAL_ADDRESS,
    ...(t?.tls !== undefined ? { tls: t.tls } : {}),
    ...(t?.apiKey !== undefined ? { apiKey: t.apiKey } : {}),
    ...(t?.metadata ? { metadata: t.metadata } : {}),
  };
}

/** One line for logs: where Temporal is, and how (never the key). */
export function describeTemporal(config: { ATELIER_TEMPORAL_ADDRESS: string; ATELIER_TEMPORAL_NAMESPACE: string; temporal?: TemporalSettings }): string {
  const t = config.temporal;
  const how = [t?.tls ? (typeof t.tls === 'object' && t.tls.clientCertPair ? 'mTLS' : 'TLS') : 'plain', t?.apiKey ? 'API key' : undefined]
    .filter(Boolean)
    .join(' + ');
  return `${config.ATELIER_TEMPORAL_ADDRESS} namespace ${config.ATELIER_TEMPORAL_NAMESPACE} (${how}${t?.external ? ', external' : ''})`;
}
