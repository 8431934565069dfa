// Outgoing webhooks: the subscriptions file's checks (specific, never showing a secret), Standard
// Webhooks signing (the spec's own test vector), and publishEvent run through MockActivityEnvironment
// against real local receivers: signed, the same bytes and webhook-id on every attempt, and a retry
// with the first attempt's heartbeat details re-sends only to the receiver that did not confirm.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventActivities, receiverKey } from '../activities/events.ts';
import type { PublishResult } from '../activities/events.ts';
import type { AssetEvent } from '../common/events.ts';
import { assetEventId, assetEventNames } from '../common/events.ts';
import type { WebhookSubscriptions } from '../common/webhooks.ts';
import {
  WebhookSettingsError,
  WebhookVerificationError,
  loadWebhookSubscriptions,
  parseWebhookSubscriptions,
  signWebhook,
  subscriptionsFor,
  verifyWebhook,
  webhookBody,
} from '../common/webhooks.ts';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A receiver on 127.0.0.1:0 answering each request with the next status of `statuses` (the last one repeats). */
async function receiver(statuses: number[]) {
  const requests: Received[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(statuses[Math.min(requests.length - 1, statuses.length - 1)]!).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/atelier`;
  return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const secret = (label: string) => `${label}-${randomBytes(16).toString('hex')}`;

const event = (overrides: Partial<AssetEvent> = {}): AssetEvent => {
  const workflowId = 'asset:critters:8';
  const runId = '0197a0c4-1111-7222-8333-444455556666';
  const type = overrides.type ?? 'asset.minted';
  return {
    type,
    id: assetEventId(workflowId, runId, type, 1),
    occurredAt: '2025-06-01T12:00:00.000Z',
    collectionId: 'critters',
    assetKey: '8',
    workflowId,
    runId,
    round: 1,
    data: { tokenId: '8', txHash: `0x${'ab'.repeat(32)}`, metadataCid: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi' },
    ...overrides,
  };
};

/** Activity failures are what these tests expect: the SDK's log lines about them are left out. */
const quiet: Logger = { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** Runs publishEvent in a mock activity context; the heartbeats it sent and its outcome. */
async function publish(activities: ReturnType<typeof createEventActivities>, input: AssetEvent, heartbeatDetails?: unknown) {
  const env = new MockActivityEnvironment({ heartbeatDetails, attempt: heartbeatDetails === undefined ? 1 : 2 }, { logger: quiet });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => heartbeats.push(structuredClone(details)));
  try {
    const result: PublishResult = await env.run(activities.publishEvent, input);
    return { result, heartbeats, error: undefined };
  } catch (error) {
    return { result: undefined, heartbeats, error: error as ApplicationFailure };
  }
}

describe('subscriptions file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-webhooks-'));
  const write = (name: string, content: unknown) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return file;
  };
  const problemsOf = (file: string): string => {
    try {
      loadWebhookSubscriptions(file);
    } catch (error) {
      expect(error).toBeInstanceOf(WebhookSettingsError);
      return (error as Error).message;
    }
    throw new Error('expected a WebhookSettingsError');
  };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a missing file means no subscriptions', () => {
    expect(loadWebhookSubscriptions(path.join(dir, 'absent.json'))).toEqual({ subscriptions: [] });
  });

  it('reads subscriptions; events default to all; matches a collection by id or "*"', () => {
    const s1 = secret('one');
    const s2 = secret('two');
    const file = write('ok.json', {
      subscriptions: [
        { collections: ['critters'], url: 'https://hooks.example.org/atelier', secret: s1, events: ['asset.minted'] },
        { collections: ['*'], url: 'http://127.0.0.1:9999/all', secret: s2 },
      ],
    });
    const subs = loadWebhookSubscriptions(file);
    expect(subs.subscriptions[1]!.events).toEqual([...assetEventNames]);
    expect(subscriptionsFor(subs, 'critters').map((s) => s.url)).toEqual(['https://hooks.example.org/atelier', 'http://127.0.0.1:9999/all']);
    expect(subscriptionsFor(subs, 'robots').map((s) => s.url)).toEqual(['http://127.0.0.1:9999/all']);
  });

  it('names each bad field and never shows a secret', () => {
    const short = 'tooShort12';
    const good = secret('kept');
    const file = write('bad.json', {
      subscriptions: [
        { collections: ['critters'], url: 'ftp://hooks.example.org', secret: short, events: ['asset.minted', 'asset.exploded'] },
        { collections: ['Bad Name'], url: 'https://a.example.org', secret: good, extra: good },
        { collections: [], url: 'https://a.example.org', secret: 12345678901234567890 },
      ],
    });
    const message = problemsOf(file);
    expect(message).toContain(file);
    expect(message).toMatch(/subscriptions\.0\.url: expected an http\(s\) URL/);
    expect(message).toMatch(/subscriptions\.0\.secret: expected at least 16 characters \(value not shown\)/);
    expect(message).toMatch(/subscriptions\.0\.events\.1: expected one of asset\.awaiting_approval/);
    expect(message).toMatch(/subscriptions\.1\.collections\.0: expected a collection id/);
    expect(message).toMatch(/subscriptions\.1: unknown field "extra"/);
    expect(message).toMatch(/subscriptions\.2\.collections: expected at least one/);
    expect(message).toMatch(/subscriptions\.2\.secret: expected a string/);
    expect(message).not.toContain(short);
    expect(message).not.toContain(good);
    expect(message).not.toContain('12345678901234567890');
  });

  it('a JSON syntax error gives the position, not the text around it (a secret)', () => {
    const hidden = secret('syntax');
    const file = write('syntax.json', `{ "subscriptions": [ { "collections": ["*"], "url": "https://a.example.org", "secret": "${hidden}" ,, } ] }`);
    const message = problemsOf(file);
    expect(message).toMatch(/not valid JSON at line 1, column \d+/);
    expect(message).not.toContain(hidden);
    expect(message).not.toContain(hidden.slice(0, 10));
  });

  it('one subscription per URL; a whsec_ secret must decode to 16 bytes', () => {
    const s = secret('dup');
    expect(() =>
      parseWebhookSubscriptions({
        subscriptions: [
          { collections: ['a'], url: 'https://a.example.org/h', secret: s },
          { collections: ['b'], url: 'https://a.example.org/h', secret: s },
        ],
      }),
    ).toThrow(/subscriptions\.1\.url: the same URL as subscriptions\.0/);
    expect(() =>
      parseWebhookSubscriptions({ subscriptions: [{ collections: ['a'], url: 'https://a.example.org/h', secret: 'whsec_c2hvcnRzaG9ydHNob3J0' }] }),
    ).toThrow(/subscriptions\.0\.secret: a whsec_ secret must be base64 of at least 16 bytes/);
  });
});

describe('Standard Webhooks signatures', () => {
  it('matches the spec test vector (whsec_ secrets are base64 keys)', () => {
    const vector = {
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: 1614265330,
      body: '{"test": 2432232314}',
      signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };
    expect(signWebhook(vector.secret, vector.id, vector.timestamp, vector.body)).toBe(vector.signature);
    const headers = { 'webhook-id': vector.id, 'webhook-timestamp': String(vector.timestamp), 'webhook-signature': `v1,bogus ${vector.signature}` };
    expect(verifyWebhook(vector.secret, headers, vector.body, { now: new Date(vector.timestamp * 1000 + 60_000) })).toEqual({
      id: vector.id,
      timestamp: vector.timestamp,
    });
  });

  it('refuses a changed body, another secret, a stale timestamp, missing headers', () => {
    const key = secret('verify');
    const now = new Date();
    const ts = Math.floor(now.getTime() / 1000);
    const body = '{"a":1}';
    const headers = { 'webhook-id': 'evt-1', 'webhook-timestamp': String(ts), 'webhook-signature': signWebhook(key, 'evt-1', ts, body) };
    expect(verifyWebhook(key, new Headers(headers), body).id).toBe('evt-1');
    expect(() => verifyWebhook(key, headers, '{"a":2}')).toThrow(/no matching signature/);
    expect(() => verifyWebhook(secret('other'), headers, body)).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(key, { ...headers, 'webhook-id': 'evt-2' }, body)).toThrow(/no matching signature/);
    expect(() => verifyWebhook(key, headers, body, { now: new Date(now.getTime() + 301_000) })).toThrow(/tolerance/);
    expect(() => verifyWebhook(key, { 'webhook-id': 'evt-1' }, body)).toThrow(/missing/);
  });
});

describe('publishEvent', () => {
  let steady: Awaited<ReturnType<typeof receiver>>;
  let flaky: Awaited<ReturnType<typeof receiver>>;
  let otherCollection: Awaited<ReturnType<typeof receiver>>;
  let otherEvents: Awaited<ReturnType<typeof receiver>>;
  let refusing: Awaited<ReturnType<typeof receiver>>;
  const secrets = { steady: secret('steady'), flaky: secret('flaky'), other: secret('other'), events: secret('events'), refusing: secret('refusing') };
  let subscriptions: WebhookSubscriptions;

  beforeAll(async () => {
    [steady, flaky, otherCollection, otherEvents, refusing] = await Promise.all([
      receiver([200]),
      receiver([500, 200]),
      receiver([200]),
      receiver([200]),
      receiver([422]),
    ]);
    subscriptions = parseWebhookSubscriptions({
      subscriptions: [
        { collections: ['critters'], url: steady.url, secret: secrets.steady },
        { collections: ['*'], url: flaky.url, secret: secrets.flaky, events: ['asset.minted', 'asset.failed'] },
        { collections: ['robots'], url: otherCollection.url, secret: secrets.other },
        { collections: ['critters'], url: otherEvents.url, secret: secrets.events, events: ['asset.approved'] },
        { collections: ['refusers'], url: refusing.url, secret: secrets.refusing },
      ],
    });
  });
  afterAll(async () => {
    await Promise.all([steady, flaky, otherCollection, otherEvents, refusing].map((r) => r?.close()));
  });

  it("subscribedEvents: the union of what the collection's subscriptions want", async () => {
    const activities = createEventActivities({ subscriptions });
    const env = new MockActivityEnvironment();
    expect(await env.run(activities.subscribedEvents, { collectionId: 'critters' })).toEqual([...assetEventNames]);
    expect(await env.run(activities.subscribedEvents, { collectionId: 'dragons' })).toEqual(['asset.minted', 'asset.failed']);
    const none = createEventActivities({ subscriptions: { subscriptions: [] } });
    expect(await env.run(none.subscribedEvents, { collectionId: 'critters' })).toEqual([]);
  });

  it('signs, retries only the receiver that failed, with the same id and body', async () => {
    const activities = createEventActivities({ subscriptions });
    const minted = event();

    const first = await publish(activities, minted);
    expect(first.error).toBeInstanceOf(ApplicationFailure);
    expect(first.error!.nonRetryable).toBe(false);
    expect(first.error!.type).toBe('WebhookDeliveryFailed');
    expect(first.error!.message).toMatch(/not confirmed by 1 of 2 receivers: .*HTTP 500/);
    expect(first.error!.message).not.toContain(secrets.flaky);
    const progress = first.heartbeats.at(-1);
    expect(progress).toEqual({ delivered: [receiverKey(steady.url)], refused: [] });
    expect(JSON.stringify(progress)).not.toContain('127.0.0.1');
    expect(steady.requests).toHaveLength(1);
    expect(flaky.requests).toHaveLength(1);

    // The retry: Temporal hands the last heartbeat details to the next attempt.
    const second = await publish(activities, minted, progress);
    expect(second.error).toBeUndefined();
    expect(second.result).toEqual({ delivered: 2, refused: [] });
    expect(steady.requests).toHaveLength(1);
    expect(flaky.requests).toHaveLength(2);
    expect(otherCollection.requests).toHaveLength(0);
    expect(otherEvents.requests).toHaveLength(0);

    const [a, b] = flaky.requests;
    expect(b!.body).toBe(a!.body);
    expect(a!.body).toBe(webhookBody(minted));
    expect(b!.headers['webhook-id']).toBe(minted.id);
    expect(a!.headers['webhook-id']).toBe(minted.id);
    expect(b!.headers['idempotency-key']).toBe(minted.id);
    expect(b!.headers['content-type']).toBe('application/json');
    for (const r of [a!, b!]) expect(verifyWebhook(secrets.flaky, r.headers, r.body).id).toBe(minted.id);
    expect(verifyWebhook(secrets.steady, steady.requests[0]!.headers, steady.requests[0]!.body).id).toBe(minted.id);
    expect(() => verifyWebhook(secrets.steady, a!.headers, a!.body)).toThrow(WebhookVerificationError);

    expect(JSON.parse(a!.body)).toEqual({
      id: minted.id,
      type: 'asset.minted',
      occurredAt: minted.occurredAt,
      data: { collectionId: 'critters', assetKey: '8', workflowId: minted.workflowId, runId: minted.runId, round: 1, ...minted.data },
    });

    // A third attempt with everything confirmed sends nothing.
    const third = await publish(activities, minted, second.heartbeats.at(-1) ?? { delivered: [receiverKey(steady.url), receiverKey(flaky.url)], refused: [] });
    expect(third.result).toEqual({ delivered: 2, refused: [] });
    expect(flaky.requests).toHaveLength(2);
  });

  it('the event cannot override the identity fields of the body', () => {
    const body = JSON.parse(webhookBody(event({ data: { collectionId: 'forged', round: 99, tokenId: '8' } })));
    expect(body.data).toMatchObject({ collectionId: 'critters', round: 1, tokenId: '8' });
  });

  it('a receiver that refuses the payload (422) is given up for this event, not retried', async () => {
    const activities = createEventActivities({ subscriptions });
    const refused = await publish(activities, event({ collectionId: 'refusers', type: 'asset.approved' }));
    expect(refused.error).toBeUndefined();
    expect(refused.result).toEqual({ delivered: 0, refused: [{ url: refusing.url, status: 422 }] });
    expect(refused.heartbeats.at(-1)).toEqual({ delivered: [], refused: [{ receiver: receiverKey(refusing.url), status: 422 }] });
    const again = await publish(activities, event({ collectionId: 'refusers', type: 'asset.approved' }), refused.heartbeats.at(-1));
    expect(again.result?.refused).toHaveLength(1);
    expect(refusing.requests).toHaveLength(1);
  });

  it('a forged or malformed event fails for good and sends nothing', async () => {
    const activities = createEventActivities({ subscriptions });
    const before = steady.requests.length + flaky.requests.length;
    const forged = [
      { ...event(), type: 'asset.exploded' },
      { ...event(), collectionId: '../critters' },
      { ...event(), id: 'x'.repeat(10_000) },
      { ...event(), id: 'has space' },
      { ...event(), data: { blob: 'y'.repeat(70_000) } },
      { ...event(), round: -1 },
      { ...event(), occurredAt: 'yesterday' },
    ] as unknown as AssetEvent[];
    for (const input of forged) {
      const { error } = await publish(activities, input);
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect(error!.nonRetryable).toBe(true);
      expect(error!.type).toBe('InvalidEvent');
    }
    expect(steady.requests.length + flaky.requests.length).toBe(before);
  });

  it('fields the event should not have are dropped: they pick no URL and are not sent', async () => {
    const activities = createEventActivities({ subscriptions });
    const sneaky = {
      ...event({ collectionId: 'dragons', type: 'asset.failed', data: { error: 'pin timed out' } }),
      url: 'http://evil.example.org/',
      secret: 'x',
    } as AssetEvent;
    const before = flaky.requests.length;
    const { result } = await publish(activities, sneaky);
    expect(result).toEqual({ delivered: 1, refused: [] });
    expect(flaky.requests).toHaveLength(before + 1);
    const body = flaky.requests.at(-1)!.body;
    expect(body).not.toContain('evil');
    expect(JSON.parse(body).data.error).toBe('pin timed out');
  });

  it('a receiver that does not answer in time is a retryable failure; a cancelled attempt is a cancellation', async () => {
    const silent = http.createServer(() => {}); // never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
    try {
      const activities = createEventActivities({
        subscriptions: parseWebhookSubscriptions({ subscriptions: [{ collections: ['*'], url, secret: secret('silent') }] }),
        requestTimeoutMs: 300,
      });
      const { error } = await publish(activities, event());
      expect(error!.nonRetryable).toBe(false);
      expect(error!.message).toMatch(/no answer within 300 ms/);

      // Cancelled while waiting: a cancellation, not a receiver failure.
      const env = new MockActivityEnvironment({}, { logger: quiet });
      const patient = createEventActivities({
        subscriptions: parseWebhookSubscriptions({ subscriptions: [{ collections: ['*'], url, secret: secret('silent') }] }),
      });
      const running = env.run(patient.publishEvent, event());
      setTimeout(() => env.cancel(), 200);
      await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
