// One asset's life: generate -> human approval -> format -> pin -> mint.
// It decides; activities act. Only content references (CIDs) pass through history.
import {
  ApplicationFailure,
  condition,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityFailure } from '@temporalio/workflow';
import type { AssetResult, AssetSpec, AssetStatus, DecisionInput, DecisionRecord, Draft, FormattedAsset, MintReceipt, Stage } from '../common/asset.ts';
import { durationMs } from '../common/asset.ts';
import { AtelierApprover, AtelierContentCid, AtelierStage, AtelierTokenId } from '../common/searchAttributes.ts';
import type { Activities } from '../activities/index.ts';
import { approveSignal, rejectSignal, statusQuery } from './messages.ts';
import { patched } from '@temporalio/workflow';
import { mintThroughMinter } from './minter.ts';

// Image work: a few tries, then the run fails with the reason (bad input fails at once).
const { generateDraft, formatAsset } = proxyActivities<Activities>({
  startToCloseTimeout: '3 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 8 },
});
const { announceApproval } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
// Kubo restarts and RPC outages only delay these: retry until they are back.
const { pinAsset } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});
const { mintAsset } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  // Short: after a worker crash the retry starts this much later.
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

type Decision = { kind: 'approve' | 'reject'; record: DecisionRecord };

export async function assetLifecycle(spec: AssetSpec): Promise<AssetResult> {
  const status: AssetStatus = {
    workflowId: workflowInfo().workflowId,
    stage: 'generating',
    round: 1,
    draftCid: null,
    metadataCid: null,
    imageCid: null,
    tokenId: null,
    txHash: null,
    approver: null,
    approvers: spec.approval.policy === 'manual' ? spec.approval.approvers : null,
    reminders: 0,
    decisions: [],
    feedback: [],
    error: null,
  };
  const maxRounds = spec.approval.policy === 'manual' ? spec.approval.maxRounds : 1;
  /** The accepted decision of the current round; one that arrives early waits here. */
  let decision: Decision | undefined;

  const setStage = (stage: Stage) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: AtelierStage, value: stage }]);
  };

  const receive = (kind: Decision['kind'], input: DecisionInput) => {
    const record: DecisionRecord = {
      kind,
      by: typeof input?.by === 'string' ? input.by : '',
      name: typeof input?.name === 'string' ? input.name : undefined,
      via: typeof input?.via === 'string' ? input.via : 'unknown',
      comment: typeof input?.comment === 'string' ? input.comment : undefined,
      round: status.round,
      at: new Date().toISOString(),
      outcome: 'accepted',
    };
    if (!record.by) record.outcome = 'invalid';
    else if (spec.approval.policy === 'auto' || !['generating', 'awaiting_approval'].includes(status.stage)) record.outcome = 'not awaiting a decision';
    else if (spec.approval.approvers.length > 0 && !spec.approval.approvers.includes(record.by)) record.outcome = 'not an allowed approver';
    // A click on an older round's message must not approve a draft nobody has seen.
    else if (typeof input?.round === 'number' && input.round !== status.round) record.outcome = 'stale round';
    else if (decision) record.outcome = 'already decided';
    status.decisions.push(record);
    if (record.outcome === 'accepted') decision = { kind, record };
    else log.warn('decision ignored', { kind, by: record.by, outcome: record.outcome });
  };

  setHandler(statusQuery, () => status);
  setHandler(approveSignal, (input) => receive('approve', input));
  setHandler(rejectSignal, (input) => receive('reject', input));

  let draft: Draft | undefined;
  let approved: DecisionRecord | undefined;
  try {
    for (; status.round <= maxRounds && !approved; status.round++) {
      setStage('generating');
      draft = await generateDraft({ spec, round: status.round, feedback: status.feedback });
      status.draftCid = draft.cid;
      upsertSearchAttributes([{ key: AtelierContentCid, value: draft.cid }]);

      if (spec.approval.policy === 'auto') {
        approved = { kind: 'approve', by: 'policy:auto', via: 'policy', round: status.round, at: new Date().toISOString(), outcome: 'accepted' };
        status.decisions.push(approved);
        break;
      }
      setStage('awaiting_approval');
      const notice = { workflowId: status.workflowId, collectionId: spec.collectionId, assetKey: spec.assetKey, name: spec.name, round: status.round, draftCid: draft.cid, inputs: draft.inputs, feedback: status.feedback, approvers: spec.approval.approvers };
      // The round's chat message (if any) goes along with later notices: no need to search for it.
      const message = await announceApproval({ ...notice, event: 'requested' });
      const announced = { ...notice, message };
      const outcome = await awaitDecision(spec.approval.remindAfter, spec.approval.expireAfter, () => announceApproval({ ...announced, event: 'reminder' }));
      if (outcome === 'expired') {
        setStage('expired');
        await announceApproval({ ...announced, event: 'expired' });
        return result(status, [], null);
      }
      const taken = decision!;
      decision = undefined;
      const { kind, by, name, via, at, comment } = taken.record;
      await announceApproval({ ...announced, event: 'decided', decision: { kind, by, name, via, at, comment } });
      if (taken.kind === 'approve') {
        approved = taken.record;
        break;
      }
      status.feedback.push(taken.record.comment ?? '');
    }
    if (!approved || !draft) {
      status.round = maxRounds;
      setStage('rejected');
      return result(status, [], null);
    }
    status.approver = approved.by;
    upsertSearchAttributes([{ key: AtelierApprover, value: approved.by }]);

    setStage('formatting');
    const formatted: FormattedAsset = await formatAsset({
      spec,
      draft,
      approval: { by: approved.by, via: approved.via, at: approved.at, round: status.round },
      workflowId: status.workflowId,
    });
    status.metadataCid = formatted.metadata.cid;
    status.imageCid = formatted.renditions.find((r) => r.name === 'original')?.cid ?? null;
    upsertSearchAttributes([{ key: AtelierContentCid, value: formatted.metadata.cid }]);

    setStage('pinning');
    await pinAsset({ contents: [...formatted.renditions, formatted.metadata] });

    setStage('minting');
    const mintRequest = {
      collectionId: spec.collectionId,
      assetKey: spec.assetKey,
      recipient: spec.recipient,
      metadataCid: formatted.metadata.cid,
    };
    // Batch mode hands the request to the signer's minter workflow (workflows/minter.ts).
    const mint: MintReceipt =
      spec.mint?.mode === 'batch' && patched('mint-via-minter') ? await mintThroughMinter(mintRequest) : await mintAsset(mintRequest);
    status.tokenId = mint.tokenId;
    status.txHash = mint.txHash;
    upsertSearchAttributes([{ key: AtelierTokenId, value: Number(mint.tokenId) }]);
    setStage('minted');
    return result(status, formatted.renditions, mint);
  } catch (error) {
    status.error = describeFailure(error);
    setStage('failed');
    throw error;
  }

  /** Waits for the round's decision: a reminder after `remindAfter`, expiry after `expireAfter`. */
  async function awaitDecision(remindAfter: string, expireAfter: string, remind: () => Promise<unknown>): Promise<'decided' | 'expired'> {
    if (await condition(() => decision !== undefined, specDurationMs(remindAfter))) return 'decided';
    status.reminders++;
    await remind();
    const remaining = Math.max(1, specDurationMs(expireAfter) - specDurationMs(remindAfter));
    return (await condition(() => decision !== undefined, remaining)) ? 'decided' : 'expired';
  }
}

function result(status: AssetStatus, renditions: AssetResult['renditions'], mint: MintReceipt | null): AssetResult {
  return { ...status, renditions, mint };
}

function describeFailure(error: unknown): string {
  const cause = (error as ActivityFailure)?.cause;
  const message = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
  return error instanceof ApplicationFailure && error.type ? `${error.type}: ${message}` : message;
}

/** Specs are validated at the edge; a bad duration here fails the run instead of its workflow task. */
function specDurationMs(duration: string): number {
  const ms = durationMs(duration);
  if (ms === undefined) throw ApplicationFailure.nonRetryable(`bad duration "${duration}"`, 'InvalidSpec');
  return ms;
}
