// A small stand-in for Slack's Web API on loopback, for tests and the benchmark: the real
// @slack/web-api and @slack/bolt talk to it through `slackApiUrl`. It speaks the wire format
// (form-encoded or JSON bodies, Bearer token, `ok` JSON answers, `ts` strings), keeps channels
// with their messages, threads and metadata, and records every call. Faults can be queued to
// play a Slack that stores a post but loses the answer. Files go through Slack's external upload
// flow (files.getUploadURLExternal, a POST of the bytes to the upload URL, which is on this server,
// files.completeUploadExternal), and an image block may show a file by `slack_file` once it is
// shared where the message is and done processing.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  user: string;
  bot_id: string;
  text: string;
  blocks?: Array<Record<string, unknown>>;
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  edited?: { ts: string };
  /** How many times chat.update changed it. */
  updates: number;
  /** Files this message shares (files.completeUploadExternal posts one). */
  files?: Array<{ id: string; name: string; title: string; mimetype: string; size: number }>;
  upload?: boolean;
}

export interface FakeFile {
  id: string;
  filename: string;
  /** What files.getUploadURLExternal was told. */
  length: number;
  alt_text?: string;
  title?: string;
  /** The bytes the upload URL received (undefined until then). */
  bytes?: Buffer;
  /** How they came: the raw body or a multipart form. */
  uploadedAs?: 'raw' | 'multipart';
  /** Whether the upload request carried an Authorization header (the URL needs none). */
  uploadHadAuthorization?: boolean;
  /** Set by files.completeUploadExternal. */
  completedAt?: number;
  channel?: string;
  thread_ts?: string;
}

export interface FakeEphemeral {
  channel: string;
  user: string;
  text: string;
  at: number;
}

export interface FakeView {
  id: string;
  trigger_id: string;
  view: Record<string, unknown>;
}

type Fault = { method: string; kind: 'store-then-500' | '500' | 'error'; error?: string; match?: (args: Record<string, unknown>) => boolean };

export interface FakeSlackOptions {
  botToken: string;
  /** User group ID -> member user IDs (usergroups.users.list). */
  groups?: Record<string, string[]>;
}

export class FakeSlack {
  readonly botUserId = 'U0ATELIERBOT';
  readonly botId = 'B0ATELIER';
  readonly teamId = 'T0ATELIER';
  readonly calls: SlackCall[] = [];
  readonly messages: FakeMessage[] = [];
  readonly ephemerals: FakeEphemeral[] = [];
  readonly views: FakeView[] = [];
  /** Upload sessions by file ID, completed or not. */
  readonly files = new Map<string, FakeFile>();
  /** When set, image blocks make chat.postMessage / chat.update fail as Slack does when it cannot fetch the image. */
  rejectImages = false;
  /** How long a completed file stays unusable in a `slack_file` image block (Slack processes uploads asynchronously). */
  fileProcessingMs = 0;
  private readonly faults: Fault[] = [];
  /** Upload URL key -> file ID. */
  private readonly uploadKeys = new Map<string, string>();
  private seq = 0;
  private lastSecond = 0;

  private constructor(
    private readonly server: http.Server,
    private readonly options: FakeSlackOptions,
  ) {}

  static async start(options: FakeSlackOptions): Promise<FakeSlack> {
    let fake!: FakeSlack;
    const server = http.createServer((req, res) => void fake.handle(req, res));
    server.keepAliveTimeout = 5_000;
    fake = new FakeSlack(server, options);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  /** For WebClient's slackApiUrl (with the trailing slash). */
  get apiUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/`;
  }

  /** ATELIER_SLACK_API_URL's form (no trailing slash). */
  get apiBase(): string {
    return this.apiUrl.replace(/\/$/, '');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * The next call to `method` (whose arguments `match`, when given) fails: `store-then-500` keeps its
   * effect but answers HTTP 500 (Slack stored the post, the answer was lost), `500` changes nothing,
   * `error` answers `ok: false` with the given error.
   */
  failNext(method: string, kind: Fault['kind'] = 'store-then-500', options: { error?: string; match?: (args: Record<string, unknown>) => boolean } = {}): void {
    this.faults.push({ method, kind, error: options.error ?? 'internal_error', match: options.match });
  }

  callsTo(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Top-level messages of a channel, oldest first. */
  channelMessages(channel: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && (!m.thread_ts || m.thread_ts === m.ts));
  }

  threadReplies(channel: string, ts: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && m.thread_ts === ts && m.ts !== ts);
  }

  /** Request messages (by their metadata) of one workflow, in any channel. */
  requestMessages(workflowId: string, round?: number): FakeMessage[] {
    return this.messages.filter(
      (m) =>
        m.metadata?.event_type === 'atelier_approval_request' &&
        m.metadata.event_payload.workflowId === workflowId &&
        (round === undefined || Number(m.metadata.event_payload.round) === round),
    );
  }

  /** Files completed by files.completeUploadExternal, oldest first. */
  completedFiles(): FakeFile[] {
    return [...this.files.values()].filter((f) => f.completedAt !== undefined);
  }

  ephemeralsFor(user: string): FakeEphemeral[] {
    return this.ephemerals.filter((e) => e.user === user);
  }

  /** Polls `probe` until it returns something truthy. */
  async waitFor<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`fake Slack: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The POST to an upload URL: raw bytes or a multipart form with one file, as Slack accepts. */
  private receiveUpload(key: string, body: Buffer, req: http.IncomingMessage, res: http.ServerResponse): void {
    const file = this.files.get(this.uploadKeys.get(key) ?? '');
    const reply = (status: number, text: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(text);
    };
    this.calls.push({ method: 'upload', args: { file_id: file?.id, bytes: body.length }, at: Date.now() });
    if (!file || file.completedAt !== undefined) return reply(404, 'Not Found');
    const contentType = String(req.headers['content-type'] ?? '');
    const multipart = /^multipart\/form-data;.*boundary="?([^";]+)"?/i.exec(contentType);
    const bytes = multipart ? firstFormFile(body, multipart[1]!) : body;
    if (!bytes) return reply(400, 'Bad Request');
    file.bytes = Buffer.from(bytes);
    file.uploadedAs = multipart ? 'multipart' : 'raw';
    file.uploadHadAuthorization = req.headers.authorization !== undefined;
    reply(200, `OK - ${file.bytes.length}`);
  }

  private nextTs(): string {
    const second = Math.floor(Date.now() / 1000);
    if (second > this.lastSecond) {
      this.lastSecond = second;
      this.seq = 0;
    }
    this.seq++;
    return `${this.lastSecond}.${String(this.seq).padStart(6, '0')}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const raw = body.toString('utf8');
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    const match = /^\/api\/([\w.]+)$/.exec(pathname);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const upload = /^\/upload\/v1\/([\w-]+)$/.exec(pathname);
    if (req.method === 'POST' && upload) return this.receiveUpload(upload[1]!, body, req, res);
    if (req.method !== 'POST' || !match) return send(404, { ok: false, error: 'unknown_method' });
    const method = match[1]!;
    const args = parseBody(raw, String(req.headers['content-type'] ?? ''));
    this.calls.push({ method, args, at: Date.now() });
    if (req.headers.authorization !== `Bearer ${this.options.botToken}`) return send(200, { ok: false, error: 'invalid_auth' });
    const faultAt = this.faults.findIndex((f) => f.method === method && (!f.match || f.match(args)));
    const fault = faultAt >= 0 ? this.faults.splice(faultAt, 1)[0] : undefined;
    if (fault?.kind === '500') return send(500, { ok: false, error: 'internal_error' });
    if (fault?.kind === 'error') return send(200, { ok: false, error: fault.error });
    let answer: Record<string, unknown>;
    try {
      answer = this.answer(method, args);
    } catch (error) {
      answer = { ok: false, error: (error as Error).message };
    }
    if (fault?.kind === 'store-then-500') return send(500, { ok: false, error: 'internal_error' });
    send(200, answer);
  }

  private answer(method: string, args: Record<string, unknown>): Record<string, unknown> {
    const str = (name: string) => (typeof args[name] === 'string' ? (args[name] as string) : undefined);
    const json = <T>(name: string): T | undefined => {
      const value = args[name];
      if (value === undefined || value === '') return undefined;
      return (typeof value === 'string' ? JSON.parse(value) : value) as T;
    };
    const find = (channel: string | undefined, ts: string | undefined) => this.messages.find((m) => m.channel === channel && m.ts === ts);
    const checkImages = (blocks: Array<Record<string, unknown>> | undefined, channel: string | undefined) => {
      const errors: string[] = [];
      blocks?.forEach((block, at) => {
        if (block.type !== 'image') return;
        const slackFile = block.slack_file as { id?: unknown; url?: unknown } | undefined;
        if (slackFile === undefined) {
          if (this.rejectImages || typeof block.image_url !== 'string') errors.push(`downloading image failed [json-pointer:/blocks/${at}/image_url]`);
          return;
        }
        if ('image_url' in block) return errors.push(`must provide either image_url or slack_file, not both [json-pointer:/blocks/${at}]`);
        if (typeof slackFile.id !== 'string' || !/^F[A-Z0-9]{8,}$/.test(slackFile.id)) {
          return errors.push(`input must match regex pattern: ^[F][A-Z0-9]{8,}$ [json-pointer:/blocks/${at}/slack_file/id]`);
        }
        // Usable once completed, shared where the message goes (channel or one of its threads) and processed.
        const file = this.files.get(slackFile.id);
        const usable = file?.completedAt !== undefined && file.channel === channel && Date.now() >= file.completedAt + this.fileProcessingMs;
        if (this.rejectImages || !usable) errors.push(`invalid slack file [json-pointer:/blocks/${at}/slack_file]`);
      });
      return errors.length > 0 ? { ok: false, error: 'invalid_blocks', errors, response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) } } : undefined;
    };
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://atelier-test.slack.com/',
          team: 'Atelier',
          user: 'atelier',
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: this.botId,
        };
      case 'chat.postMessage': {
        const channel = str('channel');
        const blocks = json<Array<Record<string, unknown>>>('blocks');
        if (!channel) throw new Error('channel_not_found');
        if (!str('text') && !blocks) throw new Error('no_text');
        const rejected = checkImages(blocks, channel);
        if (rejected) return rejected;
        const thread = str('thread_ts');
        if (thread && !find(channel, thread)) throw new Error('thread_not_found');
        const message: FakeMessage = {
          channel,
          ts: this.nextTs(),
          thread_ts: thread,
          user: this.botUserId,
          bot_id: this.botId,
          text: str('text') ?? '',
          blocks,
          metadata: json('metadata'),
          updates: 0,
        };
        this.messages.push(message);
        return { ok: true, channel, ts: message.ts, message: view(message, true) };
      }
      case 'chat.update': {
        const message = find(str('channel'), str('ts'));
        if (!message) throw new Error('message_not_found');
        const blocks = json<Array<Record<string, unknown>>>('blocks');
        const rejected = checkImages(blocks, message.channel);
        if (rejected) return rejected;
        if (str('text') !== undefined) message.text = str('text')!;
        if (blocks) message.blocks = blocks;
        const metadata = json<FakeMessage['metadata']>('metadata');
        if (metadata) message.metadata = metadata;
        message.edited = { ts: this.nextTs() };
        message.updates++;
        return { ok: true, channel: message.channel, ts: message.ts, text: message.text, message: view(message, true) };
      }
      case 'chat.postEphemeral': {
        const channel = str('channel');
        const user = str('user');
        if (!channel) throw new Error('channel_not_found');
        if (!user) throw new Error('user_not_found');
        this.ephemerals.push({ channel, user, text: str('text') ?? '', at: Date.now() });
        return { ok: true, message_ts: this.nextTs() };
      }
      case 'chat.getPermalink': {
        const message = find(str('channel'), str('message_ts'));
        if (!message) throw new Error('message_not_found');
        return { ok: true, channel: message.channel, permalink: `https://atelier-test.slack.com/archives/${message.channel}/p${message.ts.replace('.', '')}` };
      }
      case 'views.open': {
        const trigger = str('trigger_id');
        const opened = json<Record<string, unknown>>('view');
        if (!trigger) throw new Error('invalid_trigger_id');
        if (!opened) throw new Error('invalid_arguments');
        const id = `V${String(this.views.length + 1).padStart(8, '0')}`;
        this.views.push({ id, trigger_id: trigger, view: opened });
        return { ok: true, view: { id, team_id: this.teamId, ...opened, state: { values: {} }, hash: `${id}.hash` } };
      }
      case 'conversations.history': {
        const channel = str('channel');
        const withMetadata = String(args.include_all_metadata) === 'true';
        const inclusive = String(args.inclusive) === 'true';
        const oldest = Number(str('oldest') ?? 0);
        const latest = str('latest') === undefined ? Infinity : Number(str('latest'));
        const inRange = (ts: number) => (inclusive ? ts >= oldest && ts <= latest : ts > oldest && ts < latest);
        const all = this.channelMessages(channel ?? '')
          .filter((m) => inRange(Number(m.ts)))
          .reverse();
        return page(all, args, (m) => view(m, withMetadata, this.threadReplies(m.channel, m.ts).length));
      }
      case 'conversations.replies': {
        const parent = find(str('channel'), str('ts'));
        if (!parent) throw new Error('thread_not_found');
        const withMetadata = String(args.include_all_metadata) === 'true';
        return page([parent, ...this.threadReplies(parent.channel, parent.ts)], args, (m) => view(m, withMetadata));
      }
      case 'files.getUploadURLExternal': {
        const filename = str('filename');
        const length = Number(args.length);
        if (!filename) throw new Error('invalid_arguments');
        if (!Number.isInteger(length) || length <= 0) throw new Error('invalid_arguments');
        const id = `F${randomBytes(6).toString('hex').toUpperCase()}`;
        this.files.set(id, { id, filename, length, alt_text: str('alt_text') });
        const key = randomBytes(12).toString('hex');
        this.uploadKeys.set(key, id);
        return { ok: true, upload_url: `${this.apiUrl.replace(/\/api\/$/, '')}/upload/v1/${key}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        const files = json<Array<{ id?: string; title?: string }>>('files');
        if (!Array.isArray(files) || files.length === 0) throw new Error('invalid_arguments');
        const channel = str('channel_id');
        const thread = str('thread_ts');
        if (thread && !channel) throw new Error('invalid_arguments');
        if (thread && !find(channel, thread)) throw new Error('invalid_thread_ts');
        const entries = files.map((f) => {
          const file = this.files.get(f.id ?? '');
          // Slack only completes a file whose bytes (all of them) reached the upload URL.
          if (!file || !file.bytes || file.bytes.length !== file.length || file.completedAt !== undefined) throw new Error('file_not_found');
          return { file, title: f.title };
        });
        const shared = entries.map(({ file, title }) => {
          file.completedAt = Date.now();
          file.title = title ?? file.filename;
          file.channel = channel;
          file.thread_ts = thread;
          return { id: file.id, name: file.filename, title: file.title, mimetype: mimetypeOf(file.filename), size: file.length };
        });
        if (channel) {
          this.messages.push({
            channel,
            ts: this.nextTs(),
            thread_ts: thread,
            user: this.botUserId,
            bot_id: this.botId,
            text: str('initial_comment') ?? '',
            files: shared,
            upload: true,
            updates: 0,
          });
        }
        return { ok: true, files: shared.map((f) => ({ id: f.id, title: f.title, name: f.name })) };
      }
      case 'usergroups.users.list': {
        const users = this.options.groups?.[str('usergroup') ?? ''];
        if (!users) throw new Error('no_such_subteam');
        return { ok: true, users };
      }
      default:
        throw new Error('unknown_method');
    }
  }
}

function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (!raw) return {};
  if (contentType.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  return Object.fromEntries(new URLSearchParams(raw));
}

function mimetypeOf(filename: string): string {
  const ext = filename.split('.').pop()?.toLowerCase();
  return ext === 'png' ? 'image/png' : ext === 'jpg' || ext === 'jpeg' ? 'image/jpeg' : ext === 'gif' ? 'image/gif' : 'application/octet-stream';
}

/** The content of the first part of a multipart/form-data body that has a filename (or the first part). */
function firstFormFile(body: Buffer, boundary: string): Buffer | undefined {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next < 0) break;
    parts.push(body.subarray(at + delimiter.length, next));
    at = next;
  }
  const parsed = parts.map((part) => {
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, headerEnd).toString('utf8');
    // Drop the CRLF after the headers and the one before the next delimiter.
    return { headers, content: part.subarray(headerEnd + 4, part.length - 2) };
  });
  return (parsed.find((p) => /filename=/i.test(p.headers)) ?? parsed[0])?.content;
}

function view(message: FakeMessage, withMetadata: boolean, replyCount = 0): Record<string, unknown> {
  const { channel: _channel, updates: _updates, metadata, ...rest } = message;
  return {
    type: 'message',
    ...rest,
    ...(replyCount > 0 ? { reply_count: replyCount } : {}),
    ...(withMetadata && metadata ? { metadata } : {}),
  };
}

function page<T>(items: T[], args: Record<string, unknown>, render: (item: T) => unknown): Record<string, unknown> {
  const limit = Math.min(Math.max(Number(args.limit ?? 100) || 100, 1), 999);
  const start = args.cursor
    ? Number(
        Buffer.from(String(args.cursor), 'base64')
          .toString()
          .replace(/^offset:/, ''),
      )
    : 0;
  const slice = items.slice(start, start + limit);
  const more = start + limit < items.length;
  return {
    ok: true,
    messages: slice.map(render),
    has_more: more,
    response_metadata: { next_cursor: more ? Buffer.from(`offset:${start + limit}`).toString('base64') : '' },
  };
}
