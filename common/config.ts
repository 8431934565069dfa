// The one place that reads the environment. Workers, clients and scripts call
// loadConfig(); workflows never do (they get what they need as arguments).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { maskUrl, secretVariableNames } from './redact.ts';
import { resolveTemporal } from './temporalConnection.ts';
import type { TemporalSettings } from './temporalConnection.ts';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Anvil's first well-known development account: public, funded only on a local dev chain. */
export const ANVIL_DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

const hostPort = z.string().regex(/^[\w.-]+:\d{1,5}$/, 'expected host:port');
const httpUrl = z
  .string()
  .url('expected an http(s) URL')
  .refine((v) => /^https?:\/\//.test(v), 'expected an http(s) URL')
  .transform((v) => v.replace(/\/+$/, ''));
const port = z.coerce.number().int('expected a whole number').min(1).max(65535, 'expected a port 1-65535');
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' }).transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Each variable: its schema, default and an example shown when the value is wrong. */
const variables = {
  ATELIER_DATA_DIR: { schema: z.string().min(1), default: '.data', example: '.data' },
  ATELIER_TEMPORAL_ADDRESS: { schema: hostPort, default: '127.0.0.1:7233', example: '127.0.0.1:7233' },
  ATELIER_TEMPORAL_NAMESPACE: { schema: z.string().regex(/^[\w.-]+$/, 'expected a namespace name'), default: 'default', example: 'default' },
  ATELIER_TEMPORAL_UI_PORT: { schema: port, default: '8233', example: '8233' },
  // The two above are aliases of TEMPORAL_ADDRESS/TEMPORAL_NAMESPACE and win over them and over a
  // TEMPORAL_PROFILE profile; TLS and API keys come from those (common/temporalConnection.ts). Whether
  // the stack runs the dev server or uses a server it does not start: auto decides from the address.
  ATELIER_TEMPORAL_EXTERNAL: { schema: z.enum(['auto', 'true', 'false'], { message: 'expected auto, true or false' }), default: 'auto', example: 'true' },
  ATELIER_TASK_QUEUE: { schema: z.string().min(1), default: 'atelier', example: 'atelier' },
  ATELIER_LAYER_SETS_DIR: { schema: z.string().min(1), default: 'samples/collections', example: 'samples/collections' },
  // Decoded layer options one worker process keeps (activities/layerCache.ts): 4 MiB each at 1024 px.
  ATELIER_LAYER_CACHE_MB: { schema: z.coerce.number().int('expected a whole number of MiB').min(16).max(65536), default: '256', example: '256' },
  ATELIER_KUBO_API_URL: { schema: httpUrl, default: 'http://127.0.0.1:5001', example: 'http://127.0.0.1:5001' },
  ATELIER_KUBO_GATEWAY_URL: { schema: httpUrl, default: 'http://127.0.0.1:8080', example: 'http://127.0.0.1:8080' },
  ATELIER_ETH_RPC_URL: { schema: httpUrl, default: 'http://127.0.0.1:8545', example: 'http://127.0.0.1:8545' },
  ATELIER_SIGNER_KEY: {
    schema: z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected a 0x-prefixed 32-byte hex private key'),
    default: ANVIL_DEV_KEY,
    example: '0x<64 hex digits>',
  },
  ATELIER_CONTRACT_ADDRESS: {
    schema: z
      .string()
      .regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte address')
      .optional(),
    default: undefined,
    example: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  },
  ATELIER_CONFIRMATIONS: { schema: z.coerce.number().int().min(1).max(64), default: '1', example: '1' },
  ATELIER_AVIF: { schema: bool, default: 'false', example: 'true' },
  // Activities one worker runs at once (workers/worker.ts says why it is not the SDK's 100).
  ATELIER_WORKER_MAX_ACTIVITIES: { schema: z.coerce.number().int().min(1).max(1000), default: '8', example: '8' },
  // Workflow runs a worker keeps in memory between tasks (the SDK's default grows with the heap: thousands).
  ATELIER_WORKER_MAX_CACHED_WORKFLOWS: { schema: z.coerce.number().int().min(10).max(100_000), default: '250', example: '250' },
  // Task queues a worker process serves (workers/worker.ts): workflow tasks and chain/IO activities on
  // ATELIER_TASK_QUEUE, CPU-bound image activities on <ATELIER_TASK_QUEUE>-images.
  ATELIER_WORKER_QUEUES: {
    schema: z.string().regex(/^(all|(workflows|io|images)(,(workflows|io|images))*)$/, 'expected all, or some of workflows,io,images (comma-separated)'),
    default: 'all',
    example: 'workflows,io',
  },
  ATELIER_WORKER_MAX_IMAGE_ACTIVITIES: { schema: z.coerce.number().int().min(1).max(256), default: '4', example: '4' },
  ATELIER_WORKER_MAX_WORKFLOW_TASKS: { schema: z.coerce.number().int().min(2).max(1000).optional(), default: undefined, example: '40' },
  // The SDK's resource-based tuner instead of fixed slots (opt-in): slots follow CPU and memory use.
  ATELIER_WORKER_TUNER: { schema: z.enum(['fixed', 'resource']), default: 'fixed', example: 'resource' },
  ATELIER_WORKER_TARGET_CPU: { schema: z.coerce.number().gt(0).max(1, 'expected a fraction 0-1'), default: '0.8', example: '0.8' },
  ATELIER_WORKER_TARGET_MEMORY: { schema: z.coerce.number().gt(0).max(1, 'expected a fraction 0-1'), default: '0.8', example: '0.8' },
  // On SIGTERM/SIGINT, how long running activities get to finish before they are cancelled (and, if
  // they do not finish, retried elsewhere after their heartbeat timeout).
  ATELIER_WORKER_SHUTDOWN_GRACE_MS: { schema: z.coerce.number().int().min(0).max(3_600_000), default: '10000', example: '25000' },
  // Collections (workflows/collectionRun.ts): how many of a collection's assets run at once (a spec's own `concurrency` wins).
  ATELIER_COLLECTION_CONCURRENCY: { schema: z.coerce.number().int().min(1).max(256), default: '16', example: '16' },
  // Batch minting (workflows/minter.ts, docs/minting.md): batch size, how long the first request waits for
  // more, when a transaction that is not mined gets replaced, and how many batches one minter run holds.
  ATELIER_MINT_BATCH_SIZE: { schema: z.coerce.number().int().min(1).max(128, 'expected at most 128 (MAX_BATCH_SIZE)'), default: '50', example: '50' },
  ATELIER_MINT_BATCH_WAIT_MS: { schema: z.coerce.number().int().min(0).max(3_600_000), default: '10000', example: '10000' },
  ATELIER_MINT_REPLACE_AFTER_MS: { schema: z.coerce.number().int().min(1000), default: '120000', example: '120000' },
  ATELIER_MINT_BATCHES_PER_RUN: { schema: z.coerce.number().int().min(1).max(1000), default: '50', example: '50' },
  ATELIER_OPENAI_API_KEY: { schema: z.string().min(1).optional(), default: undefined, example: 'sk-...' },
  ATELIER_OPENAI_BASE_URL: { schema: httpUrl.optional(), default: undefined, example: 'http://127.0.0.1:4010/v1' },
  ATELIER_OPENAI_MODEL: { schema: z.string().min(1), default: 'gpt-image-1', example: 'gpt-image-1' },
  ATELIER_OPENAI_SIZE: { schema: z.enum(['256x256', '512x512', '1024x1024', '1024x1536', '1536x1024']), default: '1024x1024', example: '1024x1024' },
  // Slack approvals (docs/slack.md). Tokens and the signing secret are accepted as given here, so a
  // wrong value is never echoed in an error; common/slack/settings.ts checks their form without printing them.
  ATELIER_SLACK_BOT_TOKEN: { schema: z.string().min(1).optional(), default: undefined, example: 'xoxb-...' },
  ATELIER_SLACK_SIGNING_SECRET: { schema: z.string().min(1).optional(), default: undefined, example: '<signing secret from Basic Information>' },
  ATELIER_SLACK_APP_TOKEN: { schema: z.string().min(1).optional(), default: undefined, example: 'xapp-...' },
  ATELIER_SLACK_SOCKET_MODE: { schema: bool, default: 'false', example: 'true' },
  ATELIER_SLACK_HOST: { schema: z.string().min(1), default: '127.0.0.1', example: '127.0.0.1' },
  ATELIER_SLACK_PORT: { schema: port, default: '3000', example: '3000' },
  ATELIER_SLACK_API_URL: { schema: httpUrl, default: 'https://slack.com/api', example: 'https://slack.com/api' },
  ATELIER_SLACK_COLLECTIONS: { schema: z.string().min(1), default: 'slack-collections.json', example: 'config/slack-collections.json' },
  ATELIER_SLACK_PREVIEW_URL: { schema: httpUrl.optional(), default: undefined, example: 'https://ipfs.example.org' },
  // Decisions from Slack are signed by the app (its secret key) and checked by the workflow (the
  // worker holds the public key); see docs/slack.md. `atelier keys new slack-app` makes a pair.
  ATELIER_SLACK_DECISION_KEY: {
    schema: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'expected an ed25519 secret key: 64 lowercase hex digits')
      .optional(),
    default: undefined,
    example: '<64 hex digits from atelier keys new slack-app>',
  },
  ATELIER_SLACK_APP_PUBLIC_KEY: {
    schema: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'expected an ed25519 public key: 64 lowercase hex digits')
      .optional(),
    default: undefined,
    example: '<publicKey from atelier keys new slack-app>',
  },
  // Artwork repositories (docs/artwork.md): the git repositories workers may read, as absolute paths
  // or folders holding them (comma-separated; relative ones from the project root).
  ATELIER_REPOSITORIES: { schema: z.string().min(1), default: '.data/repos', example: '/srv/git,/home/studio/art.git' },
  // Outgoing webhooks: subscriptions per collection, with their signing secrets (a JSON file; none when missing).
  ATELIER_WEBHOOKS_FILE: { schema: z.string().min(1), default: 'webhooks.json', example: 'config/webhooks.json' },
  // Incoming push webhooks (GitHub, Gitea, Forgejo format): the shared secret, where to listen, and
  // which repository each sender's full name stands for (owner/name=location, comma-separated).
  ATELIER_GIT_WEBHOOK_SECRET: {
    schema: z.string().min(16, 'expected at least 16 characters').optional(),
    default: undefined,
    example: '<random string, 32+ characters>',
  },
  ATELIER_GIT_WEBHOOK_HOST: { schema: z.string().min(1), default: '127.0.0.1', example: '127.0.0.1' },
  ATELIER_GIT_WEBHOOK_PORT: { schema: port, default: '3100', example: '3100' },
  ATELIER_GIT_WEBHOOK_REPOSITORIES: {
    schema: z
      .string()
      .regex(/^([\w.-]+\/[\w.-]+=[^,=]+)(,[\w.-]+\/[\w.-]+=[^,=]+)*$/, 'expected owner/name=location pairs, comma-separated')
      .optional(),
    default: undefined,
    example: 'studio/critters-art=/srv/git/critters-art.git',
  },
  // Operability (workers/telemetry.ts): the worker's log lines (JSON for a collector, text for a
  // person), the SDK's and Atelier's metrics on a Prometheus endpoint (off when unset), and tracing.
  ATELIER_LOG_FORMAT: { schema: z.enum(['text', 'json']), default: 'text', example: 'json' },
  ATELIER_LOG_LEVEL: {
    schema: z
      .string()
      .transform((v) => v.toLowerCase())
      .pipe(z.enum(['trace', 'debug', 'info', 'warn', 'error'], { message: 'expected trace, debug, info, warn or error' })),
    default: 'info',
    example: 'info',
  },
  ATELIER_METRICS_ADDRESS: { schema: hostPort.optional(), default: undefined, example: '127.0.0.1:9464' },
  ATELIER_OTEL: { schema: z.enum(['off', 'console']), default: 'off', example: 'console' },
  // Permanent copies on Arweave (activities/arweave.ts): off while the gateway URL is unset. The wallet is
  // a JWK key file (never printed); a local gateway (arlocal, which the stack runs: auto = a loopback URL)
  // gets its dev wallet in the data folder and a block mined after each upload.
  ATELIER_ARWEAVE_URL: { schema: httpUrl.optional(), default: undefined, example: 'https://arweave.net' },
  ATELIER_ARWEAVE_WALLET_FILE: { schema: z.string().min(1).optional(), default: undefined, example: '/run/secrets/arweave-wallet.json' },
  ATELIER_ARWEAVE_LOCAL: { schema: z.enum(['auto', 'true', 'false'], { message: 'expected auto, true or false' }), default: 'auto', example: 'false' },
} as const;

const secretVariables = new Set<string>(secretVariableNames);

type Variables = typeof variables;
export type Config = { [K in keyof Variables]: z.output<Variables[K]['schema']> } & {
  /** ATELIER_DATA_DIR resolved against the project root. */
  dataDir: string;
  /** The Temporal connection (ATELIER_TEMPORAL_ADDRESS/NAMESPACE above hold the address and namespace in force). */
  temporal: TemporalSettings;
  /** The API key in force (TEMPORAL_API_KEY or the profile's): a secret, redacted by common/redact.ts. */
  TEMPORAL_API_KEY?: string;
  /** Arweave copies, when ATELIER_ARWEAVE_URL is set. */
  arweave?: ArweaveSettings;
};

export interface ArweaveSettings {
  /** The gateway uploads go to and copies are read from. */
  url: string;
  /** The JWK key file (absolute): ATELIER_ARWEAVE_WALLET_FILE, or the local gateway's dev wallet in the data folder. */
  walletFile: string;
  /** arlocal: the stack runs it on the URL's port, and the worker mines a block after each upload. */
  local: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates every ATELIER_* variable; throws a ConfigError naming each bad one. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(variables)) {
    const raw = env[name] === '' ? undefined : env[name];
    const result = (spec.schema as z.ZodType).safeParse(raw ?? spec.default);
    if (result.success) {
      values[name] = result.data;
    } else {
      const why = result.error.issues.map((i) => i.message).join('; ');
      // Keys and tokens are never echoed, not even malformed ones; nor are a URL's credentials
      // (userinfo, query string, key-like path segments such as /v3/<key>).
      const shown = secretVariables.has(name) ? '(value not shown)' : JSON.stringify(raw !== undefined && name.endsWith('_URL') ? maskUrl(raw) : raw);
      problems.push(`${name}=${shown}: ${why} (example: ${name}=${spec.example})`);
    }
  }
  // Temporal: a profile and the TEMPORAL_* variables, under ATELIER_TEMPORAL_ADDRESS/NAMESPACE when set.
  const explicit = (name: string) => (env[name] && !problems.some((p) => p.startsWith(`${name}=`)) ? (values[name] as string) : undefined);
  const temporal = resolveTemporal(
    env,
    {
      address: explicit('ATELIER_TEMPORAL_ADDRESS'),
      namespace: explicit('ATELIER_TEMPORAL_NAMESPACE'),
      external: (values.ATELIER_TEMPORAL_EXTERNAL as 'auto' | 'true' | 'false' | undefined) ?? 'auto',
    },
    problems,
  );
  if (problems.length > 0 || !temporal) throw new ConfigError(problems);
  const config = { ...values, ATELIER_TEMPORAL_ADDRESS: temporal.address, ATELIER_TEMPORAL_NAMESPACE: temporal.namespace } as Omit<
    Config,
    'dataDir' | 'temporal'
  >;
  const dataDir = path.resolve(projectRoot, config.ATELIER_DATA_DIR);
  const arweave = arweaveSettings(config, dataDir);
  return {
    ...config,
    dataDir,
    temporal,
    ...(temporal.apiKey !== undefined ? { TEMPORAL_API_KEY: temporal.apiKey } : {}),
    ...(arweave ? { arweave } : {}),
  };
}

/** Arweave: off without a URL; a local gateway's wallet defaults to the one the stack writes; a remote one needs a key file. */
function arweaveSettings(config: Omit<Config, 'dataDir' | 'temporal'>, dataDir: string): ArweaveSettings | undefined {
  const url = config.ATELIER_ARWEAVE_URL;
  if (!url) return undefined;
  const local =
    config.ATELIER_ARWEAVE_LOCAL === 'auto' ? ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname) : config.ATELIER_ARWEAVE_LOCAL === 'true';
  const walletFile = config.ATELIER_ARWEAVE_WALLET_FILE ?? (local ? path.join(dataDir, 'arweave', 'wallet.json') : undefined);
  if (!walletFile) {
    throw new ConfigError([
      `ATELIER_ARWEAVE_WALLET_FILE is not set: a gateway that is not local (${maskUrl(url)}) needs the wallet's JWK key file (example: ATELIER_ARWEAVE_WALLET_FILE=${variables.ATELIER_ARWEAVE_WALLET_FILE.example})`,
    ]);
  }
  return { url, walletFile: path.resolve(projectRoot, walletFile), local };
}

/** ATELIER_REPOSITORIES as absolute paths (relative ones from the project root). */
export function repositoryRootsOf(config: Config): string[] {
  return config.ATELIER_REPOSITORIES.split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => path.resolve(projectRoot, entry));
}

/** The name of every ATELIER_* variable loadConfig reads (test/compose.test.ts checks .env.example and docker-compose.yml against it). */
export const configVariableNames: readonly string[] = Object.keys(variables);
