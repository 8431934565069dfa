// Small helpers around @slack/web-api shared by the worker's activity and the Slack app:
// the client as each of them needs it, error descriptions, finding a message again, and uploading
// a file (Slack's external upload flow) and finding it again.
import { LogLevel, WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError, WebClient } from '@slack/web-api';
import type { Logger } from '@slack/web-api';

export interface SlackMessageRef {
  channel: string;
  ts: string;
  /** The draft uploaded to Slack (a file ID) that the message shows, when it shows one. */
  previewFile?: string;
}

/**
 * The worker's client. No retries inside the client: a post that timed out may have been stored
 * by Slack, and only the activity (which looks for it before posting again) may try again. A request
 * times out well inside the activity's start-to-close timeout, so an old attempt is dead before the
 * next one starts.
 */
export function workerSlackClient(token: string, slackApiUrl: string, logger?: Logger): WebClient {
  return new WebClient(token, {
    slackApiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 15_000,
    logLevel: LogLevel.WARN,
    ...(logger ? { logger } : {}),
  });
}

export interface SlackFailure {
  /** Slack's error code (`not_in_channel`), or `http_<status>`, `rate_limited`, `network`. */
  code: string;
  message: string;
  /** From Retry-After when rate limited. */
  retryAfterMs?: number;
}

const hints: Record<string, string> = {
  not_in_channel: 'invite the app to the channel (/invite @Atelier)',
  channel_not_found: 'check the channel ID in the Slack collections file, and that the app is in that channel',
  invalid_auth: 'check ATELIER_SLACK_BOT_TOKEN',
  not_authed: 'set ATELIER_SLACK_BOT_TOKEN',
  token_revoked: 'the bot token was revoked: reinstall the app and set ATELIER_SLACK_BOT_TOKEN',
  account_inactive: 'the bot token belongs to a deleted app or user: reinstall the app',
  missing_scope: 'add the missing scope to the app (see client/slack/manifest.yaml) and reinstall it',
  is_archived: 'the channel is archived: pick another one in the Slack collections file',
  no_such_subteam: 'check the user group ID in the Slack collections file',
  not_allowed_token_type: 'use the bot token (xoxb-) in ATELIER_SLACK_BOT_TOKEN',
};

/** A Slack error as one line, with what to do about it when we know; never a token. */
export function describeSlackError(error: unknown): SlackFailure {
  if (error instanceof WebAPIRateLimitedError) {
    return { code: 'rate_limited', message: `rate limited by Slack; retry after ${error.retryAfter} s`, retryAfterMs: error.retryAfter * 1000 };
  }
  if (error instanceof WebAPIPlatformError) {
    const code = error.data.error;
    const needed = (error.data as { needed?: string }).needed;
    const details = (error.data as { errors?: string[] }).errors?.join('; ');
    const hint = hints[code];
    return { code, message: `Slack said ${code}${needed ? ` (needed: ${needed})` : ''}${details ? ` (${details})` : ''}${hint ? `: ${hint}` : ''}` };
  }
  if (error instanceof WebAPIHTTPError) return { code: `http_${error.statusCode}`, message: `Slack answered HTTP ${error.statusCode} ${error.statusMessage}` };
  if (error instanceof WebAPIRequestError) return { code: 'network', message: `could not reach Slack: ${error.original.message}` };
  if (error instanceof SlackUploadError) return { code: error.status ? `upload_http_${error.status}` : 'upload_network', message: error.message };
  return { code: 'unknown', message: error instanceof Error ? error.message : String(error) };
}

export const slackErrorCode = (error: unknown) => (error instanceof WebAPIPlatformError ? error.data.error : undefined);

interface MetadataMessage {
  ts?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
}

/**
 * The newest message carrying our metadata (event type, workflow, round), in a channel's history
 * (since `oldest`) or in a thread. Reads at most `maxPages` pages of 200 messages.
 */
export async function findMessageByMetadata(
  client: WebClient,
  where: { channel: string; thread?: string; oldest?: number },
  match: { eventType: string; workflowId: string; round: number },
  maxPages = 10,
): Promise<string | undefined> {
  const isOurs = (m: MetadataMessage) =>
    m.metadata?.event_type === match.eventType &&
    m.metadata.event_payload?.workflowId === match.workflowId &&
    Number(m.metadata.event_payload?.round) === match.round;
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const result = where.thread
      ? await client.conversations.replies({ channel: where.channel, ts: where.thread, include_all_metadata: true, limit: 200, cursor })
      : await client.conversations.history({
          channel: where.channel,
          include_all_metadata: true,
          limit: 200,
          cursor,
          ...(where.oldest !== undefined ? { oldest: String(Math.max(0, Math.floor(where.oldest))) } : {}),
        });
    const found = (result.messages as MetadataMessage[] | undefined)?.find(isOurs);
    if (found?.ts) return found.ts;
    cursor = result.response_metadata?.next_cursor || undefined;
    if (!cursor || !result.has_more) return undefined;
  }
  return undefined;
}

/** Slack's ts is the post time in seconds: as an ISO time. */
export const tsToIso = (ts: string) => new Date(Math.floor(Number(ts) * 1000)).toISOString();

/** True when Slack refused blocks because of a `slack_file` (not shared where the message is, or still processing). */
export function refusedSlackFile(error: unknown): boolean {
  if (slackErrorCode(error) !== 'invalid_blocks') return false;
  const errors = (error as WebAPIPlatformError).data as { errors?: unknown[] };
  return (errors.errors ?? []).some((e) => typeof e === 'string' && e.includes('/slack_file'));
}

export interface FileUpload {
  bytes: Uint8Array;
  filename: string;
  title: string;
  altText: string;
  /** Where the file is shared: a channel, and a message's thread in it. */
  channel: string;
  threadTs?: string;
}

/** A Slack upload URL refused the bytes or could not be reached. The URL (it grants the upload) is never shown. */
export class SlackUploadError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'SlackUploadError';
  }
}

/**
 * Uploads a file with Slack's external upload flow and shares it in a channel or thread: asks for
 * an upload URL (files.getUploadURLExternal), POSTs the bytes to it (a plain request: the URL
 * carries its own grant, so the token is not sent), then completes the upload
 * (files.completeUploadExternal). Returns the file ID. Needs the `files:write` scope.
 */
export async function uploadFile(client: WebClient, file: FileUpload, timeoutMs = 30_000): Promise<string> {
  const target = await client.files.getUploadURLExternal({ filename: file.filename, length: file.bytes.length, alt_text: file.altText });
  if (!target.upload_url || !target.file_id) throw new Error('files.getUploadURLExternal answered without upload_url and file_id');
  let response: Response;
  try {
    response = await fetch(target.upload_url, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: file.bytes,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    throw new SlackUploadError(`could not send the file to Slack's upload URL (${cause})`);
  }
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new SlackUploadError(`Slack's upload URL answered HTTP ${response.status}`, response.status);
  const files: [{ id: string; title: string }] = [{ id: target.file_id, title: file.title }];
  await client.files.completeUploadExternal(
    file.threadTs ? { files, channel_id: file.channel, thread_ts: file.threadTs } : { files, channel_id: file.channel },
  );
  return target.file_id;
}

/** The ID of a file named `<stem>.<ext>` shared in a message's thread (an upload whose answer was lost), if any. */
export async function findFileInThread(client: WebClient, where: { channel: string; ts: string }, stem: string, maxPages = 5): Promise<string | undefined> {
  const named = (name: string | undefined) => name !== undefined && name.startsWith(`${stem}.`) && !name.slice(stem.length + 1).includes('.');
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    let result;
    try {
      result = await client.conversations.replies({ channel: where.channel, ts: where.ts, limit: 200, cursor });
    } catch (error) {
      if (slackErrorCode(error) === 'thread_not_found') return undefined;
      throw error;
    }
    for (const message of (result.messages ?? []) as Array<{ files?: Array<{ id?: string; name?: string }> }>) {
      const found = message.files?.find((f) => named(f.name) && f.id);
      if (found) return found.id;
    }
    cursor = result.response_metadata?.next_cursor || undefined;
    if (!cursor || !result.has_more) return undefined;
  }
  return undefined;
}
