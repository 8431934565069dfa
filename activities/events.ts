// Outgoing webhooks: an asset run's events POSTed to the receivers subscribed to its collection,
// signed per Standard Webhooks (common/webhooks.ts). At least once per receiver, never twice on
// purpose: every attempt carries the event's id as webhook-id and Idempotency-Key, the same body
// bytes, and the receivers that already answered 2xx are kept in heartbeat details, so a retry
// after a failure or a worker crash sends only to those that did not confirm.
//
// What fails how:
// - 2xx: delivered.
// - 400, 413, 415, 422 (the receiver refuses this payload; the same bytes would be refused again):
//   that receiver is given up for this event, recorded in the result's `refused`; the others go on.
// - Anything else (5xx, 408, 429, 401/403/404 that an operator can fix, redirects, network errors,
//   the 10 s timeout): a retryable failure naming the receivers; Temporal retries with backoff
//   under the workflow's policy, re-sending only to them.
// - An event that fails validation (forged or malformed history): non-retryable, nothing is sent.
// URLs come only from the subscriptions file; the event picks none of them.
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { z } from 'zod';
import type { AssetEvent, AssetEventName } from '../common/events.ts';
import { assetEventNames } from '../common/events.ts';
import { makeRedactor, maskUrl } from '../common/redact.ts';
import { assetKeyPattern } from '../common/asset.ts';
import { slug } from '../common/specSchema.ts';
import type { Subscription, WebhookSubscriptions } from '../common/webhooks.ts';
import { subscribedEventNames, subscriptionsFor, webhookBody, webhookHeaders } from '../common/webhooks.ts';
import { heartbeatWhile } from './heartbeat.ts';

export interface EventDependencies {
  subscriptions: WebhookSubscriptions;
  /** Per request; 10 s by default. */
  requestTimeoutMs?: number;
}

export interface PublishResult {
  /** Receivers that confirmed (2xx), in this attempt or an earlier one. */
  delivered: number;
  /** Receivers that refused this event for good (400, 413, 415, 422), by masked URL. */
  refused: { url: string; status: number }[];
}

/**
 * Heartbeat details of publishEvent: the receivers that answered for good so far, by receiverKey.
 * Not the URLs themselves: a URL may carry a token, and a timed-out attempt's last heartbeat
 * details are written into the workflow's history.
 */
export interface DeliveryProgress {
  delivered: string[];
  refused: { receiver: string; status: number }[];
}

/** A receiver's name in heartbeat details: a digest of its configured URL. */
export const receiverKey = (url: string) => createHash('sha256').update(url).digest('hex').slice(0, 24);

/** Statuses that say the receiver refuses this very payload: sending the same bytes again cannot help. */
const permanentRefusals = new Set([400, 413, 415, 422]);

const MAX_DATA_BYTES = 64 * 1024;
const boundedId = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7e]+$/, 'expected printable ASCII without spaces');

const eventSchema = z
  .object({
    type: z.enum(assetEventNames),
    id: boundedId(512),
    occurredAt: z.iso.datetime({ offset: true }),
    collectionId: slug,
    assetKey: z.string().regex(assetKeyPattern),
    workflowId: boundedId(256),
    runId: boundedId(128),
    round: z.number().int().min(0).max(1_000_000),
    data: z.record(z.string().max(100), z.unknown()),
  })
  // Unknown fields are dropped, not refused: the body is built from the fields above only.
  .refine((event) => jsonBytes(event.data) <= MAX_DATA_BYTES, { message: `expected JSON data of at most ${MAX_DATA_BYTES} bytes`, path: ['data'] });

function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value));
  } catch {
    return Infinity;
  }
}

/** The event as the workflow sent it, checked; a bad one fails for good before anything is sent. */
function checkedEvent(input: unknown): AssetEvent {
  const parsed = eventSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(`invalid event, nothing sent: ${problems}`, 'InvalidEvent');
  }
  return parsed.data;
}

/** Progress from an earlier attempt; anything malformed counts as none (it can only make us send again). */
function previousProgress(details: unknown): DeliveryProgress {
  const parsed = z
    .object({
      delivered: z.array(z.string()),
      refused: z.array(z.object({ receiver: z.string(), status: z.number() })),
    })
    .safeParse(details);
  return parsed.success ? parsed.data : { delivered: [], refused: [] };
}

type Outcome = { ok: true } | { ok: false; permanent: boolean; status?: number; reason: string };

/** One signed POST; the outcome, never a throw. */
async function send(subscription: Subscription, event: AssetEvent, body: string, timeoutMs: number): Promise<Outcome> {
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const response = await fetch(subscription.url, {
      method: 'POST',
      headers: webhookHeaders(subscription.secret, event.id, timestamp, body),
      body,
      // A redirect is not followed: the receiver is the configured URL, nothing it points to.
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), Context.current().cancellationSignal]),
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.status >= 200 && response.status < 300) return { ok: true };
    const permanent = permanentRefusals.has(response.status);
    const hint = response.status >= 300 && response.status < 400 ? ' (redirects are not followed; configure the final URL)' : '';
    return { ok: false, permanent, status: response.status, reason: `HTTP ${response.status}${hint}` };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const name = (error as Error).name;
    const reason = name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? (error as Error).message);
    return { ok: false, permanent: false, reason };
  }
}

export function createEventActivities({ subscriptions, requestTimeoutMs = 10_000 }: EventDependencies) {
  const redact = makeRedactor({ secrets: subscriptions.subscriptions.map((s) => s.secret), urls: subscriptions.subscriptions.map((s) => s.url) });

  return {
    /** The event types anyone subscribes to for the collection: the workflow publishes only these. */
    async subscribedEvents({ collectionId }: { collectionId: string }): Promise<AssetEventName[]> {
      return subscribedEventNames(subscriptions, collectionId);
    },

    /** POSTs the event to every subscription that wants it and has not confirmed it yet. */
    async publishEvent(input: AssetEvent): Promise<PublishResult> {
      const event = checkedEvent(input);
      const context = Context.current();
      const progress = previousProgress(context.info.heartbeatDetails);
      const targets = subscriptionsFor(subscriptions, event.collectionId).filter((s) => s.events.includes(event.type));
      const settled = new Set([...progress.delivered, ...progress.refused.map((r) => r.receiver)]);
      const pending = targets.filter((s) => !settled.has(receiverKey(s.url)));
      // The result and errors show masked URLs only (no credentials).
      const body = webhookBody(event);
      const failures: string[] = [];
      await heartbeatWhile(
        Promise.all(
          pending.map(async (subscription) => {
            const outcome = await send(subscription, event, body, requestTimeoutMs);
            if (outcome.ok) progress.delivered.push(receiverKey(subscription.url));
            else if (outcome.permanent) progress.refused.push({ receiver: receiverKey(subscription.url), status: outcome.status! });
            else failures.push(`${maskUrl(subscription.url)}: ${outcome.reason}`);
            if (outcome.ok || outcome.permanent) context.heartbeat(progress);
          }),
        ),
        () => progress,
      );
      const delivered = targets.filter((s) => progress.delivered.includes(receiverKey(s.url))).length;
      const refused = targets.flatMap((s) =>
        progress.refused.filter((r) => r.receiver === receiverKey(s.url)).map((r) => ({ url: maskUrl(s.url), status: r.status })),
      );
      for (const r of refused) log.warn('webhook refused for good', { eventId: event.id, type: event.type, url: r.url, status: r.status });
      if (failures.length > 0) {
        context.heartbeat(progress);
        // Cancelled (the run ended, or the worker shuts down): say so, not that receivers failed.
        if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason;
        throw ApplicationFailure.retryable(
          redact(`webhook ${event.type} ${event.id} not confirmed by ${failures.length} of ${targets.length} receivers: ${failures.join('; ')}`),
          'WebhookDeliveryFailed',
        );
      }
      log.info('webhook delivered', { eventId: event.id, type: event.type, delivered, refused: refused.length, receivers: targets.length });
      return { delivered, refused };
    },
  };
}
