// approval: tells the approvers that a draft waits for them, reminds them, and closes the request.
// Without Slack configured the notice goes to the worker log only (the CLI and `status` show the
// pending request either way). With Slack (ATELIER_SLACK_BOT_TOKEN), `requested` posts a Block Kit
// message to the collection's channel, once per (workflow, round): a retried attempt updates the
// message it already posted, which it knows from its heartbeat details or finds again by the
// message's metadata. `reminder` answers in the message's thread and escalates; `expired` and
// `decided` update the message (buttons gone, who and when shown).
// The preview: Slack's servers cannot fetch images from the local gateway, so the draft (read from
// the gateway) is uploaded into the request's thread with Slack's external upload flow and the
// message shows it as a Slack file, once per (workflow, round): the file ID goes into the heartbeat
// details with the message, and a retry without it looks for the file in the thread first. With a
// public gateway (ATELIER_SLACK_PREVIEW_URL) the message shows the image by URL and nothing is
// uploaded. The image's bytes never leave the activity: it returns references only.
// `checks_failed` (the draft failed its automated checks; nobody decides the round) posts one
// message without buttons to the collection's channel, once per (workflow, round) like a request:
// every failed check with its detail, the passed ones briefly, and the draft's link.
import { ApplicationFailure, Context, log, sleep } from '@temporalio/activity';
import type { WebClient } from '@slack/web-api';
import sharp from 'sharp';
import { untrustedInput } from './format.ts';
import {
  approversMention,
  checksFailedBlocks,
  checksFailedText,
  updatedBlocks,
  updatedText,
  closedBlocks,
  escalationText,
  mentionOf,
  metadataEvents,
  outcomeSummary,
  previewAltText,
  reminderText,
  requestBlocks,
  requestText,
} from '../common/slack/blocks.ts';
import type { ApprovalRequest, Outcome, TokenUpdate } from '../common/slack/blocks.ts';
import type { CollectionSlackSettings, SlackCollections } from '../common/slack/settings.ts';
import { describeSlackError, findFileInThread, findMessageByMetadata, refusedSlackFile, slackErrorCode, tsToIso, uploadFile } from '../common/slack/webapi.ts';
import type { SlackMessageRef } from '../common/slack/webapi.ts';

export type { SlackMessageRef } from '../common/slack/webapi.ts';

export interface ApprovalNotice extends ApprovalRequest {
  /** `checks_failed`: the round's draft failed its automated checks and never went up for a decision. */
  event: 'requested' | 'reminder' | 'expired' | 'decided' | 'cancelled' | 'checks_failed' | 'updated';
  /** With `updated`: a dynamic asset's token points at its new version. */
  update?: TokenUpdate;
  decision?: { kind: 'approve' | 'reject'; by: string; via: string; at: string; comment?: string; name?: string };
  /** With `cancelled`: who cancelled the run, why and when. */
  cancelled?: { by: string; reason: string; at: string };
  /** The round's Slack message as `requested` returned it, when the workflow keeps it: no lookup needed. */
  message?: SlackMessageRef | null;
}

export interface SlackApprovalDependencies {
  /** A bot-token client; see workerSlackClient. */
  client: WebClient;
  collections: SlackCollections;
  /**
   * A gateway Slack's servers can fetch previews from (ATELIER_SLACK_PREVIEW_URL): the message shows
   * the image by URL. Unset: the draft is uploaded to Slack (scope `files:write`) and shown as a file.
   */
  previewBaseUrl?: string;
}

export interface ApprovalDependencies {
  /** The Kubo gateway: drafts are read from it, and messages link to it when there is no public one. */
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

/** How the message shows the draft: by URL (a public gateway), as the uploaded Slack file, or not (a link only). */
type Preview = { kind: 'url' } | { kind: 'file'; id: string } | { kind: 'none' };

/** Slack processes an upload for a moment before a message may show it: waits between tries, then a link. */
const FILE_PROCESSING_WAITS_MS = [250, 500, 1_000, 2_000, 4_000];

/** Upload refusals a retry cannot fix (a setup matter): the request keeps its link, and says why in the log. */
const UPLOAD_SETUP_ERRORS = new Set([
  'missing_scope',
  'not_allowed_token_type',
  'no_permission',
  'restricted_action',
  'file_uploads_disabled',
  'file_upload_size_restricted',
]);

/** Image formats an image block shows as a Slack file; others are converted to PNG first. */
const SLACK_FILE_FORMATS = { png: [0x89, 0x50, 0x4e, 0x47], jpg: [0xff, 0xd8, 0xff], gif: [0x47, 0x49, 0x46, 0x38] } as const;

export function createApprovalActivities({ gatewayUrl, slack }: ApprovalDependencies) {
  /** Messages this worker posted, by workflow and round: spares the lookup on later events. */
  const posted = new Map<string, SlackMessageRef>();
  const keyOf = (notice: ApprovalNotice) => `${notice.workflowId}#${notice.round}`;
  const remember = (notice: ApprovalNotice, ref: SlackMessageRef) => {
    posted.delete(keyOf(notice));
    posted.set(keyOf(notice), ref);
    if (posted.size > 10_000) posted.delete(posted.keys().next().value!);
  };

  /** Drafts are uploaded unless a public gateway shows them. */
  const uploads = (deps: SlackApprovalDependencies) => !deps.previewBaseUrl;
  const previewOf = (deps: SlackApprovalDependencies, ref: SlackMessageRef | undefined): Preview =>
    !uploads(deps) ? { kind: 'url' } : ref?.previewFile ? { kind: 'file', id: ref.previewFile } : { kind: 'none' };
  /** The uploaded draft's name: one draft (CID) per round, so it also finds the file in the round's thread. */
  const fileStem = (notice: ApprovalNotice) => `atelier-${notice.draftCid}`;

  return {
    /**
     * Resolves once Slack has the notice, with the round's message (null without Slack) and the
     * uploaded draft's file ID. A workflow that passes it back as `message` in the round's later
     * notices spares the lookups; until then they find it in this worker's memory, by the message's
     * metadata and in its thread.
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
        case 'cancelled':
          return await close(slack, settings, notice);
        case 'checks_failed':
          return await postChecksFailed(slack, settings, notice);
        case 'updated':
          return await postUpdated(slack, settings, notice);
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
    const retried = info.attempt > 1;
    let ref = asRef(info.heartbeatDetails);
    if (!ref && retried) {
      // An earlier attempt may have posted without living to heartbeat (or Slack stored the post
      // and the answer was lost): look for the message before posting another.
      const ts = await findMessageByMetadata(
        deps.client,
        { channel: settings.channel, oldest: info.scheduledTimestampMs / 1000 - LOOKUP_MARGIN_S },
        { eventType: metadataEvents.request, workflowId: notice.workflowId, round: notice.round },
      );
      if (ts) ref = { channel: settings.channel, ts };
    }
    // Likewise the draft: uploaded into the thread, the answer lost.
    if (ref && retried && uploads(deps) && !ref.previewFile) ref = { ...ref, previewFile: await findFileInThread(deps.client, ref, fileStem(notice)) };
    let posted = false;
    if (ref && (await updateRequest(deps, settings, notice, ref, undefined))) {
      log.info('approval request updated in Slack (retried attempt)', { asset: notice.workflowId, round: notice.round, channel: ref.channel, ts: ref.ts });
    } else {
      ref = await postRequestMessage(deps, settings, notice, settings.channel);
      posted = true;
      log.info('approval request posted to Slack', { asset: notice.workflowId, round: notice.round, channel: ref.channel, ts: ref.ts });
    }
    Context.current().heartbeat(ref);
    if (!ref.previewFile) ref = await illustrate(deps, settings, notice, ref, retried && !posted, (shown) => Context.current().heartbeat(shown));
    remember(notice, ref);
    return ref;
  }

  /**
   * The round rejected by its automated checks: one message, no buttons. Once per (workflow, round):
   * a retry knows the message from its heartbeat details, or (an earlier attempt posted without living
   * to heartbeat, or the answer was lost) finds it by its metadata, and posts nothing more.
   */
  async function postChecksFailed(deps: SlackApprovalDependencies, settings: CollectionSlackSettings, notice: ApprovalNotice): Promise<SlackMessageRef> {
    const previewBase = deps.previewBaseUrl ?? gatewayUrl;
    const ref = await postOnce(deps, settings, notice, metadataEvents.checksFailed, {
      text: checksFailedText(notice, previewBase),
      blocks: checksFailedBlocks(notice, { previewBase }),
    });
    log.info('checks failure in Slack', { asset: notice.workflowId, round: notice.round, failed: notice.checks?.failed.map((f) => f.check) ?? [], ...ref });
    return ref;
  }

  /** A dynamic asset's new version: one message per refresh run, like a checks failure. */
  async function postUpdated(deps: SlackApprovalDependencies, settings: CollectionSlackSettings, notice: ApprovalNotice): Promise<SlackMessageRef> {
    if (!notice.update) throw ApplicationFailure.nonRetryable('an "updated" notice needs its update', 'InvalidNotice');
    const previewBase = deps.previewBaseUrl ?? gatewayUrl;
    const ref = await postOnce(deps, settings, notice, metadataEvents.updated, {
      text: updatedText(notice, notice.update, previewBase),
      blocks: updatedBlocks(notice, notice.update, { previewBase }),
    });
    log.info('token update in Slack', { asset: notice.workflowId, version: notice.update.version, ...ref });
    return ref;
  }

  /**
   * One message without buttons, once per (workflow, round): a retry knows the message from its
   * heartbeat details, or (an earlier attempt posted without living to heartbeat, or the answer was
   * lost) finds it by its metadata, and posts nothing more.
   */
  async function postOnce(
    deps: SlackApprovalDependencies,
    settings: CollectionSlackSettings,
    notice: ApprovalNotice,
    eventType: string,
    message: { text: string; blocks: ReturnType<typeof updatedBlocks> },
  ): Promise<SlackMessageRef> {
    const { info } = Context.current();
    let ref = asRef(info.heartbeatDetails);
    if (!ref && info.attempt > 1) {
      const ts = await findMessageByMetadata(
        deps.client,
        { channel: settings.channel, oldest: info.scheduledTimestampMs / 1000 - LOOKUP_MARGIN_S },
        { eventType, workflowId: notice.workflowId, round: notice.round },
      );
      if (ts) ref = { channel: settings.channel, ts };
    }
    if (ref) {
      log.info('message already in Slack (retried attempt)', { asset: notice.workflowId, round: notice.round, eventType });
      Context.current().heartbeat(ref);
      return ref;
    }
    const result = await deps.client.chat.postMessage({
      channel: settings.channel,
      ...message,
      metadata: { event_type: eventType, event_payload: { workflowId: notice.workflowId, round: notice.round } },
      unfurl_links: false,
      unfurl_media: false,
    });
    if (!result.channel || !result.ts) throw new Error('chat.postMessage answered without channel and ts');
    ref = { channel: result.channel, ts: result.ts };
    Context.current().heartbeat(ref);
    return ref;
  }

  /**
   * Uploads the draft into the request's thread and shows it in the message (upload mode only).
   * `checkpoint` keeps the file ID (heartbeat details) before the message is updated.
   */
  async function illustrate(
    deps: SlackApprovalDependencies,
    settings: CollectionSlackSettings,
    notice: ApprovalNotice,
    ref: SlackMessageRef,
    lookFirst: boolean,
    checkpoint: (ref: SlackMessageRef) => void,
  ): Promise<SlackMessageRef> {
    if (!uploads(deps) || ref.previewFile) return ref;
    const previewFile = (lookFirst ? await findFileInThread(deps.client, ref, fileStem(notice)) : undefined) ?? (await uploadPreview(deps, notice, ref));
    if (!previewFile) return ref;
    const shown = { ...ref, previewFile };
    checkpoint(shown);
    if (await updateRequest(deps, settings, notice, shown, undefined)) {
      log.info('draft uploaded to Slack and shown in the request', { asset: notice.workflowId, round: notice.round, file: previewFile });
    }
    return shown;
  }

  /** The draft from the gateway, into the request's thread; undefined when Slack's setup refuses uploads. */
  async function uploadPreview(deps: SlackApprovalDependencies, notice: ApprovalNotice, ref: SlackMessageRef): Promise<string | undefined> {
    const draft = await readDraft(notice.draftCid);
    try {
      return await uploadFile(deps.client, {
        bytes: draft.bytes,
        filename: `${fileStem(notice)}.${draft.ext}`,
        title: `${notice.name}, round ${notice.round}`,
        altText: previewAltText(notice),
        channel: ref.channel,
        threadTs: ref.ts,
      });
    } catch (error) {
      if (!UPLOAD_SETUP_ERRORS.has(slackErrorCode(error) ?? '')) throw error;
      log.warn('could not upload the draft to Slack; the request links to it instead (or set ATELIER_SLACK_PREVIEW_URL to a gateway Slack can reach)', {
        asset: notice.workflowId,
        round: notice.round,
        error: describeSlackError(error).message,
      });
      return undefined;
    }
  }

  /** The draft's bytes from the gateway, in a format Slack shows in an image block. */
  async function readDraft(cid: string): Promise<{ bytes: Buffer; ext: string }> {
    const response = await fetch(`${gatewayUrl}/ipfs/${cid}`, { signal: AbortSignal.timeout(30_000) });
    if (!response.ok) throw new Error(`the gateway answered HTTP ${response.status} for draft ${cid}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    for (const [ext, magic] of Object.entries(SLACK_FILE_FORMATS)) {
      if (magic.every((byte, i) => bytes[i] === byte)) return { bytes, ext };
    }
    return { bytes: await sharp(bytes, untrustedInput).png().toBuffer(), ext: 'png' };
  }

  async function remind(deps: SlackApprovalDependencies, settings: CollectionSlackSettings, notice: ApprovalNotice): Promise<SlackMessageRef> {
    const ctx = Context.current();
    const progress: ReminderProgress = asProgress(ctx.info.heartbeatDetails);
    const checkpoint = () => ctx.heartbeat({ ...progress });
    const repost = async () => {
      const posted = await postRequestMessage(deps, settings, notice, settings.channel);
      progress.request = posted;
      checkpoint();
      const shown = await illustrate(deps, settings, notice, posted, false, (ref) => {
        progress.request = ref;
        checkpoint();
      });
      remember(notice, shown);
      return shown;
    };
    let request = progress.request ?? (await findRequest(deps, settings, notice));
    // The request never made it to Slack (Slack was configured later, or the message was
    // deleted): post it now, buttons and all, so the reminder has something to point at.
    request ??= await repost();
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
          request = await repost();
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
      notice.event === 'cancelled'
        ? {
            kind: 'cancelled',
            by: notice.cancelled?.by,
            via: 'atelier',
            comment: notice.cancelled?.reason,
            at: notice.cancelled?.at ?? new Date().toISOString(),
          }
        : notice.event === 'expired' || !notice.decision
          ? { kind: 'expired', at: new Date(Context.current().info.scheduledTimestampMs).toISOString() }
          : { ...notice.decision };
    let ref = await findRequest(deps, settings, notice);
    // The uploaded draft stays in the closed message: from the notice, this worker's memory, or the thread.
    if (ref && uploads(deps) && !ref.previewFile) ref = { ...ref, previewFile: await findFileInThread(deps.client, ref, fileStem(notice)) };
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

  function messageOf(
    deps: SlackApprovalDependencies,
    settings: CollectionSlackSettings,
    notice: ApprovalNotice,
    outcome: Outcome | undefined,
    preview: Preview,
  ) {
    const request: ApprovalRequest = notice;
    const open = requestBlocks(request, {
      previewBase: deps.previewBaseUrl ?? gatewayUrl,
      image: preview.kind !== 'none',
      previewFile: preview.kind === 'file' ? preview.id : undefined,
      pendingWith: pendingWith(settings, notice),
    });
    return {
      text: outcome ? outcomeSummary(outcome, notice.name) : requestText(request),
      blocks: outcome ? closedBlocks(open, outcome) : open,
      metadata: { event_type: metadataEvents.request, event_payload: { workflowId: notice.workflowId, round: notice.round } },
    };
  }

  async function postRequestMessage(
    deps: SlackApprovalDependencies,
    settings: CollectionSlackSettings,
    notice: ApprovalNotice,
    channel: string,
  ): Promise<SlackMessageRef> {
    // In upload mode the message goes out without its image: the draft is uploaded into its thread next.
    const result = await withImageFallback(notice, previewOf(deps, undefined), (preview) =>
      deps.client.chat.postMessage({ channel, ...messageOf(deps, settings, notice, undefined, preview), unfurl_links: false, unfurl_media: false }),
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
      await withImageFallback(notice, previewOf(deps, ref), (preview) =>
        deps.client.chat.update({ channel: ref.channel, ts: ref.ts, ...messageOf(deps, settings, notice, outcome, preview) }),
      );
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

/**
 * Slack refuses blocks whose image it cannot download (a gateway it cannot reach) or whose file it
 * cannot show yet (an upload still processing: tried again a few times): then the preview is a link.
 */
async function withImageFallback<T>(notice: ApprovalNotice, preview: Preview, send: (preview: Preview) => Promise<T>): Promise<T> {
  if (preview.kind === 'none') return send(preview);
  for (let tries = 0; ; tries++) {
    try {
      return await send(preview);
    } catch (error) {
      if (slackErrorCode(error) !== 'invalid_blocks') throw error;
      const wait = FILE_PROCESSING_WAITS_MS[tries];
      if (preview.kind === 'file' && refusedSlackFile(error) && wait !== undefined) {
        await sleep(wait);
        continue;
      }
      log.warn(
        preview.kind === 'file'
          ? 'Slack would not show the uploaded draft; posting a link instead'
          : 'Slack could not use the preview image; posting a link instead (set ATELIER_SLACK_PREVIEW_URL to a gateway Slack can reach, or unset it to upload drafts)',
        { asset: notice.workflowId, round: notice.round, error: describeSlackError(error).message },
      );
      return send({ kind: 'none' });
    }
  }
}

function asRef(details: unknown): SlackMessageRef | undefined {
  const ref = details as Partial<SlackMessageRef> | undefined;
  if (typeof ref?.channel !== 'string' || typeof ref.ts !== 'string') return undefined;
  return { channel: ref.channel, ts: ref.ts, ...(typeof ref.previewFile === 'string' ? { previewFile: ref.previewFile } : {}) };
}

function asProgress(details: unknown): ReminderProgress {
  const progress = (details ?? {}) as ReminderProgress;
  return { request: asRef(progress.request), reminded: progress.reminded === true, escalated: progress.escalated === true };
}
