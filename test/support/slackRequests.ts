// Requests as Slack sends them to an app: form-encoded `payload=<json>`, signed with the signing
// secret (HMAC-SHA256 over `v0:<timestamp>:<body>`, in x-slack-signature and
// x-slack-request-timestamp). Used by the tests and the benchmark.
import { createHmac, randomBytes } from 'node:crypto';
import type { FakeMessage } from './slackServer.ts';

export interface SlackUser {
  id: string;
  name: string;
}

export interface SignOptions {
  /** Seconds since the epoch; defaults to now. */
  timestamp?: number;
  /** Sign with this secret instead (a forgery). */
  secret?: string;
}

export function signature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SlackResponse {
  status: number;
  body: string;
  /** Milliseconds from sending to the full answer. */
  ms: number;
}

/** POSTs an interaction payload to the app, signed as Slack signs it. */
export async function postInteraction(url: string, secret: string, payload: unknown, options: SignOptions = {}): Promise<SlackResponse> {
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const started = performance.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signature(options.secret ?? secret, timestamp, body),
    },
    body,
  });
  const text = await response.text();
  return { status: response.status, body: text, ms: performance.now() - started };
}

const team = { id: 'T0ATELIER', domain: 'atelier-test' };
const triggerId = () => `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(8).toString('hex')}`;

/** A click on one of the message's buttons, as Slack describes it (the message with its blocks included). */
export function buttonClick(message: FakeMessage, actionId: string, user: SlackUser): Record<string, unknown> {
  const actions = message.blocks?.find((b) => b.type === 'actions') as { block_id: string; elements: Array<Record<string, unknown>> } | undefined;
  const button = actions?.elements.find((e) => e.action_id === actionId);
  if (!actions || !button) throw new Error(`message ${message.ts} has no ${actionId} button`);
  return {
    type: 'block_actions',
    team,
    user: { id: user.id, username: user.name, name: user.name, team_id: team.id },
    api_app_id: 'A0ATELIER',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
    trigger_id: triggerId(),
    channel: { id: message.channel, name: 'art-approvals' },
    message: { type: 'message', user: message.user, bot_id: message.bot_id, ts: message.ts, text: message.text, blocks: message.blocks },
    response_url: 'https://hooks.slack.com/actions/T0ATELIER/1/unused',
    actions: [{ ...button, block_id: actions.block_id, action_ts: `${Date.now() / 1000}` }],
  };
}

/** The submission of a modal the app opened (as views.open received it), with the given input values. */
export function viewSubmission(
  opened: { id: string; view: Record<string, unknown> },
  user: SlackUser,
  values: Record<string, Record<string, string>>,
): Record<string, unknown> {
  const state = Object.fromEntries(
    Object.entries(values).map(([block, inputs]) => [
      block,
      Object.fromEntries(Object.entries(inputs).map(([action, value]) => [action, { type: 'plain_text_input', value }])),
    ]),
  );
  return {
    type: 'view_submission',
    team,
    user: { id: user.id, username: user.name, name: user.name, team_id: team.id },
    api_app_id: 'A0ATELIER',
    token: 'deprecated-verification-token',
    trigger_id: triggerId(),
    view: {
      id: opened.id,
      team_id: team.id,
      type: 'modal',
      ...opened.view,
      state: { values: state },
      hash: `${opened.id}.hash`,
      app_id: 'A0ATELIER',
      bot_id: 'B0ATELIER',
    },
    response_urls: [],
  };
}
