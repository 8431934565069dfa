// Small helpers around @slack/web-api shared by the worker's activity and the Slack app:
// the client as each of them needs it, error descriptions, and finding a message again.
import { LogLevel, WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError, WebClient } from '@slack/web-api';
import type { Logger } from '@slack/web-api';

export interface SlackMessageRef {
  channel: string;
  ts: string;
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
