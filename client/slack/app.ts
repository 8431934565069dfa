// The Slack app: turns a click on Approve or Reject into a decision Update signed by the app, for
// people allowed to decide, from requests that really come from Slack (Bolt verifies each one with
// the signing secret and refuses timestamps older than 5 minutes). Every handler acknowledges first
// (Slack wants an answer within 3 s), then sends the Update and waits only until the run accepts
// it; the message shows the decision, or the person is told the run's reason ephemerally.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import type { BlockAction, ButtonAction, Logger, ViewSubmitAction, types } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { DecisionRecord } from '../../common/asset.ts';
import type { Config } from '../../common/config.ts';
import { AssetNotFound, DecisionRefused } from '../atelier.ts';
import type { AtelierClient } from '../atelier.ts';
import {
  APPROVE_ACTION,
  REASON_BLOCK,
  REASON_INPUT,
  REJECT_ACTION,
  REJECT_VIEW,
  approversMention,
  closedBlocks,
  collectionOf,
  decodeModalTarget,
  decodeTarget,
  outcomeSummary,
  rejectModal,
} from '../../common/slack/blocks.ts';
import type { ButtonTarget, Outcome } from '../../common/slack/blocks.ts';
import type { CollectionSlackSettings, SlackCollections } from '../../common/slack/settings.ts';
import { slackApiUrl, slackAppSecrets } from '../../common/slack/settings.ts';
import { describeSlackError } from '../../common/slack/webapi.ts';
import type { SlackMessageRef } from '../../common/slack/webapi.ts';

export interface SlackAppOptions {
  config: Config;
  atelier: AtelierClient;
  collections: SlackCollections;
  logger?: Logger;
  /** How long a user group's member list is trusted. */
  groupCacheMs?: number;
}

export interface RunningSlackApp {
  app: App;
  /** HTTP mode: where Slack sends requests (the request URL's path is /slack/events). */
  url?: string;
  stop(): Promise<void>;
}

export const EVENTS_PATH = '/slack/events';

interface Person {
  id: string;
  name?: string;
}

/** One decision at a time per (workflow, round) in this process: a double click signals once. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = new Promise<void>((resolve) => (release = resolve));
    const chained = previous.then(() => tail);
    this.tails.set(key, chained);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === chained) this.tails.delete(key);
    }
  }
}

export function createSlackApp({ config, atelier, collections, logger, groupCacheMs = 60_000 }: SlackAppOptions): App {
  const secrets = slackAppSecrets(config);
  const log = logger ?? defaultLogger();
  const clientOptions = { slackApiUrl: slackApiUrl(config), retryConfig: { retries: 2, factor: 1.5, minTimeout: 200, maxTimeout: 2_000 }, timeout: 10_000 };
  const app = config.ATELIER_SLACK_SOCKET_MODE
    ? new App({ token: secrets.botToken, appToken: secrets.appToken, socketMode: true, logger: log, clientOptions })
    : new App({
        token: secrets.botToken,
        logger: log,
        clientOptions,
        receiver: refusingFutureRequests(
          new HTTPReceiver({
            signingSecret: secrets.signingSecret!,
            endpoints: EVENTS_PATH,
            logger: log,
            customRoutes: [
              {
                path: '/healthz',
                method: ['GET'],
                handler: (_req, res) => {
                  res.writeHead(200, { 'content-type': 'text/plain' });
                  res.end('ok\n');
                },
              },
            ],
          }),
          log,
        ),
      });

  const locks = new KeyedLock();
  const groups = new Map<string, { at: number; members: Set<string> }>();

  app.error(async (error) => {
    // Errors carry Slack's answer or a Temporal failure, never a token.
    log.error(`slack app: ${describeSlackError(error).message}`);
  });

  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: APPROVE_ACTION }, async ({ ack, body, action, client }) => {
    await ack();
    const click = await clickOf(client, body, action);
    if (!click) return;
    const { person, target, where } = click;
    await locks.run(lockKey(target), () =>
      decide(client, 'approve', person, target, where, { blocks: body.message?.blocks as types.KnownBlock[] | undefined }),
    );
  });

  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: REJECT_ACTION }, async ({ ack, body, action, client }) => {
    await ack();
    const click = await clickOf(client, body, action);
    if (!click) return;
    const { person, target, where } = click;
    // The allow-list before the modal opens, so nobody types a reason that cannot be used; the run
    // itself judges the submitted rejection.
    const allowed = await isAllowed(collections.forCollection(collectionOf(target.workflowId)), person.id);
    if (allowed !== true) return tell(client, where.channel, person, allowed);
    const name = (body.message?.blocks as types.KnownBlock[] | undefined)?.find((b) => b.type === 'header') as types.HeaderBlock | undefined;
    await client.views.open({ trigger_id: body.trigger_id, view: rejectModal({ ...target, ...where }, name?.text.text.replace(/^🎨 /, '')) });
  });

  app.view<ViewSubmitAction>({ type: 'view_submission', callback_id: REJECT_VIEW }, async ({ ack, body, view, client }) => {
    const target = decodeModalTarget(view.private_metadata);
    const reason = view.state.values[REASON_BLOCK]?.[REASON_INPUT]?.value?.trim();
    if (!target) return void (await ack());
    if (!reason) {
      await ack({ response_action: 'errors', errors: { [REASON_BLOCK]: 'A reason is needed: it is the feedback the next draft is generated with.' } });
      return;
    }
    await ack();
    const person = personOf(body.user);
    await locks.run(lockKey(target), () => decide(client, 'reject', person, target, { channel: target.channel, ts: target.ts }, { comment: reason }));
  });

  return app;

  /**
   * Allow-list, then the decision as an Update signed by the app: the run's validator (the one copy
   * of the rule) accepts it or answers why not, at once; a refusal leaves nothing in its history.
   */
  async function decide(
    client: WebClient,
    kind: 'approve' | 'reject',
    person: Person,
    target: ButtonTarget,
    where: SlackMessageRef,
    extra: { comment?: string; blocks?: types.KnownBlock[] },
  ): Promise<void> {
    const allowed = await isAllowed(collections.forCollection(collectionOf(target.workflowId)), person.id);
    if (allowed !== true) return tell(client, where.channel, person, allowed);
    const input = { by: person.id, name: person.name, via: 'slack', comment: extra.comment, round: target.round, draftCid: target.draftCid };
    // The app vouches for the click it authenticated: the run checks this signature and the user.
    const options = { sign: { secretKey: secrets.decisionKey, signer: 'slack-app' as const } };
    let taken: DecisionRecord;
    try {
      taken = await (kind === 'approve' ? atelier.approve(target.workflowId, input, options) : atelier.reject(target.workflowId, input, options));
    } catch (error) {
      if (error instanceof DecisionRefused || error instanceof AssetNotFound)
        return tell(client, where.channel, person, `${error.message}. Nothing was taken.`);
      log.error(`slack app: sending ${kind} to ${target.workflowId} failed: ${(error as Error).message}`);
      return tell(client, where.channel, person, `I could not reach the pipeline to ${kind} this draft; please try again in a minute.`);
    }
    // The run has accepted it: show it now. The worker's `decided` notice rewrites the message too.
    await closeMessage(client, where, taken, extra.blocks);
  }

  async function isAllowed(settings: CollectionSlackSettings, userId: string): Promise<true | string> {
    if (settings.approvers.includes(userId)) return true;
    if (settings.approverGroup) {
      try {
        if ((await groupMembers(settings.approverGroup)).has(userId)) return true;
      } catch (error) {
        log.error(`slack app: reading user group ${settings.approverGroup} failed: ${describeSlackError(error).message}`);
        return `I could not check the approver group for *${settings.collectionId}* (${describeSlackError(error).code}); nothing was sent. Ask an admin to check the app's setup.`;
      }
    }
    return `You are not an approver for *${settings.collectionId}*, so nothing was sent. Approvers: ${approversMention(settings.approvers, settings.approverGroup)}.`;
  }

  async function groupMembers(group: string): Promise<Set<string>> {
    const cached = groups.get(group);
    if (cached && Date.now() - cached.at < groupCacheMs) return cached.members;
    const result = await app.client.usergroups.users.list({ usergroup: group });
    const members = new Set(result.users ?? []);
    groups.set(group, { at: Date.now(), members });
    return members;
  }

  /** Shows the outcome on the request message; returns the blocks it started from (for a correction). */
  async function closeMessage(
    client: WebClient,
    where: SlackMessageRef,
    outcome: Outcome,
    known?: types.KnownBlock[],
  ): Promise<types.KnownBlock[] | undefined> {
    try {
      const blocks = known ?? (await currentBlocks(client, where));
      if (!blocks) return undefined; // the worker's `decided` notice closes it
      const header = blocks.find((b) => b.type === 'header') as types.HeaderBlock | undefined;
      await client.chat.update({
        channel: where.channel,
        ts: where.ts,
        text: outcomeSummary(outcome, header?.text.text.replace(/^🎨 /, '') ?? 'draft'),
        blocks: closedBlocks(blocks, outcome),
      });
      return blocks;
    } catch (error) {
      log.warn(`slack app: could not update the request message: ${describeSlackError(error).message}`);
      return undefined;
    }
  }

  async function currentBlocks(client: WebClient, where: SlackMessageRef): Promise<types.KnownBlock[] | undefined> {
    const result = await client.conversations.history({ channel: where.channel, latest: where.ts, oldest: where.ts, inclusive: true, limit: 1 });
    const message = result.messages?.find((m) => m.ts === where.ts);
    return message?.blocks as types.KnownBlock[] | undefined;
  }

  /** Who clicked which round's button on which message; a button it cannot read is answered, and gives undefined. */
  async function clickOf(
    client: WebClient,
    body: BlockAction,
    action: ButtonAction,
  ): Promise<{ person: Person; target: ButtonTarget; where: SlackMessageRef } | undefined> {
    const where = messageOf(body);
    const person = personOf(body.user);
    const target = decodeTarget(action.value);
    if (target && where) return { person, target, where };
    await tell(client, where?.channel ?? body.channel?.id, person, 'That button is not from an Atelier request I can read; nothing was sent.');
    return undefined;
  }

  async function tell(client: WebClient, channel: string | undefined, person: Person, text: string): Promise<void> {
    if (!channel) return;
    try {
      await client.chat.postEphemeral({ channel, user: person.id, text });
    } catch (error) {
      log.warn(`slack app: could not answer ${person.id}: ${describeSlackError(error).message}`);
    }
  }
}

/** How far a request's signed timestamp may stray from now, either way (Slack's rule is 5 minutes). */
const REQUEST_WINDOW_S = 5 * 60;

/**
 * Bolt refuses requests signed too long ago, but takes one dated in the future: such a request,
 * signed ahead of time, could be replayed for as long as its date lies ahead. Refused here, before
 * Bolt reads it.
 */
function refusingFutureRequests(receiver: HTTPReceiver, log: Logger): HTTPReceiver {
  const verified = receiver.requestListener;
  receiver.requestListener = (request, response) => {
    const timestamp = Number(request.headers['x-slack-request-timestamp']);
    if (Number.isFinite(timestamp) && timestamp > Date.now() / 1000 + REQUEST_WINDOW_S) {
      log.warn(`slack app: refused a request dated ${Math.round(timestamp - Date.now() / 1000)} s in the future`);
      response.writeHead(401, { 'content-type': 'text/plain' }).end('request timestamp is in the future\n');
      return;
    }
    verified(request, response);
  };
  return receiver;
}

const lockKey = (target: ButtonTarget) => `${target.workflowId}#${target.round}`;

function messageOf(body: BlockAction): SlackMessageRef | undefined {
  const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
  const ts = body.message?.ts ?? (body.container?.message_ts as string | undefined);
  return channel && ts ? { channel, ts } : undefined;
}

function personOf(user: { id: string; name?: string; username?: string }): Person {
  return { id: user.id, name: user.name ?? user.username };
}

function defaultLogger(): Logger {
  let level = LogLevel.INFO;
  const order = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];
  const at = (l: LogLevel) => order.indexOf(l) >= order.indexOf(level);
  const line = (l: LogLevel, msg: unknown[]) => `${new Date().toISOString()} ${l.toUpperCase()} ${msg.map(String).join(' ')}`;
  return {
    debug: (...msg) => at(LogLevel.DEBUG) && console.debug(line(LogLevel.DEBUG, msg)),
    info: (...msg) => at(LogLevel.INFO) && console.info(line(LogLevel.INFO, msg)),
    warn: (...msg) => at(LogLevel.WARN) && console.warn(line(LogLevel.WARN, msg)),
    error: (...msg) => at(LogLevel.ERROR) && console.error(line(LogLevel.ERROR, msg)),
    setLevel: (l) => void (level = l),
    getLevel: () => level,
    setName: () => {},
  };
}

/** Starts the app: HTTP on ATELIER_SLACK_HOST:ATELIER_SLACK_PORT (port 0 picks a free one), or Socket Mode. */
export async function startSlackApp(options: SlackAppOptions, listen?: { host: string; port: number }): Promise<RunningSlackApp> {
  const app = createSlackApp(options);
  if (options.config.ATELIER_SLACK_SOCKET_MODE) {
    await app.start();
    return { app, stop: () => app.stop().then(() => undefined) };
  }
  const host = listen?.host ?? options.config.ATELIER_SLACK_HOST;
  const server = (await app.start({ host, port: listen?.port ?? options.config.ATELIER_SLACK_PORT })) as Server;
  const { port } = server.address() as AddressInfo;
  return {
    app,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${EVENTS_PATH}`,
    stop: () => app.stop().then(() => undefined),
  };
}
