// Incoming push webhooks: real HTTP against startGitWebhookServer with a recording onPush. Only a
// correctly signed, first-time push of a configured repository reaches onPush; unsigned, forged
// and replayed deliveries get 401, and a failed onPush (503) leaves the delivery redeliverable.
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GitPush, RunningGitWebhookServer } from '../client/webhooks/server.ts';
import { MAX_BODY_BYTES, signGitDelivery, startGitWebhookServer } from '../client/webhooks/server.ts';

const secret = randomBytes(24).toString('hex');
const location = '/srv/git/critters-art.git';
const commit = 'f3a9c1d2e4b5a6978877665544332211aabbccdd';

/** A push payload as GitHub sends it (trimmed to the usual fields). */
const pushPayload = (overrides: Record<string, unknown> = {}) => ({
  ref: 'refs/heads/main',
  before: '1d2c3b4a5f6e7d8c9b0a1d2c3b4a5f6e7d8c9b0a',
  after: commit,
  created: false,
  deleted: false,
  forced: false,
  compare: 'https://github.com/studio/critters-art/compare/1d2c3b4a5f6e...f3a9c1d2e4b5',
  repository: {
    id: 812345678,
    name: 'critters-art',
    full_name: 'studio/critters-art',
    private: true,
    clone_url: 'https://github.com/studio/critters-art.git',
    default_branch: 'main',
  },
  pusher: { name: 'maria', email: 'maria@example.org' },
  sender: { login: 'maria', id: 1234567, type: 'User' },
  head_commit: { id: commit, message: 'critters: new hats', timestamp: '2025-06-01T12:00:00+02:00' },
  commits: [
    {
      id: commit,
      tree_id: '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567',
      distinct: true,
      message: 'critters: new hats',
      timestamp: '2025-06-01T12:00:00+02:00',
      author: { name: 'Maria', email: 'maria@example.org', username: 'maria' },
      committer: { name: 'Maria', email: 'maria@example.org', username: 'maria' },
      added: ['layers/hat/crown.png'],
      removed: [],
      modified: ['traits.json'],
    },
  ],
  ...overrides,
});

interface Delivery {
  body?: string | Buffer;
  event?: string;
  deliveryId?: string;
  /** A signature header value; by default the body signed with the right secret; null: none. */
  signature?: string | null;
  headers?: Record<string, string>;
  method?: string;
  path?: string;
}

describe('git push webhooks', () => {
  let server: RunningGitWebhookServer;
  const pushes: GitPush[] = [];
  const lines: string[] = [];
  const behaviour = { fail: false, known: new Set<string>() };

  beforeAll(async () => {
    server = await startGitWebhookServer({
      host: '127.0.0.1',
      port: 0,
      secret,
      repositories: new Map([['studio/critters-art', location]]),
      onPush: async (push) => {
        if (behaviour.fail) throw new Error('Temporal unavailable');
        pushes.push(push);
      },
      knownDelivery: async (_repository, deliveryId) => behaviour.known.has(deliveryId),
      log: (line) => lines.push(line),
    });
  });
  afterAll(() => server?.close());
  beforeEach(() => {
    pushes.length = 0;
    behaviour.fail = false;
  });

  async function deliver({
    body = JSON.stringify(pushPayload()),
    event = 'push',
    deliveryId = randomUUID(),
    signature,
    headers = {},
    method = 'POST',
    path = '/hooks/git',
  }: Delivery = {}) {
    const signatureHeader = signature === undefined ? signGitDelivery(secret, body) : signature;
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/5f0c9a1',
        'x-github-event': event,
        'x-github-delivery': deliveryId,
        ...(signatureHeader === null ? {} : { 'x-hub-signature-256': signatureHeader }),
        ...headers,
      },
      body: method === 'GET' || method === 'HEAD' ? undefined : body,
    });
    const text = await response.text();
    return { status: response.status, text, deliveryId };
  }

  it('a correctly signed push: 202 and onPush gets the location, ref and commit', async () => {
    const { status, text, deliveryId } = await deliver();
    expect(status).toBe(202);
    expect(JSON.parse(text)).toEqual({ accepted: true, deliveryId });
    expect(pushes).toEqual([{ repository: location, ref: 'refs/heads/main', commit, deliveryId }]);
    const line = lines.find((l) => l.includes(deliveryId))!;
    expect(line).toMatch(/-> 202/);
    expect(line).not.toContain(secret);
    expect(line).not.toContain('sha256=');
  });

  it('unsigned, forged and tampered deliveries: 401, onPush not called', async () => {
    const body = JSON.stringify(pushPayload());
    const unsigned = await deliver({ body, signature: null });
    expect([unsigned.status, unsigned.text]).toEqual([401, 'unsigned delivery']);
    const otherSecret = await deliver({ body, signature: signGitDelivery(randomBytes(24).toString('hex'), body) });
    expect([otherSecret.status, otherSecret.text]).toEqual([401, 'bad signature']);
    const tampered = await deliver({ body: body.replace(commit, 'a'.repeat(40)), signature: signGitDelivery(secret, body) });
    expect([tampered.status, tampered.text]).toEqual([401, 'bad signature']);
    const garbage = await deliver({ body, signature: 'sha256=xyz' });
    expect(garbage.status).toBe(401);
    const sha1Only = await deliver({ body, signature: null, headers: { 'x-hub-signature': 'sha1=0123456789abcdef0123456789abcdef01234567' } });
    expect(sha1Only.status).toBe(401);
    // A forged body that is not even JSON is refused for its signature, before any parsing.
    const notJson = await deliver({ body: '{not json', signature: signGitDelivery('wrong-secret-wrong-secret', '{not json') });
    expect([notJson.status, notJson.text]).toEqual([401, 'bad signature']);
    expect(pushes).toEqual([]);
    for (const line of lines) expect(line).not.toContain(secret);
  });

  it('a replayed delivery id: 401, onPush called once', async () => {
    const first = await deliver();
    expect(first.status).toBe(202);
    const replay = await deliver({ deliveryId: first.deliveryId });
    expect([replay.status, replay.text]).toEqual([401, `delivery ${first.deliveryId} already received (replay)`]);
    expect(pushes).toHaveLength(1);
    // A delivery a sync run already holds (knownDelivery), e.g. after this process restarted.
    const knownId = randomUUID();
    behaviour.known.add(knownId);
    const known = await deliver({ deliveryId: knownId });
    expect(known.status).toBe(401);
    expect(pushes).toHaveLength(1);
  });

  it('ping: 200 pong; other events: 202 ignored; a deleted branch: ignored', async () => {
    const ping = await deliver({ event: 'ping', body: JSON.stringify({ zen: 'Design for failure.', hook_id: 1 }) });
    expect([ping.status, ping.text]).toEqual([200, 'pong']);
    const issues = await deliver({ event: 'issues', body: JSON.stringify({ action: 'opened' }) });
    expect([issues.status, issues.text]).toEqual([202, 'ignored']);
    const deleted = await deliver({ body: JSON.stringify(pushPayload({ after: '0'.repeat(40), deleted: true })) });
    expect([deleted.status, deleted.text]).toEqual([202, 'ignored']);
    expect(pushes).toEqual([]);
  });

  it('Gitea and Forgejo headers work too', async () => {
    const body = JSON.stringify(pushPayload());
    const deliveryId = randomUUID();
    const response = await fetch(`${server.url}/hooks/git`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitea-event': 'push',
        'x-gitea-delivery': deliveryId,
        'x-gitea-signature': signGitDelivery(secret, body).slice(7),
      },
      body,
    });
    expect(response.status).toBe(202);
    expect(pushes.map((p) => p.deliveryId)).toEqual([deliveryId]);
  });

  it('an oversize body: 413, before onPush', async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 1024, 0x20);
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request(
        `${server.url}/hooks/git`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'content-length': big.length },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode!);
        },
      );
      request.on('error', (error) => reject(error));
      request.end(big);
    });
    expect(status).toBe(413);
    // Without a length announced (chunked), counted while reading.
    const chunked = await new Promise<number>((resolve, reject) => {
      const request = http.request(
        `${server.url}/hooks/git`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'transfer-encoding': 'chunked' },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode!);
        },
      );
      request.on('error', (error) => reject(error));
      for (let i = 0; i < 6; i++) request.write(Buffer.alloc(1024 * 1024, 0x20));
      request.end();
    });
    expect(chunked).toBe(413);
    expect(pushes).toEqual([]);
  });

  it('an unknown repository: 404; malformed pushes: 400 with the reason', async () => {
    const unknown = await deliver({
      body: JSON.stringify(pushPayload({ repository: { full_name: 'someone/else', clone_url: 'https://github.com/someone/else.git' } })),
    });
    expect([unknown.status, unknown.text]).toEqual([404, 'repository not configured']);
    const badCommit = await deliver({ body: JSON.stringify(pushPayload({ after: 'HEAD' })) });
    expect(badCommit.status).toBe(400);
    expect(badCommit.text).toMatch(/^after: expected a commit id/);
    const noRef = await deliver({ body: JSON.stringify(pushPayload({ ref: undefined })) });
    expect(noRef.text).toMatch(/^ref: /);
    const oddRef = await deliver({ body: JSON.stringify(pushPayload({ ref: 'refs/heads/a..b' })) });
    expect([oddRef.status, oddRef.text]).toEqual([400, 'ref: expected a ref such as refs/heads/main']);
    const notJson = await deliver({ body: 'not json at all' });
    expect([notJson.status, notJson.text]).toEqual([400, 'body is not JSON']);
    const noDelivery = await deliver({ headers: { 'x-github-delivery': '' } });
    expect(noDelivery.status).toBe(400);
    expect(pushes).toEqual([]);
  });

  it('other paths 404, other methods 405', async () => {
    expect((await deliver({ path: '/hooks/other' })).status).toBe(404);
    expect((await deliver({ method: 'GET' })).status).toBe(405);
    expect((await deliver({ method: 'PUT' })).status).toBe(405);
  });

  it('onPush failing: 503, and the same delivery is accepted when redelivered', async () => {
    behaviour.fail = true;
    const failed = await deliver();
    expect(failed.status).toBe(503);
    expect(pushes).toEqual([]);
    behaviour.fail = false;
    const redelivered = await deliver({ deliveryId: failed.deliveryId });
    expect(redelivered.status).toBe(202);
    expect(pushes.map((p) => p.deliveryId)).toEqual([failed.deliveryId]);
  });

  it('an onPush that hangs gets 503 within its timeout', async () => {
    const slow = await startGitWebhookServer({
      host: '127.0.0.1',
      port: 0,
      secret,
      repositories: new Map([['studio/critters-art', location]]),
      onPush: () => new Promise(() => {}),
      onPushTimeoutMs: 200,
      log: () => {},
    });
    try {
      const body = JSON.stringify(pushPayload());
      const started = Date.now();
      const response = await fetch(`${slow.url}/hooks/git`, {
        method: 'POST',
        headers: { 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signGitDelivery(secret, body) },
        body,
      });
      expect(response.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await slow.close();
    }
  });
});
