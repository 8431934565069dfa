// Outgoing webhooks: the subscriptions file (ATELIER_WEBHOOKS_FILE), the body a receiver gets and
// its signature, per the Standard Webhooks spec (https://www.standardwebhooks.com):
//
//   webhook-id:        the event's id; identical on every attempt, the receiver's idempotency key
//   webhook-timestamp: unix seconds when this attempt was sent
//   webhook-signature: v1,<base64 HMAC-SHA256(key, `${id}.${timestamp}.${body}`)>
//
// The key is the secret's UTF-8 bytes, or, for a `whsec_<base64>` secret (the form the Standard
// Webhooks libraries generate), the decoded bytes, so their verifiers work unchanged.
// activities/events.ts delivers; workflows never import this file (it uses node:crypto and node:fs).
import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { projectRoot } from './config.ts';
import type { AssetEvent, AssetEventName } from './events.ts';
import { assetEventNames } from './events.ts';
import { makeRedactor } from './redact.ts';
import { slug } from './specSchema.ts';

/** The header a receiver reads besides the Standard Webhooks ones: the same value as webhook-id. */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

const WHSEC_PREFIX = 'whsec_';
const MIN_SECRET_BYTES = 16;

const webhookUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}, 'expected an http(s) URL');

// Messages describe the rule, never the value: the secret is not echoed, not even malformed.
const secret = z
  .string({ error: 'expected a string of at least 16 characters (value not shown)' })
  .min(16, 'expected at least 16 characters (value not shown)')
  .refine(
    (value) => !value.startsWith(WHSEC_PREFIX) || secretKey(value).length >= MIN_SECRET_BYTES,
    'a whsec_ secret must be base64 of at least 16 bytes (value not shown)',
  );

const collectionPattern = z
  .string()
  .refine((value) => value === '*' || slug.safeParse(value).success, 'expected a collection id (lowercase letters, digits, dashes) or "*"');

const eventName = z.enum(assetEventNames, { error: `expected one of ${assetEventNames.join(', ')}` });

const subscriptionSchema = z
  .object({
    /** Collection ids, or "*" for every collection. */
    collections: z.array(collectionPattern).min(1, 'expected at least one collection id or "*"'),
    url: webhookUrl,
    secret,
    /** The event types sent; every type when absent. */
    events: z.array(eventName).min(1, 'expected at least one event type (leave "events" out for all)').optional(),
  })
  .strict()
  .transform((s) => ({ ...s, events: s.events ?? [...assetEventNames] }));

const fileSchema = z
  .object({ subscriptions: z.array(subscriptionSchema) })
  .strict()
  .superRefine(({ subscriptions }, context) => {
    // Delivery progress is kept per URL (activities/events.ts): one subscription per URL.
    const first = new Map<string, number>();
    subscriptions.forEach((s, index) => {
      const seen = first.get(s.url);
      if (seen === undefined) first.set(s.url, index);
      else
        context.addIssue({
          code: 'custom',
          path: ['subscriptions', index, 'url'],
          message: `the same URL as subscriptions.${seen}; merge them into one subscription`,
        });
    });
  });

export type Subscription = z.output<typeof subscriptionSchema>;
export type WebhookSubscriptions = z.output<typeof fileSchema>;

export class WebhookSettingsError extends Error {
  constructor(
    /** The subscriptions file. */
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid webhook subscriptions in ${source}:\n  ${problems.join('\n  ')}`);
    this.name = 'WebhookSettingsError';
  }
}

/**
 * Reads and checks the subscriptions file (relative paths from the project root). A missing file
 * means no subscriptions. A WebhookSettingsError names the file and each bad field, never a secret.
 */
export function loadWebhookSubscriptions(file: string): WebhookSubscriptions {
  const resolved = path.resolve(projectRoot, file);
  let text: string;
  try {
    text = fs.readFileSync(resolved, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { subscriptions: [] };
    throw new WebhookSettingsError(resolved, [`cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'}; set ATELIER_WEBHOOKS_FILE)`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text around the error, which may be a secret: only the position is shown.
    throw new WebhookSettingsError(resolved, [`not valid JSON${jsonErrorPosition(text, (error as Error).message)}`]);
  }
  return parseWebhookSubscriptions(raw, resolved);
}

/** Checks an already parsed subscriptions document (`source` names it in errors). */
export function parseWebhookSubscriptions(raw: unknown, source = '(inline)'): WebhookSubscriptions {
  const parsed = fileSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  // The messages above never quote values; this also hides any secret-looking string of the file
  // that a message could carry (an unknown key holding one, say).
  const redact = makeRedactor({ secrets: stringsUnder(raw, 'secret') });
  const problems = parsed.error.issues.map((issue) => {
    const where = issue.path.join('.') || '(file)';
    const why = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
    return redact(`${where}: ${why}`);
  });
  throw new WebhookSettingsError(source, problems);
}

/** The subscriptions that cover a collection (by its id or "*"), in file order. */
export function subscriptionsFor(subs: WebhookSubscriptions, collectionId: string): Subscription[] {
  return subs.subscriptions.filter((s) => s.collections.includes('*') || s.collections.includes(collectionId));
}

/** Identity fields of the body's `data`; the event's own data cannot override them. */
const identityFields = ['collectionId', 'assetKey', 'workflowId', 'runId', 'round'] as const;

/** The request body: a pure function of the event, so every attempt sends the same bytes. */
export function webhookBody(event: AssetEvent): string {
  const extra = Object.fromEntries(Object.entries(event.data).filter(([key]) => !(identityFields as readonly string[]).includes(key)));
  const { id, type, occurredAt, collectionId, assetKey, workflowId, runId, round } = event;
  return JSON.stringify({ id, type, occurredAt, data: { collectionId, assetKey, workflowId, runId, round, ...extra } });
}

/** The HMAC key of a secret: a `whsec_` secret's base64 bytes, any other secret's UTF-8 bytes. */
function secretKey(secretValue: string): Buffer {
  return secretValue.startsWith(WHSEC_PREFIX) ? Buffer.from(secretValue.slice(WHSEC_PREFIX.length), 'base64') : Buffer.from(secretValue, 'utf8');
}

/** The `webhook-signature` value: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`. */
export function signWebhook(secretValue: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', secretKey(secretValue)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The headers of one attempt: the Standard Webhooks three, the idempotency key and the content type. */
export function webhookHeaders(secretValue: string, id: string, timestamp: number, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secretValue, id, timestamp, body),
    [IDEMPOTENCY_HEADER]: id,
  };
}

export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
}

export type WebhookHeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: WebhookHeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks a delivery as a receiver would: the three headers present, the timestamp within
 * `toleranceSeconds` of `now` (default: the clock), and one of the `v1,` signatures matching
 * (constant-time). Returns the id and timestamp; throws a WebhookVerificationError saying why not.
 */
export function verifyWebhook(
  secretValue: string,
  headers: WebhookHeaderSource,
  body: string,
  { toleranceSeconds = 300, now = new Date() }: { toleranceSeconds?: number; now?: Date } = {},
): { id: string; timestamp: number } {
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signatures) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature');
  if (!/^\d{1,12}$/.test(timestampText)) throw new WebhookVerificationError('webhook-timestamp is not unix seconds');
  const timestamp = Number(timestampText);
  if (Math.abs(Math.floor(now.getTime() / 1000) - timestamp) > toleranceSeconds)
    throw new WebhookVerificationError('webhook-timestamp outside the tolerance window');
  const expected = Buffer.from(signWebhook(secretValue, id, timestamp, body).slice('v1,'.length), 'base64');
  // Several space-separated signatures are allowed (key rotation); one valid v1 signature suffices.
  const matches = signatures.split(' ').some((candidate) => {
    if (!candidate.startsWith('v1,')) return false;
    const given = Buffer.from(candidate.slice('v1,'.length), 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw new WebhookVerificationError('no matching signature');
  return { id, timestamp };
}

/** The event types anyone subscribes to for a collection, in the order of assetEventNames. */
export function subscribedEventNames(subs: WebhookSubscriptions, collectionId: string): AssetEventName[] {
  const wanted = new Set(subscriptionsFor(subs, collectionId).flatMap((s) => s.events));
  return assetEventNames.filter((name) => wanted.has(name));
}

/** Every string found under a key named `key`, anywhere in a parsed JSON value. */
function stringsUnder(value: unknown, key: string, depth = 0): string[] {
  if (depth > 16 || value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap((v) => stringsUnder(v, key, depth + 1));
  return Object.entries(value).flatMap(([k, v]) => (k === key && typeof v === 'string' ? [v] : stringsUnder(v, key, depth + 1)));
}

/** " at line L, column C" for a JSON.parse message that gives a position; "" otherwise. */
function jsonErrorPosition(text: string, message: string): string {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return ` at line ${lineColumn[1]}, column ${lineColumn[2]}`;
  const position = /position (\d+)/.exec(message);
  if (!position) return message.includes('end of JSON') ? ' (it ends too early)' : '';
  const before = text.slice(0, Number(position[1])).split('\n');
  return ` at line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}
