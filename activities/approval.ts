// approval: tells the approvers that a draft waits for them, reminds them, and closes the request.
// Without Slack configured the notice goes to the worker log only (the CLI and `status` show the
// pending request either way). With Slack (ATELIER_SLACK_BOT_TOKEN), `requested` posts a Block Kit
// message to the collection's channel, once per (workflow, round): a retried attempt updates the
// message it already posted, which it knows from its heartbeat details or finds again by the
// message's metadata. `reminder` answers in the message's thread and escalates; `expired` and
// `decided` update the message (buttons gone, who and when shown).
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { WebClient } from '@slack/web-api';
import { approversMention, closedBlocks, escalationText, mentionOf, metadataEvents, outcomeSummary, reminderText, requestBlocks, requestText } from '../common/slack/blocks.ts';
import type { ApprovalRequest, Outcome } from '../common/slack/blocks.ts';
import type { CollectionSlackSettings, SlackCollections } from '../common/slack/settings.ts';
import { describeSlackError, findMessageByMetadata, slackErrorCode, tsToIso } from '../common/slack/webapi.ts';
import type { SlackMessageRef } from '../common/slack/webapi.ts';

export type { SlackMessageRef } from '../common/slack/webapi.ts';

export interface ApprovalNotice extends ApprovalRequest {
  event: 'requested' | 'reminder' | 'expired' | 'decided';
  decision?: { kind: 'approve' | 'reject'; by: string; via: string; at: string; comment?: string; name?: string };
  /** The round's Slack message as `requested` returned it, when the workflow keeps it: no lookup needed. */
  message?: SlackMessageRef | null;
}

export interface SlackApprovalDependencies {
  /** A bot-token client; see workerSlackClient. */
  client: WebClient;
  collections: SlackCollections;
  /** Where Slack fetches previews from: a gateway it can reach (defaults to the Kubo gateway). */
  previewBaseUrl: string;
}

export interface ApprovalDependencies {
  gatewayUrl: string;
  /** Set when Slack is configured; otherwise notices are only logged. */
  slack?: SlackApprovalDependencies;
}

/** Progress of one `reminder` notice, kept in heartbeat details so a retry does not repeat a step. */
interface ReminderProgress {
  request?: SlackMessageRef;
  reminded?: boolean;
  escalated?: boolean;
}

/** A lookup reads at most this far back before the activity was first scheduled (clock skew). */
const LOOKUP_MARGIN_S = 600;

export function createApprovalActivities({ gatewayUrl, slack }: ApprovalDependencies) {
  /** Messages this worker posted, by workflow and round: spares the lookup on later events. */
  const posted = new Map<string, SlackMessageRef>();
  const keyOf = (notice: ApprovalNotice) => `${notice.workflowId}#${notice.round}`;
  const remember = (notice: ApprovalNotice, ref: SlackMessageRef) => {
    posted.delete(keyOf(notice));
    posted.set(keyOf(notice), ref);
    if (posted.size > 10_000) posted.delete(posted.keys().next().value!);
  };

  return {
    /**
     * Resolves once Slack has the notice, with the round's message (null without Slack). A workflow
     * that passes it back as `message` in the round's later notices spares the lookup; until then
     * they find it in this worker's memory or by the message's metadata.
     */
    async announceApproval(notice: ApprovalNotice): Promise<SlackMessageRef | null> {
      return announce(notice);
    },
  };

  async function announce(notice: ApprovalNotice): Promise<SlackMessageRef | null> {
    log.info(`approval ${notice.event}`, {
      asset: notice.workflowId,
      round: notice.round,
      preview: `${gatewayUrl}/ipfs/${notice.draftCid}`,
      decision: notice.decision,
    });
    if (!slack) return null;
    const settings = slack.collections.forCollection(notice.collectionId);
    try {
      switch (notice.event) {
        case 'requested':
          return await postRequest(slack, settings, notice);
        case 'reminder':
          return await remind(slack, settings, notice);
        case 'expired':
        case 'decided':
          return await close(slack, settings, notice);
      }
    } catch (error) {
      if (error instanceof ApplicationFailure) throw error;
      const failure = describeSlackError(error);
      // Retried with the workflow's backoff: a Slack outage or a setup mistake (bot not in the
      // channel) delays the request; fixing it lets the same attempt series succeed.
      throw ApplicationFailure.create({
        message: `Slack ${notice.event} for ${notice.workflowId} round ${notice.round}: ${failure.message}`,
        type: 'SlackError',
        details: [failure.code],
        nextRetryDelay: failure.retryAfterMs,
      });
    }
  }

  async function postRequest(deps: SlackApprovalDependencies, settings: CollectionSlackSettings, notice: ApprovalNotice): Promise<SlackMessageRef> {
    const { info } = Context.current();
    let ref = asRef(info.heartbeatDetails);
    if (!ref && info.attempt > 1) {
      // An earlier attempt may have posted without living to heartbeat (or Slack stored the post
      // and the answer was lost): look for the message before posting another.
      const ts = await findMessageByMetadata(
        deps.client,
        { channel: settings.channel, oldest: info.scheduledTimestampMs / 1000 - LOOKUP_MARGIN_S },
        { eventType: metadataEvents.request, workflowId: notice.workflowId, round: notice.round },
      );
      if (ts) ref = { channel: settings.channel, ts };
    }
    if (ref && (await updateRequest(deps, settings, notice, ref, undefined))) {
      log.info('approval request updated in Slack (retried attempt)', { asset: notice.workflowId, round: notice.round, channel: ref.channel, ts: ref.ts });
    } else {
      ref = await postRequestMessage(deps, settings, notice, settings.channel);
      log.info('approval request posted to Slack', { asset: notice.workflowId, round: notice.round, channel: ref.channel, ts: ref.ts });
    }
    Context.current().heartbeat(ref);
    remember(notice, ref);
    return ref;
  }

  async function remind(deps: SlackApprovalDependencies, settings: CollectionSlackSettings, notice: ApprovalNotice): Promise<SlackMessageRef> {
    const ctx = Context.current();
    const progress: ReminderProgress = asProgress(ctx.info.heartbeatDetails);
    const checkpoint = () => ctx.heartbeat({ ...progress });
    let request = progress.request ?? (await findRequest(deps, settings, notice));
    if (!request) {
      // The request never made it to Slack (Slack was configured later, or the message was
      // deleted): post it now, buttons and all, so the reminder has something to point at.
      request = await postRequestMessage(deps, settings, notice, settings.channel);
      remember(notice, request);
    }
    progress.request = request;
    checkpoint();
    const retried = ctx.info.attempt > 1;
    const payload = { workflowId: notice.workflowId, round: notice.round };
    if (!progress.reminded) {
      const already =
        retried &&
        (await findMessageByMetadata(deps.client, { channel: request.channel, thread: request.ts }, { eventType: metadataEvents.reminder, ...payload }));
      if (!already) {
        const postReminder = (thread: SlackMessageRef) =>
          deps.client.chat.postMessage({
            channel: thread.channel,
            thread_ts: thread.ts,
            text: reminderText(notice, pendingWith(settings, notice), tsToIso(request!.ts)),
            metadata: { event_type: metadataEvents.reminder, event_payload: payload },
          });
        try {
          await postReminder(request);
        } catch (error) {
          if (!['thread_not_found', 'message_not_found'].includes(slackErrorCode(error) ?? '')) throw error;
          // Someone deleted the request: post it again (buttons and all) and remind in its thread.
          request = await postRequestMessage(deps, settings, notice, settings.channel);
          remember(notice, request);
          progress.request = request;
          checkpoint();
          await postReminder(request);
        }
      }
      progress.reminded = true;
      checkpoint();
    }
    if (settings.escalationChannel && !progress.escalated) {
      const already =
        retried &&
        (await findMessageByMetadata(
          deps.client,
          { channel: settings.escalationChannel, oldest: ctx.info.scheduledTimestampMs / 1000 - LOOKUP_MARGIN_S },
          { eventType: metadataEvents.escalation, ...payload },
        ));
      if (!already) {
        const permalink = await deps.client.chat
          .getPermalink({ channel: request.channel, message_ts: request.ts })
          .then((r) => r.permalink)
          .catch(() => undefined);
        const mention = settings.escalationMention ? mentionOf(settings.escalationMention) : undefined;
        await deps.client.chat.postMessage({
          channel: settings.escalationChannel,
          text: escalationText(notice, mention, permalink),
          metadata: { event_type: metadataEvents.escalation, event_payload: payload },
          unfurl_links: false,
        });
      }
      progress.escalated = true;
      checkpoint();
    }
    log.info('approval reminder sent to Slack', { asset: notice.workflowId, round: notice.round, escalated: progress.escalated ?? false });
    return request;
  }

  async function close(deps: SlackApprovalDependencies, settings: CollectionSlackSettings, notice: ApprovalNotice): Promise<SlackMessageRef | null> {
    const outcome: Outcome =
      notice.event === 'expired' || !notice.decision
        ? { kind: 'expired', at: new Date(Context.current().info.scheduledTimestampMs).toISOString() }
        : { ...notice.decision };
    let ref = await findRequest(deps, settings, notice);
    if (ref && !(await updateRequest(deps, settings, notice, ref, outcome))) ref = undefined;
    posted.delete(keyOf(notice));
    if (!ref) {
      log.warn('no Slack message to close for this round; nothing updated', { asset: notice.workflowId, round: notice.round, event: notice.event });
      return null;
    }
    log.info(`approval request closed in Slack (${outcome.kind})`, { asset: notice.workflowId, round: notice.round });
    return ref;
  }

  /** The round's message: from the notice, this worker's memory, or the channel's history. */
  async function findRequest(deps: SlackApprovalDependencies, settings: CollectionSlackSettings, notice: ApprovalNotice): Promise<SlackMessageRef | undefined> {
    const known = notice.message ?? posted.get(keyOf(notice));
    if (known) return known;
    const ts = await findMessageByMetadata(
      deps.client,
      { channel: settings.channel },
      { eventType: metadataEvents.request, workflowId: notice.workflowId, round: notice.round },
    );
    return ts ? { channel: settings.channel, ts } : undefined;
  }

  function pendingWith(settings: CollectionSlackSettings, notice: ApprovalNotice): string {
    // The spec's own list narrows who may decide; shown when it names Slack users.
    const users = notice.approvers.length > 0 ? notice.approvers : settings.approvers;
    return approversMention(users, notice.approvers.length > 0 ? undefined : settings.approverGroup);
  }

  function messageOf(deps: SlackApprovalDependencies, settings: CollectionSlackSettings, notice: ApprovalNotice, outcome: Outcome | undefined, image: boolean) {
    const request: ApprovalRequest = notice;
    const open = requestBlocks(request, { previewBase: deps.previewBaseUrl, image, pendingWith: pendingWith(settings, notice) });
    return {
      text: outcome ? outcomeSummary(outcome, notice.name) : requestText(request),
      blocks: outcome ? closedBlocks(open, outcome) : open,
      metadata: { event_type: metadataEvents.request, event_payload: { workflowId: notice.workflowId, round: notice.round } },
    };
  }

  async function postRequestMessage(deps: SlackApprovalDependencies, settings: CollectionSlackSettings, notice: ApprovalNotice, channel: string): Promise<SlackMessageRef> {
    const result = await withImageFallback(notice, (image) =>
      deps.client.chat.postMessage({ channel, ...messageOf(deps, settings, notice, undefined, image), unfurl_links: false, unfurl_media: false }),
    );
    if (!result.channel || !result.ts) throw new Error('chat.postMessage answered without channel and ts');
    return { channel: result.channel, ts: result.ts };
  }

  /** False when the message is gone (deleted, or not where we thought). */
  async function updateRequest(
    deps: SlackApprovalDependencies,
    settings: CollectionSlackSettings,
    notice: ApprovalNotice,
    ref: SlackMessageRef,
    outcome: Outcome | undefined,
  ): Promise<boolean> {
    try {
      await withImageFallback(notice, (image) => deps.client.chat.update({ channel: ref.channel, ts: ref.ts, ...messageOf(deps, settings, notice, outcome, image) }));
      return true;
    } catch (error) {
      if (['message_not_found', 'cant_update_message', 'channel_not_found'].includes(slackErrorCode(error) ?? '')) {
        log.warn('Slack message to update is gone', { asset: notice.workflowId, round: notice.round, error: slackErrorCode(error) });
        return false;
      }
      throw error;
    }
  }
}

/** Slack refuses blocks whose image it cannot download (a gateway it cannot reach): then the preview is a link. */
async function withImageFallback<T>(notice: ApprovalNotice, send: (image: boolean) => Promise<T>): Promise<T> {
  try {
    return await send(true);
  } catch (error) {
    if (slackErrorCode(error) !== 'invalid_blocks') throw error;
    log.warn('Slack could not use the preview image; posting a link instead (set ATELIER_SLACK_PREVIEW_URL to a gateway Slack can reach)', {
      asset: notice.workflowId,
      error: describeSlackError(error).message,
    });
    return send(false);
  }
}

function asRef(details: unknown): SlackMessageRef | undefined {
  const ref = details as Partial<SlackMessageRef> | undefined;
  return typeof ref?.channel === 'string' && typeof ref.ts === 'string' ? { channel: ref.channel, ts: ref.ts } : undefined;
}

function asProgress(details: unknown): ReminderProgress {
  const progress = (details ?? {}) as ReminderProgress;
  return { request: asRef(progress.request), reminded: progress.reminded === true, escalated: progress.escalated === true };
}
