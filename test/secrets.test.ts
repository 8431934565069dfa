// Secrets never leak. A worker whose RPC URL carries credentials (`/v3/<key>`, userinfo, an API key
// in the query) mints through them, and when the chain answers an error its activity failure, the
// run's status and the worker's log say what failed without them; a malformed URL variable's config
// error does not echo them. Then the sweep: every workflow history in the test namespace, every log
// file of the test stack and the output of this file's worker must hold none of the suite's
// secrets. vitest.config.ts runs this file last, so the sweep covers what every other file left.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { computeAddress } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { ANVIL_DEV_KEY } from '../common/config.ts';
import { atelierCli, config, killProcess, spawnWorkerProcess, testSpec, waitFor, waitForStage } from './support/harness.ts';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** This file's own secrets, each recognisable and random. */
const mine = {
  rpcPathKey: hex(16), // /v3/<32 hex>, as an Infura-style URL carries it
  rpcPassword: `pw${hex(8)}`,
  rpcQueryKey: `q${hex(10)}`,
  slackPathKey: `slk${hex(10)}`,
  botToken: `xoxb-secrets-${hex(12)}`,
  signingSecret: hex(16),
  openaiKey: `sk-secrets-${hex(12)}`,
  configPassword: `cfgpw${hex(6)}`,
  configPathKey: `cfgkey${hex(12)}`,
  configQueryKey: `cfgq${hex(8)}`,
};

/**
 * Literal secrets other test files use (test/openai.test.ts, test/decisions.test.ts,
 * test/slackSettings.test.ts, test/repository.test.ts), and the signer key of the test stack. Secrets other files make at
 * random (slack.test.ts' tokens and keys, fresh minter signers) are found by shape instead (below).
 */
const suiteLiterals = [
  ANVIL_DEV_KEY,
  ANVIL_DEV_KEY.slice(2),
  'sk-test-key',
  'xoxb-test-token',
  '0123456789abcdef0123456789abcdef',
  // test/repository.test.ts: the outgoing webhooks' signing secret and the push webhooks' secret.
  'receiver-secret-4f1c9a7e2b',
  'git-webhook-secret-8d3e6b0a91',
];

/** The private parts of the stack's Arweave wallet (its JWK's RSA private fields): the worker signs uploads with it. */
function arweaveWalletSecrets(): string[] {
  if (!config.arweave || !fs.existsSync(config.arweave.walletFile)) return [];
  const jwk = JSON.parse(fs.readFileSync(config.arweave.walletFile, 'utf8')) as Record<string, unknown>;
  return ['d', 'p', 'q', 'dp', 'dq', 'qi'].map((field) => jwk[field]).filter((v): v is string => typeof v === 'string' && v.length > 20);
}

/** Token shapes that are a leak wherever they appear (README examples such as `xoxb-...` do not match). */
const tokenShapes = [/xox[abposre]-[A-Za-z0-9-]+/g, /xapp-[A-Za-z0-9-]+/g, /(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{4,}/g];

/**
 * In front of the test chain, as an RPC provider's gateway would be: a request to `/v3/<key>` is
 * forwarded to Anvil without the path (Anvil answers only `/`); any other path is forwarded as it
 * is, and Anvil answers 404. `pathThrough` forwards every path as it is: the chain then refuses the
 * worker's requests with a real 404, like a provider that revoked the key.
 */
async function rpcGateway() {
  const seen: { path: string; authorization?: string }[] = [];
  const state = { pathThrough: false };
  const forward = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = request.url ?? '/';
    seen.push({ path: url, authorization: request.headers.authorization });
    const keyed = url.startsWith(`/v3/${mine.rpcPathKey}`) && !state.pathThrough;
    try {
      const upstream = await fetch(`${config.ATELIER_ETH_RPC_URL}${keyed ? '/' : url}`, {
        method: request.method,
        headers: { 'content-type': request.headers['content-type'] ?? 'application/json' },
        body: request.method === 'GET' || request.method === 'HEAD' ? undefined : Buffer.concat(chunks),
      });
      response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      response.end(Buffer.from(await upstream.arrayBuffer()));
    } catch (error) {
      response.writeHead(502).end((error as Error).message);
    }
  };
  const server = http.createServer((request, response) => void forward(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    seen,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let client: AtelierClient;
let gateway: Awaited<ReturnType<typeof rpcGateway>>;
let worker: Awaited<ReturnType<typeof spawnWorkerProcess>> | undefined;
let tmp: string;
const taskQueue = `atelier-secrets-${hex(4)}`;
/** What this file's processes printed: swept with the rest. */
const captured: { source: string; text: string }[] = [];

beforeAll(async () => {
  gateway = await rpcGateway();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-secrets-'));
  const collections = path.join(tmp, 'slack-collections.json');
  fs.writeFileSync(collections, JSON.stringify({ default: { channel: 'C0SECRETS1', approvers: ['U0SECRETS1'] } }));
  client = await AtelierClient.connect({ ...config, ATELIER_TASK_QUEUE: taskQueue });
  worker = await spawnWorkerProcess({
    ATELIER_TASK_QUEUE: taskQueue,
    ATELIER_ETH_RPC_URL: `http://atelier:${mine.rpcPassword}@127.0.0.1:${gateway.port}/v3/${mine.rpcPathKey}?apikey=${mine.rpcQueryKey}`,
    // Slack's API behind the same gateway: Anvil refuses its path, so every notice fails (and is retried).
    ATELIER_SLACK_API_URL: `http://127.0.0.1:${gateway.port}/slack/${mine.slackPathKey}/api`,
    ATELIER_SLACK_BOT_TOKEN: mine.botToken,
    ATELIER_SLACK_SIGNING_SECRET: mine.signingSecret,
    ATELIER_SLACK_COLLECTIONS: collections,
    ATELIER_OPENAI_API_KEY: mine.openaiKey,
  });
}, 180_000);

afterAll(async () => {
  await killProcess(worker?.child);
  await gateway?.close();
  await client?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function approveWhenAsked(workflowId: string) {
  await waitForStage(client, workflowId, 'awaiting_approval', 90_000);
  await client.approve(workflowId, { by: 'maria', via: 'script' });
}

/** The text of a value for searching: Temporal payloads (bytes) as the UTF-8 they hold. */
function searchable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return Buffer.from((v as { data: number[] }).data).toString('utf8');
    }
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
}

describe('a worker whose URLs carry credentials', () => {
  it('mints through them, and a failing chain call says what failed without them (status, describe, log)', async () => {
    const first = await client.start(testSpec());
    await approveWhenAsked(first.workflowId);
    const minted = await waitForStage(client, first.workflowId, 'minted', 120_000);
    expect(minted.tokenId).not.toBeNull();
    // The worker really used the credentials: its requests carried the key path and the userinfo.
    const keyed = gateway.seen.filter((r) => r.path === `/v3/${mine.rpcPathKey}?apikey=${mine.rpcQueryKey}`);
    expect(keyed.length).toBeGreaterThan(0);
    expect(keyed[0]!.authorization).toBe(`Basic ${Buffer.from(`atelier:${mine.rpcPassword}`).toString('base64')}`);

    // The chain now refuses the key: Anvil answers the worker's path with 404.
    gateway.state.pathThrough = true;
    const second = await client.start(testSpec());
    await approveWhenAsked(second.workflowId);
    const failing = await waitFor(
      'mintAsset to have failed twice',
      async () => {
        const description = await client.temporal.workflow.getHandle(second.workflowId).describe();
        const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'mintAsset');
        return pending?.lastFailure && (pending.attempt ?? 0) >= 3 ? pending : undefined;
      },
      90_000,
    );
    const failure = searchable(failing.lastFailure);
    // What failed is said: the chain's answer, and where (with the credentials cut out).
    expect(failing.lastFailure!.message).toMatch(/404/);
    expect(failing.lastFailure!.message).toContain(`127.0.0.1:${gateway.port}/v3/[redacted]`);
    for (const secret of [mine.rpcPathKey, mine.rpcPassword, mine.rpcQueryKey]) expect(failure).not.toContain(secret);
    console.log(`[secrets] mintAsset's last failure: ${failing.lastFailure!.message}`);
    // `status` shows what the run waits for (the mint, or the Slack notice failing beside it).
    const status = searchable(await client.status(second.workflowId));
    for (const secret of Object.values(mine)) expect(status).not.toContain(secret);
    // The worker's log has the failures too ("Activity failed"), redacted.
    await waitFor('the worker to log the mint failure', async () =>
      /Activity failed[\s\S]*mintAsset|mintAsset[\s\S]*Activity failed/.test(worker!.output()) ? true : undefined,
    );
    expect(worker!.output()).toContain('[redacted]');
    for (const secret of Object.values(mine)) expect(worker!.output()).not.toContain(secret);

    // The key works again: the run was only delayed.
    gateway.state.pathThrough = false;
    expect((await waitForStage(client, second.workflowId, 'minted', 120_000)).tokenId).not.toBeNull();
  }, 300_000);

  it('a malformed URL variable is named with its problem and example, never with its credentials', async () => {
    const saved = { eth: process.env.ATELIER_ETH_RPC_URL, kubo: process.env.ATELIER_KUBO_API_URL };
    process.env.ATELIER_ETH_RPC_URL = `http://user:${mine.configPassword}@host:notaport/v3/${mine.configPathKey}?apikey=${mine.configQueryKey}`;
    process.env.ATELIER_KUBO_API_URL = `ftp://kubo:${mine.configPassword}@127.0.0.1:5001/api/${mine.configPathKey}`;
    let result: Awaited<ReturnType<typeof atelierCli>>;
    try {
      result = await atelierCli(['status', 'x:1']);
    } finally {
      process.env.ATELIER_ETH_RPC_URL = saved.eth;
      process.env.ATELIER_KUBO_API_URL = saved.kubo;
    }
    captured.push({ source: 'atelier status (bad URLs)', text: result.stdout + result.stderr });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'ATELIER_ETH_RPC_URL="http://[redacted]@host:notaport/v3/[redacted]?[redacted]": expected an http(s) URL (example: ATELIER_ETH_RPC_URL=http://127.0.0.1:8545)',
    );
    expect(result.stderr).toContain(
      'ATELIER_KUBO_API_URL="ftp://[redacted]@127.0.0.1:5001/api/[redacted]": expected an http(s) URL (example: ATELIER_KUBO_API_URL=http://127.0.0.1:5001)',
    );
    for (const secret of [mine.configPassword, mine.configPathKey, mine.configQueryKey]) expect(result.stdout + result.stderr).not.toContain(secret);
  });
});

describe('the sweep', () => {
  it('no history, log file or worker output of the suite holds a secret', async () => {
    const started = Date.now();
    if (worker) captured.push({ source: 'worker process', text: worker.output() });
    const sources: { source: string; text: string }[] = [...captured];

    // Every workflow in the test namespace (bounded), its listing (memo, search attributes), its
    // history and, while it runs, its pending activities (their last failure is not in history yet).
    const MAX_WORKFLOWS = 2_000;
    const executions: { workflowId: string; runId: string; running: boolean; listing: string }[] = [];
    for await (const execution of client.temporal.workflow.list()) {
      executions.push({
        workflowId: execution.workflowId,
        runId: execution.runId,
        running: execution.status.name === 'RUNNING',
        listing: searchable(execution.raw),
      });
      if (executions.length >= MAX_WORKFLOWS) break;
    }
    expect(executions.length).toBeGreaterThan(0);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < executions.length) {
          const { workflowId, runId, running, listing } = executions[next++]!;
          const handle = client.temporal.workflow.getHandle(workflowId, runId);
          const history = await handle.fetchHistory();
          const described = running ? searchable((await handle.describe()).raw) : '';
          sources.push({ source: `workflow ${workflowId} (run ${runId})`, text: `${listing}\n${searchable(history)}\n${described}` });
        }
      }),
    );

    // Every file the test stack logs to.
    const logs = path.join(config.dataDir, 'logs');
    for (const file of fs.readdirSync(logs, { recursive: true }) as string[]) {
      const full = path.join(logs, file);
      if (!fs.statSync(full).isFile()) continue;
      let text = fs.readFileSync(full, 'utf8');
      // Anvil prints the well-known dev accounts of its public mnemonic ("test test ... junk") each
      // time it starts; that banner is Anvil's, not something Atelier wrote. The rest of its log is swept.
      if (path.basename(file) === 'anvil.log')
        text = text.replace(/Private Keys\n=+\n\n(?:\(\d+\) 0x[0-9a-f]{64}\n)+/g, "Private Keys\n(the public dev keys of Anvil's banner)\n");
      sources.push({ source: `log ${full}`, text });
    }

    const literals = [...suiteLiterals, ...Object.values(mine), ...arweaveWalletSecrets()];
    const leaks: string[] = [];
    for (const { source, text } of sources) {
      const lower = text.toLowerCase();
      for (const secret of literals) if (lower.includes(secret.toLowerCase())) leaks.push(`${source}: ${secret}`);
      for (const shape of tokenShapes) for (const [token] of text.matchAll(shape)) leaks.push(`${source}: token ${token}`);
    }

    // Keys made at random by other files, found by what they are: an ed25519 secret key (an
    // approver's, the Slack app's) is a leak when its public key is there too (specs and signed
    // decisions name the public keys); an Ethereum private key when its account is there too (a
    // fresh minter signer's address names its minter and sends its transactions).
    const corpus = sources.map((s) => s.text.toLowerCase()).join('\n');
    const hex64 = new Set(corpus.match(/(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/g) ?? []);
    const hex40 = new Set(corpus.match(/(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])/g) ?? []);
    const where = (value: string) =>
      sources
        .filter((s) => s.text.toLowerCase().includes(value))
        .map((s) => s.source)
        .join(', ');
    for (const candidate of hex64) {
      try {
        if (hex64.has(Buffer.from(ed25519.getPublicKey(Buffer.from(candidate, 'hex'))).toString('hex')))
          leaks.push(`${where(candidate)}: an ed25519 secret key ${candidate.slice(0, 8)}... beside its public key`);
      } catch {
        // Not a key.
      }
      try {
        if (hex40.has(computeAddress(`0x${candidate}`).slice(2).toLowerCase()))
          leaks.push(`${where(candidate)}: the private key ${candidate.slice(0, 8)}... of an account named there`);
      } catch {
        // Not a valid secp256k1 key.
      }
    }

    console.log(
      `[secrets] swept ${executions.length} workflows, ${sources.length} texts (${(corpus.length / 1e6).toFixed(1)} MB), ${hex64.size} 64-hex values, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(leaks).toEqual([]);
  }, 300_000);
});
