// Incoming push webhooks (GitHub, Gitea, Forgejo): a push to a configured repository becomes a
// sync request. Every delivery is checked before it is believed: the HMAC-SHA256 of the raw body
// with the shared secret (X-Hub-Signature-256, compared in constant time) before any JSON is
// parsed, and its delivery id not seen before (the last 10,000 in memory, plus `knownDelivery`,
// which asks the sync runs). A delivery id is remembered only once `onPush` succeeded, so a failed
// one (503) can be redelivered by the sender. Answers well within GitHub's 10 s: onPush only
// signals a workflow and gets 8 s.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { refPattern } from '../../common/repository.ts';

export const GIT_HOOK_PATH = '/hooks/git';
export const MAX_BODY_BYTES = 5 * 1024 * 1024;
export const REMEMBERED_DELIVERIES = 10_000;
export const ON_PUSH_TIMEOUT_MS = 8_000;

export interface GitPush {
  /** The configured location the sender's repository stands for. */
  repository: string;
  /** e.g. refs/heads/main */
  ref: string;
  /** The pushed head (40 or 64 hex digits). */
  commit: string;
  deliveryId: string;
}

export interface GitWebhookServerOptions {
  host: string;
  port: number;
  secret: string;
  /** owner/name (as the sender spells repository.full_name; compared case-insensitively) -> location. */
  repositories: Map<string, string>;
  onPush: (push: GitPush) => Promise<void>;
  /** Whether a delivery was already acted on, beyond this process's memory (e.g. by a sync run). */
  knownDelivery?: (repository: string, deliveryId: string) => Promise<boolean>;
  /** One line per delivery; console.log by default. Never given the secret or a signature. */
  log?: (line: string) => void;
  /** For tests; ON_PUSH_TIMEOUT_MS by default. */
  onPushTimeoutMs?: number;
}

export interface RunningGitWebhookServer {
  /** http://host:port (the hook's URL is this plus /hooks/git). */
  url: string;
  close(): Promise<void>;
}

/** An answer, and what the delivery's log line says about it. */
interface Reply {
  status: number;
  body: string | object;
  note?: string;
}

/** What a delivery's log line says besides the answer. */
interface DeliveryFacts {
  deliveryId?: string;
  event?: string;
  repository?: string;
  ref?: string;
  commit?: string;
}

const firstHeader = (request: http.IncomingMessage, names: string[]): string | undefined => {
  for (const name of names) {
    const value = request.headers[name];
    const text = Array.isArray(value) ? value[0] : value;
    if (text) return text;
  }
  return undefined;
};

const EVENT_HEADERS = ['x-github-event', 'x-gitea-event', 'x-forgejo-event'];
const DELIVERY_HEADERS = ['x-github-delivery', 'x-gitea-delivery', 'x-forgejo-delivery'];
/** `sha256=<hex>` (GitHub, and Gitea/Forgejo too), else Gitea's and Forgejo's own header (bare hex). */
const SIGNATURE_HEADERS = ['x-hub-signature-256', 'x-gitea-signature', 'x-forgejo-signature'];

const deliveryIdPattern = /^[A-Za-z0-9._:-]{1,100}$/;
const commitPattern = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** The set of the last `limit` delivery ids, oldest forgotten first. */
class RecentDeliveries {
  private readonly ids = new Set<string>();
  constructor(private readonly limit: number) {}
  has(id: string) {
    return this.ids.has(id);
  }
  add(id: string) {
    this.ids.delete(id);
    this.ids.add(id);
    while (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value!);
  }
}

/** The raw body, or undefined once it passes `limit` (the rest is left for Node to discard). */
async function readBody(request: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Whether `header` is a valid signature of `body`: sha256=<hex> or bare hex, compared in constant time. */
export function gitSignatureMatches(secret: string, body: Buffer, header: string): boolean {
  const hex = header.startsWith('sha256=') ? header.slice('sha256='.length) : header;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return false;
  const given = Buffer.from(hex, 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The sender's signature header for a body: what a test (or a script) sends. */
export const signGitDelivery = (secret: string, body: string | Buffer) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

type ParsedPush = { ok: true; fullName: string; ref: string; commit: string; deleted: boolean } | { ok: false; reason: string };

/** The fields of a push payload this server needs, checked. */
function parsePush(body: Buffer): ParsedPush {
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  const p = payload as { ref?: unknown; after?: unknown; deleted?: unknown; repository?: { full_name?: unknown } } | null;
  if (typeof p !== 'object' || p === null) return { ok: false, reason: 'body is not a JSON object' };
  if (typeof p.ref !== 'string' || !p.ref.startsWith('refs/') || !refPattern.test(p.ref))
    return { ok: false, reason: 'ref: expected a ref such as refs/heads/main' };
  if (typeof p.after !== 'string' || !commitPattern.test(p.after)) return { ok: false, reason: 'after: expected a commit id (40 or 64 lowercase hex digits)' };
  const fullName = p.repository?.full_name;
  if (typeof fullName !== 'string' || !/^[\w.-]{1,100}\/[\w.-]{1,100}$/.test(fullName))
    return { ok: false, reason: 'repository.full_name: expected owner/name' };
  return { ok: true, fullName, ref: p.ref, commit: p.after, deleted: p.deleted === true || /^0+$/.test(p.after) };
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Starts the server; resolves once it listens. */
export async function startGitWebhookServer(options: GitWebhookServerOptions): Promise<RunningGitWebhookServer> {
  const log = options.log ?? ((line: string) => console.log(line));
  const locations = new Map([...options.repositories].map(([name, location]) => [name.toLowerCase(), location]));
  const state: DeliveryState = { recent: new RecentDeliveries(REMEMBERED_DELIVERIES), inFlight: new Set() };
  const handle = (request: http.IncomingMessage, response: http.ServerResponse) => {
    const started = Date.now();
    const facts: DeliveryFacts = {};
    void answer(request, facts, { ...options, locations, state })
      .catch((error: Error): Reply => ({ status: 500, body: 'internal error', note: error.message }))
      .then((reply) => {
        const json = typeof reply.body === 'object';
        response.writeHead(reply.status, {
          'content-type': json ? 'application/json' : 'text/plain; charset=utf-8',
          ...(reply.status === 413 ? { connection: 'close' } : {}),
        });
        response.end(json ? JSON.stringify(reply.body) : reply.body);
        log(deliveryLine(request, facts, reply, Date.now() - started));
      });
  };
  const server = http.createServer(handle);
  // A slow sender cannot hold a connection for long: GitHub sends a delivery at once.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

interface DeliveryState {
  recent: RecentDeliveries;
  /** Deliveries whose onPush is running: a concurrent redelivery is a replay too. */
  inFlight: Set<string>;
}

type HandlerContext = GitWebhookServerOptions & { locations: Map<string, string>; state: DeliveryState };

/** Every check in order; the answer for the delivery (never throws for a bad request). */
async function answer(request: http.IncomingMessage, facts: DeliveryFacts, context: HandlerContext): Promise<Reply> {
  const pathname = (request.url ?? '/').split('?')[0];
  if (pathname !== GIT_HOOK_PATH) return { status: 404, body: 'not found' };
  if (request.method !== 'POST') return { status: 405, body: 'method not allowed; deliveries are POSTed' };
  if (Number(request.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return { status: 413, body: `body over ${MAX_BODY_BYTES} bytes` };
  const body = await readBody(request, MAX_BODY_BYTES);
  if (body === undefined) return { status: 413, body: `body over ${MAX_BODY_BYTES} bytes` };
  const event = firstHeader(request, EVENT_HEADERS);
  const deliveryId = firstHeader(request, DELIVERY_HEADERS);
  if (!event) return { status: 400, body: 'missing X-GitHub-Event (or X-Gitea-Event, X-Forgejo-Event)' };
  if (!deliveryId || !deliveryIdPattern.test(deliveryId))
    return { status: 400, body: 'missing or malformed X-GitHub-Delivery (or X-Gitea-Delivery, X-Forgejo-Delivery)' };
  facts.deliveryId = deliveryId;
  facts.event = /^[a-z_]{1,40}$/.test(event) ? event : '(malformed)';
  const signature = firstHeader(request, SIGNATURE_HEADERS);
  if (!signature) return { status: 401, body: 'unsigned delivery' };
  if (!gitSignatureMatches(context.secret, body, signature)) return { status: 401, body: 'bad signature' };
  // Authentic from here on.
  if (event === 'ping') return { status: 200, body: 'pong' };
  if (event !== 'push') return { status: 202, body: 'ignored', note: `event ${facts.event}` };
  const push = parsePush(body);
  if (!push.ok) return { status: 400, body: push.reason };
  facts.repository = push.fullName;
  facts.ref = push.ref;
  facts.commit = push.commit;
  if (push.deleted) return { status: 202, body: 'ignored', note: 'branch deleted' };
  const location = context.locations.get(push.fullName.toLowerCase());
  if (location === undefined) return { status: 404, body: 'repository not configured' };
  return deliver(context, { repository: location, ref: push.ref, commit: push.commit, deliveryId });
}

/** The replay checks, then onPush; the delivery id is remembered only when onPush succeeded. */
async function deliver(context: HandlerContext, push: GitPush): Promise<Reply> {
  const { state } = context;
  const { deliveryId } = push;
  const replay: Reply = { status: 401, body: `delivery ${deliveryId} already received (replay)` };
  if (state.recent.has(deliveryId) || state.inFlight.has(deliveryId)) return replay;
  state.inFlight.add(deliveryId);
  try {
    let known: boolean;
    try {
      known = (await context.knownDelivery?.(push.repository, deliveryId)) ?? false;
    } catch (error) {
      return { status: 503, body: 'cannot check for a replay now; redeliver later', note: (error as Error).message };
    }
    if (known) {
      state.recent.add(deliveryId);
      return replay;
    }
    try {
      await withTimeout(context.onPush(push), context.onPushTimeoutMs ?? ON_PUSH_TIMEOUT_MS, 'the sync request');
    } catch (error) {
      return { status: 503, body: 'the sync request failed; redeliver later', note: (error as Error).message };
    }
    state.recent.add(deliveryId);
    return { status: 202, body: { accepted: true, deliveryId } };
  } finally {
    state.inFlight.delete(deliveryId);
  }
}

/** One log line: what was delivered and what it got; headers other than event and delivery are never shown. */
function deliveryLine(request: http.IncomingMessage, facts: DeliveryFacts, reply: Reply, ms: number): string {
  const parts = [`git webhook ${request.method ?? '?'} ${(request.url ?? '/').split('?')[0]!.slice(0, 100)}`];
  if (facts.deliveryId) parts.push(`delivery ${facts.deliveryId}`);
  if (facts.event) parts.push(`event ${facts.event}`);
  if (facts.repository) parts.push(`${facts.repository} ${facts.ref} ${facts.commit?.slice(0, 12)}`);
  const said = typeof reply.body === 'string' ? reply.body : 'accepted';
  parts.push(`-> ${reply.status} ${said}${reply.note ? ` (${reply.note.slice(0, 200)})` : ''}`, `${ms} ms`);
  return parts.join(' ');
}
