// The approval request as a Block Kit message, shared by the worker's announceApproval activity
// (which posts and closes it) and the Slack app (which closes it the moment a decision lands).
// Pure functions: no Slack client, no secrets.
import type { types } from '@slack/bolt';
import type { CheckResult } from '../checks.ts';

type Block = types.KnownBlock;

export const APPROVE_ACTION = 'atelier_approve';
export const REJECT_ACTION = 'atelier_reject';
export const REJECT_VIEW = 'atelier_reject_reason';
export const REASON_BLOCK = 'reason';
export const REASON_INPUT = 'reason_input';

/** Message metadata event types: how a retried activity finds what it already posted. */
export const metadataEvents = {
  request: 'atelier_approval_request',
  reminder: 'atelier_approval_reminder',
  escalation: 'atelier_approval_escalation',
  /** A round whose draft failed its automated checks (no request, no buttons). */
  checksFailed: 'atelier_checks_failed',
  /** A dynamic asset's token now shows a new version. */
  updated: 'atelier_token_updated',
} as const;

/** Blocks that only make sense while the request is open, and the outcome that replaces them. */
const PENDING_BLOCK = 'atelier_pending';
const ACTIONS_BLOCK = 'atelier_actions';
const OUTCOME_BLOCK = 'atelier_outcome';

/** What a message needs to show a request: the approval notice without its event. */
export interface ApprovalRequest {
  workflowId: string;
  collectionId: string;
  assetKey: string;
  name: string;
  round: number;
  draftCid: string;
  inputs: Record<string, unknown>;
  feedback: string[];
  /** The spec's own approver list (matched on `by`; for Slack, user IDs). */
  approvers: string[];
  /** The round's automated checks (when the spec has some): shown in the request, or why the round failed them. */
  checks?: { passed: CheckResult[]; failed: CheckResult[] };
}

export interface Outcome {
  kind: 'approve' | 'reject' | 'expired' | 'cancelled';
  by?: string;
  name?: string;
  via?: string;
  /** ISO time. */
  at: string;
  comment?: string;
}

/** What a button carries: the run, the round it was posted for, and that round's draft. */
export interface ButtonTarget {
  workflowId: string;
  round: number;
  /** Absent on buttons posted before decisions named their draft. */
  draftCid?: string;
}

export const encodeTarget = (target: ButtonTarget & { draftCid?: string }) => JSON.stringify({ w: target.workflowId, r: target.round, d: target.draftCid });

export function decodeTarget(value: string | undefined): ButtonTarget | undefined {
  try {
    const parsed = JSON.parse(value ?? '') as { w?: unknown; r?: unknown; d?: unknown };
    if (typeof parsed.w === 'string' && /^asset:[^:]+:[^:]+$/.test(parsed.w) && Number.isInteger(parsed.r) && (parsed.r as number) >= 1) {
      const draftCid = typeof parsed.d === 'string' && /^[a-z0-9]{10,100}$/.test(parsed.d) ? parsed.d : undefined;
      return { workflowId: parsed.w, round: parsed.r as number, draftCid };
    }
  } catch {
    // not ours
  }
  return undefined;
}

/** Slack's mrkdwn escaping: user text can neither mention @channel nor forge links. */
export const escapeText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const truncate = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

const isSlackUserId = (id: string) => /^[UW][A-Z0-9]{2,}$/.test(id);

/** How a decider is shown: a mention for Slack user IDs, the name otherwise. */
export function who(by: string | undefined, name?: string, via?: string): string {
  if (!by) return 'someone';
  if (isSlackUserId(by) && (via === 'slack' || via === undefined)) return `<@${by}>`;
  const shown = name && name !== by ? `${escapeText(name)} (${escapeText(by)})` : escapeText(by);
  return via && via !== 'slack' ? `${shown} via ${escapeText(via)}` : shown;
}

/** A time each reader sees in their own time zone, with the ISO time as the fallback. */
export function slackDate(iso: string): string {
  const seconds = Math.floor(Date.parse(iso) / 1000);
  if (!Number.isFinite(seconds)) return escapeText(iso);
  return `<!date^${seconds}^{date_short_pretty} at {time}|${iso}>`;
}

export const previewUrlOf = (previewBase: string, draftCid: string) => `${previewBase}/ipfs/${draftCid}`;

export function requestText(request: ApprovalRequest): string {
  const passed = request.checks?.passed.length ?? 0;
  const checks = passed > 0 ? ` · ${passed} automated check${passed === 1 ? '' : 's'} passed` : '';
  return `Approval needed: ${request.name} (${request.collectionId}/${request.assetKey}, round ${request.round})${checks}`;
}

/** One check as `name (detail)`, the detail cut short: a list of them fits one context element or section. */
const checkBrief = (result: CheckResult) => `${escapeText(result.check)} (${escapeText(truncate(result.detail.replace(/\s+/g, ' ').trim(), 200))})`;

/** "✅ Checks passed: size (1024x1024 px) · colorSpace (sRGB)": one context element; undefined when none passed. */
export function checksPassedLine(checks: ApprovalRequest['checks']): string | undefined {
  if (!checks || checks.passed.length === 0) return undefined;
  return truncate(`✅ Checks passed: ${checks.passed.map(checkBrief).join(' · ')}`, 3000);
}

/** The plain text of a round rejected by its automated checks: every failed check with its detail, and the draft's link. */
export function checksFailedText(request: ApprovalRequest, previewBase: string): string {
  const failed = request.checks?.failed ?? [];
  const reasons = failed.length > 0 ? failed.map((f) => `${f.check}: ${truncate(f.detail.replace(/\s+/g, ' ').trim(), 300)}`).join('; ') : 'no details';
  return truncate(
    `❌ ${request.name} (${request.collectionId}/${request.assetKey}) round ${request.round} was rejected by its automated checks: ${reasons}. Draft: ${previewUrlOf(previewBase, request.draftCid)}`,
    3900,
  );
}

/**
 * A round rejected by its automated checks, for the collection's channel: what failed (every check,
 * with its detail), what passed (briefly), and a link to the draft. No buttons: nobody decides it.
 */
export function checksFailedBlocks(request: ApprovalRequest, options: { previewBase: string }): Block[] {
  const preview = previewUrlOf(options.previewBase, request.draftCid);
  const failed = request.checks?.failed ?? [];
  const lines = failed.map((f) => `• *${escapeText(f.check)}*: ${escapeText(truncate(f.detail.replace(/\s+/g, ' ').trim(), 300))}`);
  const blocks: Block[] = [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `❌ *${escapeText(request.name)}* (\`${escapeText(request.collectionId)}/${escapeText(request.assetKey)}\`) round *${request.round}* was rejected by its automated checks; it did not go up for a decision.`,
          3000,
        ),
      },
    },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: truncate(`*Failed check${failed.length === 1 ? '' : 's'}*\n${lines.join('\n') || '(no details)'}`, 3000) },
    },
  ];
  const passed = checksPassedLine(request.checks);
  if (passed) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: passed }] });
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: truncate(`<${preview}|Open the draft> · \`${request.draftCid}\` · \`${escapeText(request.workflowId)}\``, 3000) }],
  });
  return blocks;
}

/** A dynamic asset's refresh, as it reached the chain. */
export interface TokenUpdate {
  version: number;
  tokenId: string;
  metadataCid: string;
  txHash: string | null;
  /** What changed it: the change's name (an event, `schedule:<trait>`, `chain:Transfer`). */
  cause: string;
}

export function updatedText(request: ApprovalRequest, update: TokenUpdate, previewBase: string): string {
  return truncate(
    `🔄 ${request.name} (${request.collectionId}/${request.assetKey}) token ${update.tokenId} is now version ${update.version} (${update.cause}). Image: ${previewUrlOf(previewBase, request.draftCid)} · metadata ipfs://${update.metadataCid}${update.txHash ? ` · tx ${update.txHash}` : ''}`,
    3900,
  );
}

/** A token's new version for the collection's channel: what caused it, the new image and the transaction. No buttons. */
export function updatedBlocks(request: ApprovalRequest, update: TokenUpdate, options: { previewBase: string }): Block[] {
  const preview = previewUrlOf(options.previewBase, request.draftCid);
  return [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `🔄 *${escapeText(request.name)}* (\`${escapeText(request.collectionId)}/${escapeText(request.assetKey)}\`) token *${escapeText(update.tokenId)}* is now version *${update.version}*, after \`${escapeText(update.cause)}\`.`,
          3000,
        ),
      },
    },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: truncate(
            `<${preview}|Open the new image> · metadata \`${update.metadataCid}\`${update.txHash ? ` · tx \`${update.txHash}\`` : ''} · \`${escapeText(request.workflowId)}\``,
            3000,
          ),
        },
      ],
    },
  ];
}

export const previewAltText = (request: Pick<ApprovalRequest, 'name' | 'round'>) => truncate(`Draft of ${request.name}, round ${request.round}`, 2000);

/**
 * The open request: preview, name, traits or prompt, round, earlier feedback, Approve / Reject.
 * The preview image is the draft uploaded to Slack (`previewFile`, a file ID) when given, else the
 * gateway URL; `image: false` leaves the image out (the context line links to the draft either way).
 */
export function requestBlocks(
  request: ApprovalRequest,
  options: { previewBase: string; image?: boolean; previewFile?: string; pendingWith?: string },
): Block[] {
  const preview = previewUrlOf(options.previewBase, request.draftCid);
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(`🎨 ${request.name}`, 150), emoji: true } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*${escapeText(request.collectionId)}* / \`${escapeText(request.assetKey)}\` · round *${request.round}*`,
      },
    },
  ];
  if (options.image !== false) {
    blocks.push(
      options.previewFile
        ? { type: 'image', slack_file: { id: options.previewFile }, alt_text: previewAltText(request) }
        : { type: 'image', image_url: preview, alt_text: previewAltText(request) },
    );
  }
  const fields = inputFields(request.inputs);
  if (fields.length > 0) blocks.push({ type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn', text })) });
  const prompt = request.inputs.prompt;
  if (typeof prompt === 'string' && prompt) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`*Prompt*\n>${escapeText(prompt).replace(/\n/g, '\n>')}`, 3000) } });
  }
  if (request.feedback.length > 0) {
    const lines = request.feedback.map((text, i) => `Round ${i + 1}: ${escapeText(text || '(no reason given)').replace(/\n/g, ' ')}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`*Earlier feedback*\n${lines.map((l) => `> ${l}`).join('\n')}`, 3000) } });
  }
  const checks = checksPassedLine(request.checks);
  if (checks) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: checks }] });
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: truncate(`<${preview}|Open the draft> · \`${request.draftCid}\` · \`${escapeText(request.workflowId)}\``, 3000) }],
  });
  if (options.pendingWith) {
    blocks.push({
      type: 'context',
      block_id: PENDING_BLOCK,
      elements: [{ type: 'mrkdwn', text: truncate(`Waiting for a decision from ${options.pendingWith}`, 3000) }],
    });
  }
  const value = encodeTarget(request);
  blocks.push({
    type: 'actions',
    block_id: ACTIONS_BLOCK,
    elements: [
      { type: 'button', action_id: APPROVE_ACTION, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value },
      { type: 'button', action_id: REJECT_ACTION, style: 'danger', text: { type: 'plain_text', text: 'Reject…' }, value },
    ],
  });
  return blocks;
}

/** The request closed: buttons and the "waiting for" line gone, the outcome (who, when) added. */
export function closedBlocks(blocks: readonly Block[], outcome: Outcome): Block[] {
  const kept = blocks.filter((b) => !('block_id' in b) || ![PENDING_BLOCK, ACTIONS_BLOCK, OUTCOME_BLOCK].includes(b.block_id ?? ''));
  return [...kept.map(asPosted), { type: 'section', block_id: OUTCOME_BLOCK, text: { type: 'mrkdwn', text: outcomeText(outcome) } }];
}

/**
 * A block as it may be posted again. Slack hands an uploaded file's image block back (in a click's
 * payload, in history) with the file's rendered URL and sizes beside `slack_file`; posting both
 * `image_url` and `slack_file` is refused, so only the file reference is kept.
 */
function asPosted(block: Block): Block {
  if (block.type !== 'image' || !('slack_file' in block) || !block.slack_file) return block;
  const file = block.slack_file as { id?: string; url?: string };
  return {
    type: 'image',
    ...(block.block_id ? { block_id: block.block_id } : {}),
    slack_file: file.id ? { id: file.id } : { url: file.url! },
    alt_text: block.alt_text,
    ...(block.title ? { title: block.title } : {}),
  };
}

export function outcomeText(outcome: Outcome): string {
  const when = slackDate(outcome.at);
  switch (outcome.kind) {
    case 'approve':
      return `✅ *Approved* by ${who(outcome.by, outcome.name, outcome.via)} · ${when}`;
    case 'reject': {
      const reason = outcome.comment ? `\n>${truncate(escapeText(outcome.comment), 2500).replace(/\n/g, '\n>')}` : '';
      return `❌ *Rejected* by ${who(outcome.by, outcome.name, outcome.via)} · ${when}${reason}`;
    }
    case 'expired':
      return `⌛ *Expired* without a decision · ${when}`;
    case 'cancelled': {
      const reason = outcome.comment ? `\n>${truncate(escapeText(outcome.comment), 2500).replace(/\n/g, '\n>')}` : '';
      return `🚫 *Cancelled* by ${who(outcome.by, outcome.name, outcome.via)} · ${when}${reason}`;
    }
  }
}

export function outcomeSummary(outcome: Outcome, name: string): string {
  const by = outcome.name ?? outcome.by ?? 'someone';
  if (outcome.kind === 'expired') return `Expired: ${name}`;
  return `${{ approve: 'Approved', reject: 'Rejected', cancelled: 'Cancelled' }[outcome.kind]} by ${by}: ${name}`;
}

/** A user ID or a user group ID as a mention. */
export const mentionOf = (id: string) => (/^S[A-Z0-9]{2,}$/.test(id) ? `<!subteam^${id}>` : isSlackUserId(id) ? `<@${id}>` : escapeText(id));

/** Who may decide, as mentions: the collection's users and group, else the spec's list. */
export function approversMention(users: string[], group?: string): string {
  const mentions = [...users.map(mentionOf), ...(group ? [mentionOf(group)] : [])];
  if (mentions.length <= 1) return mentions[0] ?? 'an approver';
  return `${mentions.slice(0, -1).join(', ')} or ${mentions.at(-1)}`;
}

export function reminderText(request: ApprovalRequest, pendingWith: string, since: string | undefined): string {
  const waiting = since ? ` since ${slackDate(since)}` : '';
  return `⏰ Reminder: *${escapeText(request.name)}* (round ${request.round}) still waits for a decision${waiting}. ${pendingWith}, please approve or reject it above.`;
}

export function escalationText(request: ApprovalRequest, mention: string | undefined, permalink: string | undefined): string {
  const link = permalink ? `<${permalink}|the request>` : 'the request';
  const to = mention ? `${mention}: ` : '';
  return `🚨 ${to}*${escapeText(request.name)}* (\`${escapeText(request.collectionId)}/${escapeText(request.assetKey)}\`, round ${request.round}) has waited past its reminder without a decision. Open ${link} to approve or reject it.`;
}

/** Traits (or other short inputs) as up to 10 fields. */
function inputFields(inputs: Record<string, unknown>): string[] {
  const fields: string[] = [];
  const traits = inputs.traits;
  if (traits && typeof traits === 'object') {
    for (const [layer, option] of Object.entries(traits as Record<string, unknown>)) {
      fields.push(`*${escapeText(layer)}*\n${escapeText(String(option))}`);
    }
  }
  for (const key of ['layerSet', 'seed', 'model'] as const) {
    const value = inputs[key];
    if (typeof value === 'string' || typeof value === 'number') fields.push(`*${key}*\n${escapeText(String(value))}`);
  }
  return fields.slice(0, 10).map((f) => truncate(f, 2000));
}

/** The reject modal: the reason becomes the feedback the next draft is generated with. */
export function rejectModal(target: ButtonTarget & { channel: string; ts: string }, name: string | undefined): types.ModalView {
  return {
    type: 'modal',
    callback_id: REJECT_VIEW,
    private_metadata: JSON.stringify({ w: target.workflowId, r: target.round, d: target.draftCid, c: target.channel, t: target.ts }),
    title: { type: 'plain_text', text: 'Reject draft' },
    submit: { type: 'plain_text', text: 'Reject' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `Rejecting ${name ? `*${escapeText(truncate(name, 200))}* ` : ''}(round ${target.round}). Your reason is the feedback the next draft is generated with, e.g. \`hat=crown\` or "warmer colours".`,
        },
      },
      {
        type: 'input',
        block_id: REASON_BLOCK,
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: REASON_INPUT, multiline: true, max_length: 1000 },
      },
    ],
  };
}

export function decodeModalTarget(privateMetadata: string | undefined): (ButtonTarget & { channel: string; ts: string }) | undefined {
  try {
    const parsed = JSON.parse(privateMetadata ?? '') as { w?: unknown; r?: unknown; d?: unknown; c?: unknown; t?: unknown };
    const target = decodeTarget(JSON.stringify({ w: parsed.w, r: parsed.r, d: parsed.d }));
    if (target && typeof parsed.c === 'string' && typeof parsed.t === 'string') return { ...target, channel: parsed.c, ts: parsed.t };
  } catch {
    // not ours
  }
  return undefined;
}

/** `asset:<collection>:<key>` -> the collection. */
export const collectionOf = (workflowId: string) => workflowId.split(':')[1] ?? '';
