// Decisions on a draft: what a person sends, how it is signed, and the one rule that says whether
// the run takes it. The workflow's `approve`/`reject` Update validators (and the signals kept for
// scripts) call `checkDecision`; clients only send and report the answer. Pure code (ed25519 in
// JavaScript, no Node modules), so workflow code can import it.
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { inWorkflowContext } from '@temporalio/workflow';
import { undecodableReason } from './payloadConverter.js';

export type DecisionKind = 'approve' | 'reject';

/** Most characters a comment (the feedback of a rejection) may have. */
export const MAX_COMMENT_CHARS = 2000;
const MAX_NAME_CHARS = 200;

/**
 * Who signed a decision: the approver's own key (`approver`, e.g. `atelier approve --key`), or the
 * Slack app, which signs for the user whose click it authenticated (`slack-app`).
 */
export interface DecisionProof {
  scheme: 'ed25519';
  signer: 'approver' | 'slack-app';
  /** Hex, 32 bytes. */
  publicKey: string;
  /** Hex, 64 bytes, over `decisionMessage(...)`. */
  signature: string;
}

/** What a person (or a script) sends with `approve` or `reject`. */
export interface DecisionInput {
  /** Who decides: an approver's name or a Slack user id. */
  by: string;
  /** The round the person saw, and its draft: a decision binds to one image. */
  round: number;
  draftCid: string;
  /** Through what: `cli`, `slack`, `script`. */
  via?: string;
  /** How to show who decided, when `by` is an id (a Slack user's name). */
  name?: string;
  /** A rejection's feedback (required), or a note with an approval. */
  comment?: string;
  proof?: DecisionProof;
}

/** A decision the run took. */
export interface DecisionRecord {
  kind: DecisionKind;
  by: string;
  name?: string;
  via: string;
  comment?: string;
  round: number;
  draftCid: string;
  /** ISO time the run took it. */
  at: string;
  /** Absent for an unsigned decision (allowed only where the spec says `unsigned: true`). */
  proof?: DecisionProof;
}

/** Keys the worker trusts beyond the spec: the Slack app's, and who the app may speak for. */
export interface ApprovalTrust {
  slack?: {
    /** The Slack app's decision-signing public key (hex). */
    appKey: string;
    /** Slack user ids allowed for this collection; empty when a user group decides (the app checks it). */
    approvers: string[];
    /** A user group whose members the app lets decide. */
    approverGroup?: string;
  };
}

/** The spec's side of the rule (the manual approval policy). */
export interface ApprovalRule {
  /** Who may decide: approver names and Slack user ids; empty: anyone the proofs allow. */
  approvers: string[];
  /** Approver name -> ed25519 public key (hex): that approver's decisions are signed with it. */
  keys: Record<string, string>;
  /** Whether unsigned decisions are taken (the quick-start demo; the token's metadata then says so). */
  unsigned: boolean;
}

/** Where the run is, as far as a decision is concerned. */
export interface DecisionContext {
  workflowId: string;
  stage: string;
  round: number;
  draftCid: string | null;
  /** A decision for this round was already taken. */
  decided: DecisionRecord | undefined;
  rule: ApprovalRule | null;
  trust: ApprovalTrust;
}

/**
 * The bytes a signature covers: the run, the round, the draft, the kind, who, and the comment, so a
 * signature can approve nothing else. A versioned, unambiguous JSON array.
 */
export function decisionMessage(workflowId: string, d: { round: number; draftCid: string; by: string; comment?: string }, kind: DecisionKind): Uint8Array {
  return utf8ToBytes(JSON.stringify(['atelier-decision-v1', workflowId, d.round, d.draftCid, kind, d.by, d.comment ?? '']));
}

/** A new approver key pair (hex). */
export function newDecisionKey(): { secretKey: string; publicKey: string } {
  const secretKey = ed25519.utils.randomSecretKey();
  return { secretKey: bytesToHex(secretKey), publicKey: bytesToHex(ed25519.getPublicKey(secretKey)) };
}

export function publicKeyOf(secretKeyHex: string): string {
  return bytesToHex(ed25519.getPublicKey(hexToBytes(secretKeyHex)));
}

/** Signs a decision for `workflowId` with a secret key (hex). */
export function signDecision(
  secretKeyHex: string,
  signer: DecisionProof['signer'],
  workflowId: string,
  kind: DecisionKind,
  decision: Omit<DecisionInput, 'proof'>,
): DecisionProof {
  const secretKey = hexToBytes(secretKeyHex);
  const signature = ed25519.sign(decisionMessage(workflowId, decision, kind), secretKey);
  return { scheme: 'ed25519', signer, publicKey: bytesToHex(ed25519.getPublicKey(secretKey)), signature: bytesToHex(signature) };
}

/** Anyone can check a proof: the run, the decision and the key it names. */
export function proofVerifies(workflowId: string, kind: DecisionKind, decision: DecisionInput | DecisionRecord, proof: DecisionProof): boolean {
  // In a workflow sandbox every run would build the base point's window table again (~60 ms
  // here); the plain ladder takes ~4 ms a check and builds nothing. Long-lived processes (the
  // Slack app signing, a collector checking many tokens) keep the table.
  if (inWorkflowContext()) ed25519.Point.BASE.precompute(1);
  try {
    return ed25519.verify(hexToBytes(proof.signature), decisionMessage(workflowId, decision, kind), hexToBytes(proof.publicKey));
  } catch {
    return false;
  }
}

export const isHexKey = (value: unknown, bytes: number): value is string =>
  typeof value === 'string' && value.length === bytes * 2 && /^[0-9a-f]+$/.test(value);

export type DecisionCheck = { ok: true; decision: DecisionInput } | { ok: false; reason: string };

/**
 * The one copy of the rule: the run awaits a decision, the round and draft are the current ones,
 * nothing is decided yet, the approver is allowed, the proof checks out, the comment is bounded.
 * Takes anything (a payload is input from outside) and never throws.
 */
export function checkDecision(context: DecisionContext, kind: DecisionKind, raw: unknown, options: { proofChecked?: boolean } = {}): DecisionCheck {
  const shape = decisionShape(kind, raw);
  if (typeof shape === 'string') return { ok: false, reason: shape };
  const decision = shape;
  const { workflowId, rule } = context;
  if (!rule) return { ok: false, reason: `${workflowId} is approved automatically; it takes no decisions` };
  // An older round first: whatever the run does now, that draft is no longer the one to decide on.
  if (decision.round < context.round) {
    return { ok: false, reason: `round ${decision.round} of ${workflowId} was replaced by round ${context.round}: decide on the newest draft` };
  }
  if (context.stage !== 'awaiting_approval') {
    const why = context.decided
      ? `round ${context.round} is already decided (${context.decided.kind} by ${context.decided.by} at ${context.decided.at})`
      : `it is ${context.stage.replace('_', ' ')}`;
    return { ok: false, reason: `${workflowId} is not awaiting a decision: ${why}` };
  }
  if (decision.round !== context.round) {
    return { ok: false, reason: `round ${decision.round} of ${workflowId} is not up yet (the current round is ${context.round})` };
  }
  if (decision.draftCid !== context.draftCid) {
    return { ok: false, reason: `draft ${decision.draftCid} is not the draft of round ${context.round} (${context.draftCid}): decide on what you saw` };
  }
  if (context.decided)
    return {
      ok: false,
      reason: `round ${context.round} of ${workflowId} is already decided: ${context.decided.kind} by ${context.decided.by} at ${context.decided.at}`,
    };
  if (rule.approvers.length > 0 && !rule.approvers.includes(decision.by)) {
    return { ok: false, reason: `${decision.by} may not decide on ${workflowId} (allowed: ${rule.approvers.join(', ')})` };
  }
  // An Update's handler runs right after its validator checked the proof (or on replay, after the
  // history recorded it accepted): the signature need not be checked twice.
  const proofProblem = options.proofChecked ? undefined : proofRefusal(context, kind, decision);
  return proofProblem ? { ok: false, reason: proofProblem } : { ok: true, decision };
}

function proofRefusal(context: DecisionContext, kind: DecisionKind, decision: DecisionInput): string | undefined {
  const { proof } = decision;
  const rule = context.rule!;
  if (!proof) {
    return rule.unsigned
      ? undefined
      : `${context.workflowId} takes signed decisions only: sign with your approver key (atelier approve --key <file>) or decide in Slack`;
  }
  if (proof.signer === 'slack-app') {
    const slack = context.trust.slack;
    if (!slack) return 'this worker trusts no Slack app key (ATELIER_SLACK_APP_PUBLIC_KEY is not set): a Slack-signed decision cannot be checked';
    if (proof.publicKey !== slack.appKey) return 'the decision is signed by a Slack app key this worker does not trust';
    if (!slack.approverGroup && !slack.approvers.includes(decision.by)) {
      return `Slack user ${decision.by} is not an approver of this collection (allowed: ${slack.approvers.join(', ') || 'nobody'})`;
    }
  } else {
    const key = rule.keys[decision.by];
    if (!key) return `${decision.by} has no approver key in this asset's spec: a signature of theirs cannot be checked`;
    if (proof.publicKey !== key) return `the decision is signed with a key that is not ${decision.by}'s`;
  }
  if (!proofVerifies(context.workflowId, kind, decision, proof)) {
    return `the signature does not match this decision (it was made for another run, round, draft, kind, approver or comment)`;
  }
  return undefined;
}

/** The decision with its fields checked and bounded, or why it is malformed. */
function decisionShape(kind: DecisionKind, raw: unknown): DecisionInput | string {
  const undecodable = undecodableReason(raw);
  if (undecodable) return `the decision's payload could not be decoded (${undecodable}); send JSON`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'a decision must be an object { by, round, draftCid, ... }';
  const input = raw as Record<string, unknown>;
  const text = (field: string, max: number): string | undefined | false => {
    const value = input[field];
    if (value === undefined || value === null) return undefined;
    return typeof value === 'string' && value.length <= max ? value : false;
  };
  const by = text('by', MAX_NAME_CHARS);
  if (!by || !by.trim()) return '"by" must name who decides (at most 200 characters)';
  if (typeof input.round !== 'number' || !Number.isInteger(input.round) || input.round < 1 || input.round > 1000) {
    return '"round" must be the round you decided on (a whole number); read it with `atelier status`';
  }
  const draftCid = text('draftCid', 200);
  if (!draftCid) return '"draftCid" must be the CID of the draft you decided on; read it with `atelier status`';
  const via = text('via', 40);
  const name = text('name', MAX_NAME_CHARS);
  if (via === false) return '"via" must be a short string such as cli, slack or script';
  if (name === false) return '"name" must be a string of at most 200 characters';
  const comment = input.comment === undefined || input.comment === null ? undefined : input.comment;
  if (comment !== undefined && typeof comment !== 'string') return '"comment" must be a string';
  if (comment !== undefined && comment.length > MAX_COMMENT_CHARS) return `"comment" has ${comment.length} characters; at most ${MAX_COMMENT_CHARS}`;
  if (kind === 'reject' && !comment?.trim()) return 'a rejection needs a comment: it is the feedback the next draft is made with';
  const proof = proofShape(input.proof);
  if (typeof proof === 'string') return proof;
  return { by, round: input.round, draftCid, via: via || 'unknown', name: name || undefined, comment, proof };
}

function proofShape(raw: unknown): DecisionProof | undefined | string {
  if (raw === undefined || raw === null) return undefined;
  const proof = raw as Record<string, unknown>;
  if (typeof raw !== 'object' || proof.scheme !== 'ed25519' || (proof.signer !== 'approver' && proof.signer !== 'slack-app')) {
    return '"proof" must be { scheme: "ed25519", signer: "approver" | "slack-app", publicKey, signature }';
  }
  if (!isHexKey(proof.publicKey, 32) || !isHexKey(proof.signature, 64)) return '"proof" needs a 32-byte publicKey and a 64-byte signature in lowercase hex';
  return { scheme: 'ed25519', signer: proof.signer, publicKey: proof.publicKey, signature: proof.signature };
}
