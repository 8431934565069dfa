// One asset's life: generate -> human approval -> format -> pin -> mint.
// It decides; activities act. Only content references (CIDs) pass through history.
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { AssetResult, AssetSpec, AssetStatus, Draft, DynamicAssetInput, FormattedAsset, MintReceipt, ReviseInput, Stage } from '../common/asset.ts';
import { cidV1Pattern, durationMs, tokenIdPattern } from '../common/asset.ts';
import type { ApprovalRule, ApprovalTrust, DecisionInput, DecisionKind, DecisionRecord } from '../common/decision.ts';
import { checkDecision } from '../common/decision.ts';
import { checkSpec } from '../common/specSchema.ts';
import { AtelierApprover, AtelierContentCid, AtelierPerceptualHash, AtelierStage, AtelierTokenId } from '../common/searchAttributes.ts';
import type { AssetEvent, AssetEventName } from '../common/events.ts';
import { assetEventId } from '../common/events.ts';
import type { Activities } from '../activities/index.ts';
import type { ApprovalNotice } from '../activities/approval.ts';
import { chainWork, configLookup, imageWork, notices, pinning, webhookDelivery } from './activityOptions.ts';
import {
  approveSignal,
  approveUpdate,
  cancelUpdate,
  collectionAssetSignal,
  mintTurnSignal,
  rejectSignal,
  rejectUpdate,
  reviseUpdate,
  statusQuery,
} from './messages.ts';
import type { CollectionAssetEvent } from '../common/collection.ts';
import { dynamicWorkflowIdOf } from '../common/dynamic.ts';
import type { CancelInput } from './messages.ts';
import { mintThroughMinter } from './minter.ts';
import { describeFailure } from './failures.ts';
import { countStage, recordApprovalWait } from './metrics.ts';

const { generateDraft, formatAsset, checkDraft } = proxyActivities<Activities>(imageWork);
const { pinAsset } = proxyActivities<Activities>(pinning);
const { mintAsset, confirmMint, updateTokenContent } = proxyActivities<Activities>(chainWork);
const { announceApproval } = proxyActivities<Activities>(notices);
const { approvalTrust, subscribedEvents } = proxyActivities<Activities>(configLookup);
const { publishEvent } = proxyActivities<Activities>(webhookDelivery);

/** New artwork one run takes at most (each is a round). */
const MAX_REVISIONS = 20;

export interface LifecycleOptions {
  /** Run ids of this asset's earlier runs (rejected, expired, cancelled, failed), oldest first. */
  earlierRuns?: string[];
  /** Started by a collection: the run reports to it, and mints when the collection gives it its turn. */
  collection?: {
    workflowId: string;
    index: number;
    /** A collection that reveals later (docs/reveal.md): the token mints with this metadata, not its own. */
    placeholderMetadataCid?: string;
  };
  /**
   * A dynamic asset's refresh (workflows/dynamicAsset.ts): the run makes a new version of a minted
   * token and points the token at it (`updateContent`) instead of minting.
   */
  refresh?: RefreshOptions;
}

export interface RefreshOptions {
  tokenId: string;
  version: number;
  /** Earlier versions' metadata CIDs, newest first. */
  previous: string[];
  /** The change that made this version: its name. */
  cause: string;
}

type NoticeEvent = Omit<ApprovalNotice, 'message'>;

export async function assetLifecycle(input: AssetSpec, options: LifecycleOptions = {}): Promise<AssetResult> {
  // A run started by hand (`temporal workflow start`) gets the same check as one from the CLI.
  const checked = checkSpec(input);
  if (!checked.ok) throw ApplicationFailure.nonRetryable(`invalid asset spec: ${checked.problems.join('; ')}`, 'InvalidSpec');
  // A revision (new artwork from the repository) replaces the artwork and the descriptive fields.
  let spec = checked.spec;
  const rule: ApprovalRule | null = spec.approval.policy === 'manual' ? spec.approval : null;
  const status: AssetStatus = {
    workflowId: workflowInfo().workflowId,
    recipient: spec.recipient,
    stage: 'generating',
    round: 1,
    draftCid: null,
    deadlines: null,
    metadataCid: null,
    imageCid: null,
    tokenId: null,
    txHash: null,
    approver: null,
    approvers: rule ? rule.approvers : null,
    reminders: 0,
    decisions: [],
    feedback: [],
    noticeProblem: null,
    earlierRuns: validRunIds(options?.earlierRuns),
    cancelled: null,
    error: null,
    ...(spec.checks ? { checks: null } : {}),
    ...(spec.generator.kind === 'artwork' ? { revisions: [] } : {}),
  };
  const maxRounds = spec.approval.policy === 'manual' ? spec.approval.maxRounds : 1;
  let trust: ApprovalTrust = {};
  /** The decision of the current round, once taken. */
  let decision: DecisionRecord | undefined;
  /** New artwork waiting to become the next round. */
  let revision: ReviseInput | undefined;
  /** Event types someone subscribes to for this collection (outgoing webhooks). */
  let subscribed: readonly string[] = [];
  let eventLane: Promise<void> = Promise.resolve();
  const emit = (type: AssetEventName, data: Record<string, unknown>) => {
    if (!subscribed.includes(type)) return;
    const { workflowId, runId } = workflowInfo();
    const event: AssetEvent = {
      type,
      id: assetEventId(workflowId, runId, type, status.round),
      occurredAt: new Date().toISOString(),
      collectionId: spec.collectionId,
      assetKey: spec.assetKey,
      workflowId,
      runId,
      round: status.round,
      data,
    };
    eventLane = eventLane.then(async () => {
      try {
        await CancellationScope.nonCancellable(() => publishEvent.executeWithOptions({ ...webhookDelivery, summary: `${type} webhooks` }, [event]));
      } catch (error) {
        status.noticeProblem = `${type} webhook not delivered: ${describeFailure(error)}`;
        log.warn('webhook not delivered', { type, error: status.noticeProblem });
        showDetails();
      }
    });
  };
  const work = new CancellationScope();
  const collection = collectionOf(options?.collection);
  const refresh = refreshOf(options?.refresh);
  if (options?.refresh !== undefined && !refresh) throw ApplicationFailure.nonRetryable('invalid refresh options', 'InvalidRefresh');
  if (refresh) status.tokenId = refresh.tokenId;
  let mintTurn = false;
  if (collection) {
    setHandler(mintTurnSignal, (raw: unknown) => {
      if ((raw as { index?: unknown } | null)?.index === collection.index) mintTurn = true;
      else log.warn('mint turn for another asset ignored');
    });
  }
  /** Tells the collection (if any) where this run is; a collection that has ended no longer listens. */
  const report = async (event: Omit<CollectionAssetEvent, 'index'>) => {
    if (!collection) return;
    try {
      await CancellationScope.nonCancellable(() =>
        getExternalWorkflowHandle(collection.workflowId).signal(collectionAssetSignal, { index: collection.index, ...event }),
      );
    } catch (error) {
      log.warn('collection not told', { event: event.event, error: (error as Error).message });
    }
  };

  const setStage = (stage: Stage) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: AtelierStage, value: stage }]);
    countStage(stage);
    showDetails();
  };
  const showDetails = () => setCurrentDetails(currentDetails(spec, status));

  // Notices run one after another beside the flow: they never hold a timer, a decision or a stage.
  let noticeLane: Promise<void> = Promise.resolve();
  let roundMessage: ApprovalNotice['message'];
  /** The round's request while it is open, to close it if the run is cancelled. */
  let openRequest: Omit<NoticeEvent, 'event'> | undefined;
  const notify = (notice: NoticeEvent) => {
    noticeLane = noticeLane.then(() => deliver(notice));
  };
  const deliver = async (notice: NoticeEvent) => {
    try {
      const message = await CancellationScope.nonCancellable(() =>
        announceApproval.executeWithOptions({ ...notices, summary: `${notice.event} notice, round ${notice.round}` }, [{ ...notice, message: roundMessage }]),
      );
      if (notice.event === 'requested') roundMessage = message;
      status.noticeProblem = null;
    } catch (error) {
      status.noticeProblem = `${notice.event} notice for round ${notice.round} not delivered: ${describeFailure(error)}`;
      log.warn('approval notice not delivered', { event: notice.event, round: notice.round, error: status.noticeProblem });
    }
    showDetails();
  };

  const decisionContext = () => ({
    workflowId: status.workflowId,
    stage: status.stage,
    round: status.round,
    draftCid: status.draftCid,
    decided: decision,
    rule,
    trust,
  });
  /** Takes a decision the rule accepted: the round's decision, kept in status. */
  const record = (kind: DecisionKind, { by, name, via, comment, round, draftCid, proof }: DecisionInput): DecisionRecord => {
    decision = { kind, by, name, via: via ?? 'unknown', comment, round, draftCid, at: new Date().toISOString(), proof };
    status.decisions.push(decision);
    return decision;
  };
  const refusal = (kind: DecisionKind) => (raw: unknown) => {
    const result = checkDecision(decisionContext(), kind, raw);
    if (!result.ok) throw new Error(result.reason);
  };
  // The validator has just checked the proof (on replay, history says it was accepted): the
  // handler checks the rest again against the state it runs in, not the signature.
  const fromUpdate = (kind: DecisionKind) => (raw: unknown) => {
    const result = checkDecision(decisionContext(), kind, raw, { proofChecked: true });
    if (!result.ok) throw ApplicationFailure.nonRetryable(result.reason, 'DecisionRefused');
    return record(kind, result.decision);
  };
  const fromSignal = (kind: DecisionKind) => (raw: unknown) => {
    const result = checkDecision(decisionContext(), kind, raw);
    if (result.ok) record(kind, result.decision);
    else log.warn('decision signal refused', { kind, reason: result.reason });
  };

  setHandler(statusQuery, () => status);
  setHandler(approveUpdate, fromUpdate('approve'), { validator: refusal('approve') });
  setHandler(rejectUpdate, fromUpdate('reject'), { validator: refusal('reject') });
  setHandler(approveSignal, fromSignal('approve'));
  setHandler(rejectSignal, fromSignal('reject'));
  setHandler(
    reviseUpdate,
    (raw: ReviseInput) => {
      const next = checkSpec(raw.spec);
      if (!next.ok || next.spec.generator.kind !== 'artwork') throw ApplicationFailure.nonRetryable('not an artwork spec', 'InvalidRevision');
      const current = (revision?.spec ?? spec).generator;
      if (current.kind === 'artwork' && current.sha256 === next.spec.generator.sha256)
        return { round: revision ? status.round + 1 : status.round, changed: false };
      revision = { spec: next.spec, by: raw.by };
      status.revisions?.push({
        round: status.round + 1,
        commit: next.spec.generator.commit,
        sha256: next.spec.generator.sha256,
        by: raw.by,
        at: new Date().toISOString(),
      });
      return { round: status.round + 1, changed: true };
    },
    { validator: (raw: unknown) => reviseRefusal(spec, status, decision, raw) },
  );
  setHandler(
    cancelUpdate,
    (raw: CancelInput) => {
      status.cancelled = { by: raw.by, reason: raw.reason, at: new Date().toISOString() };
      work.cancel();
      return status;
    },
    { validator: (raw: unknown) => cancelRefusal(status, raw) },
  );

  try {
    const ended = await work.run(() => lifecycle());
    if (collection) await report({ event: 'ended', stage: ended.stage });
    return ended;
  } catch (error) {
    if (!isCancellation(error)) {
      status.error = describeFailure(error);
      setStage('failed');
      emit('asset.failed', { error: status.error });
      await noticeLane;
      await eventLane;
      if (collection) await report({ event: 'ended', stage: 'failed', error: status.error });
      throw error;
    }
    // Cancelled (the `cancel` Update, or a cancel request to the run): close what is open, then end.
    status.cancelled ??= { by: 'temporal', reason: 'cancel requested', at: new Date().toISOString() };
    setStage('cancelled');
    if (openRequest) notify({ ...openRequest, event: 'cancelled', cancelled: status.cancelled });
    await CancellationScope.nonCancellable(() => noticeLane);
    if (collection) await report({ event: 'ended', stage: 'cancelled' });
    return result(status, [], null);
  }

  async function lifecycle(): Promise<AssetResult> {
    if (patched('asset-events'))
      subscribed = await subscribedEvents.executeWithOptions({ ...configLookup, summary: "Who listens to this asset's events (worker configuration)" }, [
        { collectionId: spec.collectionId },
      ]);
    if (rule)
      trust = await approvalTrust.executeWithOptions({ ...configLookup, summary: 'Who may decide (worker configuration)' }, [
        { collectionId: spec.collectionId },
      ]);
    let draft: Draft | undefined;
    let approved: DecisionRecord | undefined;
    let rejections = 0;
    for (; rejections < maxRounds && !approved; status.round++) {
      decision = undefined;
      status.deadlines = null;
      setStage('generating');
      draft = await generateDraft.executeWithOptions({ ...imageWork, summary: `Generate the round ${status.round} draft (${spec.generator.kind})` }, [
        { spec, round: status.round, feedback: status.feedback },
      ]);
      status.draftCid = draft.cid;
      upsertSearchAttributes([{ key: AtelierContentCid, value: draft.cid }]);
      // New artwork arrived while this draft was made: the next round shows it instead.
      if (takeRevision()) continue;

      let taken = spec.checks ? await checkRound(draft) : undefined;
      if (!taken && spec.approval.policy === 'auto') {
        approved = { kind: 'approve', by: 'policy:auto', via: 'policy', round: status.round, draftCid: draft.cid, at: new Date().toISOString() };
        status.decisions.push(approved);
        emit('asset.approved', { by: approved.by, via: approved.via, draftCid: draft.cid });
        break;
      }
      if (!taken) {
        const answer = await putUp(draft, spec.approval.policy === 'manual' ? spec.approval : { remindAfter: '1d', expireAfter: '7d' });
        if (answer === 'revised') {
          takeRevision();
          continue;
        }
        if (!answer) return endExpired();
        taken = answer;
      }
      if (taken.kind === 'approve') {
        approved = taken;
        break;
      }
      status.feedback.push(taken.comment ?? '');
      rejections++;
      // Only the designer changes artwork: a rejected one waits for their next push.
      if (spec.generator.kind === 'artwork' && rejections < maxRounds && !revision) {
        if (!(await awaitRevision(spec.approval.policy === 'manual' ? spec.approval.expireAfter : '7d'))) return endExpired();
      }
      takeRevision();
    }
    if (!approved || !draft) {
      status.round--;
      setStage('rejected');
      await noticeLane;
      await eventLane;
      return result(status, [], null);
    }
    status.approver = approved.by;
    upsertSearchAttributes([{ key: AtelierApprover, value: approved.by }]);

    setStage('formatting');
    const formatted: FormattedAsset = await formatAsset.executeWithOptions(
      { ...imageWork, summary: `Renditions and metadata of the round ${status.round} draft` },
      [
        {
          spec,
          draft,
          approval: approved,
          workflowId: status.workflowId,
          ...(refresh ? { version: { number: refresh.version, previous: refresh.previous } } : {}),
        },
      ],
    );
    if (formatted.arweave) status.arweave = { metadataTxId: formatted.arweave.metadata.txId, metadataUrl: formatted.arweave.metadata.url };
    status.metadataCid = formatted.metadata.cid;
    status.imageCid = formatted.renditions.find((r) => r.name === 'original')?.cid ?? null;
    upsertSearchAttributes([{ key: AtelierContentCid, value: formatted.metadata.cid }]);

    setStage('pinning');
    await pinAsset.executeWithOptions({ ...pinning, summary: `Pin ${formatted.renditions.length} renditions and the metadata` }, [
      { contents: [...formatted.renditions, formatted.metadata] },
    ]);

    if (refresh) return updateToken(refresh, draft, formatted);
    if (collection) {
      // The collection publishes its provenance hash once every image is final, then gives the
      // turns in its order, so that token ids follow it.
      setStage('awaiting_mint');
      await report({ event: 'ready' });
      await condition(() => mintTurn);
    }
    setStage('minting');
    // Once the mint is under way it finishes: a cancel now would leave a transaction nobody watches.
    // A collection's asset says when the minter has its request: the collection then gives the next
    // batch its turn, which the minter can only queue behind this one.
    const requested = collection ? () => report({ event: 'requested' }) : undefined;
    const mint: MintReceipt = await CancellationScope.nonCancellable(() => mintUntilConfirmed(spec, formatted, requested, collection?.placeholderMetadataCid));
    status.tokenId = mint.tokenId;
    status.txHash = mint.txHash;
    upsertSearchAttributes([{ key: AtelierTokenId, value: Number(mint.tokenId) }]);
    setStage('minted');
    emit('asset.minted', { tokenId: mint.tokenId, txHash: mint.txHash, contract: mint.contract, chainId: mint.chainId, metadataCid: formatted.metadata.cid });
    if (spec.dynamic) await startDynamic(draft, formatted, mint);
    await noticeLane;
    await eventLane;
    return result(status, formatted.renditions, mint);
  }

  /** A refresh: the token now points at this version's metadata (ERC-4906 MetadataUpdate), and the channel hears of it. */
  async function updateToken(refresh: RefreshOptions, draft: Draft, formatted: FormattedAsset): Promise<AssetResult> {
    setStage('updating');
    const update = await updateTokenContent.executeWithOptions({ ...chainWork, summary: `Point token ${refresh.tokenId} at version ${refresh.version}` }, [
      { tokenId: refresh.tokenId, metadataCid: formatted.metadata.cid },
    ]);
    status.txHash = update.txHash;
    setStage('updated');
    const tokenUpdate = {
      version: refresh.version,
      tokenId: refresh.tokenId,
      metadataCid: formatted.metadata.cid,
      txHash: update.txHash,
      cause: refresh.cause,
    };
    notify({ ...noticeOf(spec, status, draft), event: 'updated', update: tokenUpdate });
    emit('asset.updated', tokenUpdate);
    await noticeLane;
    await eventLane;
    return result(status, formatted.renditions, null);
  }

  /**
   * A dynamic asset lives on after its mint: its own workflow takes the changes (events, Schedule
   * ticks, transfers), and outlives this run. Started once; a retry finds it running.
   */
  async function startDynamic(draft: Draft, formatted: FormattedAsset, mint: MintReceipt): Promise<void> {
    const input: DynamicAssetInput = {
      spec,
      tokenId: mint.tokenId,
      mintWorkflowId: status.workflowId,
      metadataCid: formatted.metadata.cid,
      imageCid: status.imageCid,
      txHash: mint.txHash,
      drawn: drawnTraitsOf(draft),
    };
    try {
      await startChild('dynamicAsset', {
        workflowId: dynamicWorkflowIdOf(spec.collectionId, spec.assetKey),
        args: [input],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `${spec.collectionId}/${spec.assetKey}: token ${mint.tokenId}, changes and versions`,
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }

  async function endExpired(): Promise<AssetResult> {
    setStage('expired');
    await noticeLane;
    await eventLane;
    return result(status, [], null);
  }

  /** The pending revision becomes the spec of the next round (approval, recipient and mint stay as the run began). */
  function takeRevision(): boolean {
    if (!revision) return false;
    const { mint: _revisedMint, ...revised } = revision.spec;
    spec = { ...revised, approval: spec.approval, recipient: spec.recipient, ...(spec.mint ? { mint: spec.mint } : {}) };
    revision = undefined;
    return true;
  }

  /** A rejected artwork waits for the designer's next push, until the round's expiry. */
  async function awaitRevision(expireAfter: string): Promise<boolean> {
    status.deadlines = null;
    setStage('awaiting_revision');
    return condition(() => revision !== undefined, specDurationMs(expireAfter));
  }

  /** The automated checks of the draft; a failure rejects the round at once, with every reason. */
  async function checkRound(draft: Draft): Promise<DecisionRecord | undefined> {
    const outcome = await checkDraft.executeWithOptions({ ...imageWork, summary: `Automated checks of the round ${status.round} draft` }, [
      { checks: spec.checks!, collectionId: spec.collectionId, assetKey: spec.assetKey, workflowId: status.workflowId, draft },
    ]);
    const { passed, failed, skipped } = outcome;
    status.checks = { round: status.round, passed, failed, skipped };
    if (failed.length === 0) {
      // Later drafts of the collection are compared with this one.
      upsertSearchAttributes([{ key: AtelierPerceptualHash, value: outcome.perceptualHash }]);
      return undefined;
    }
    const reasons = failed.map((f) => `${f.check}: ${f.detail}`).join('; ');
    const rejection: DecisionRecord = {
      kind: 'reject',
      by: 'checks',
      via: 'checks',
      comment: `automated checks failed: ${reasons}`,
      round: status.round,
      draftCid: draft.cid,
      at: new Date().toISOString(),
    };
    status.decisions.push(rejection);
    emit('asset.checks_failed', { draftCid: draft.cid, failed, passed });
    notify({ ...noticeOf(spec, status, draft), event: 'checks_failed' });
    showDetails();
    return rejection;
  }

  /**
   * Puts the draft up for a decision: the request notice goes out, and the reminder and the expiry
   * fall due at fixed times from now, whatever the notices do. Undefined when the round expired.
   */
  async function putUp(
    draft: Draft,
    { remindAfter, expireAfter }: { remindAfter: string; expireAfter: string },
  ): Promise<DecisionRecord | 'revised' | undefined> {
    const putUpAt = Date.now();
    const remindAt = putUpAt + specDurationMs(remindAfter);
    const expireAt = putUpAt + specDurationMs(expireAfter);
    status.deadlines = { remindAt: new Date(remindAt).toISOString(), expireAt: new Date(expireAt).toISOString() };
    roundMessage = undefined;
    setStage('awaiting_approval');
    const notice = noticeOf(spec, status, draft);
    openRequest = notice;
    notify({ ...notice, event: 'requested' });
    emit('asset.awaiting_approval', { draftCid: draft.cid, checks: status.checks?.passed.map((c) => c.check) ?? null });
    // Only a collection's asset waits for this (an await changes the order of the round's commands).
    if (collection) await report({ event: 'awaiting_approval' });
    const answered = () => decision !== undefined || revision !== undefined;
    if (!(await condition(answered, remindAt - Date.now()))) {
      status.reminders++;
      notify({ ...notice, event: 'reminder' });
      showDetails();
      if (!(await condition(answered, Math.max(1, expireAt - Date.now())))) {
        status.deadlines = null;
        openRequest = undefined;
        notify({ ...notice, event: 'expired' });
        return undefined;
      }
    }
    status.deadlines = null;
    openRequest = undefined;
    if (decision === undefined) {
      // The designer pushed new artwork: this request closes, the next round asks again.
      const superseded = status.revisions?.at(-1);
      notify({
        ...notice,
        event: 'cancelled',
        cancelled: { by: revision!.by, reason: `superseded by new artwork (round ${status.round + 1})`, at: superseded?.at ?? new Date().toISOString() },
      });
      return 'revised';
    }
    const taken = decision;
    recordApprovalWait(Date.now() - putUpAt, taken.kind);
    const { kind, by, name, via, at, comment } = taken;
    notify({ ...notice, event: 'decided', decision: { kind, by, name, via, at, comment } });
    emit(kind === 'approve' ? 'asset.approved' : 'asset.rejected', { by, name, via, comment: comment ?? null, draftCid: draft.cid });
    return taken;
  }
}

/**
 * Mints, then believes only the chain: the token is read back at the configured depth, and minted
 * again if the chain dropped it (the contract keeps it to one token per asset). Runs begun before
 * this check took the mint's own answer.
 */
async function mintUntilConfirmed(
  spec: AssetSpec,
  formatted: FormattedAsset,
  requested?: () => Promise<void>,
  placeholderMetadataCid?: string,
): Promise<MintReceipt> {
  for (let attempt = 1; ; attempt++) {
    const mint = await mintStage(spec, formatted, requested, placeholderMetadataCid);
    if (!patched('confirm-mint-on-chain')) return mint;
    const confirmation = await confirmMint.executeWithOptions(
      { ...chainWork, summary: `Read ${spec.collectionId}/${spec.assetKey}'s token back from the chain` },
      [{ collectionId: spec.collectionId, assetKey: spec.assetKey }],
    );
    if (confirmation.status === 'confirmed') return confirmation.mint;
    log.warn('minted token not on chain; minting again', { attempt, reason: confirmation.reason });
  }
}

/** Batch mode hands the request to the signer's minter workflow (workflows/minter.ts). */
async function mintStage(spec: AssetSpec, formatted: FormattedAsset, requested?: () => Promise<void>, placeholderMetadataCid?: string): Promise<MintReceipt> {
  // A collection that reveals later mints its placeholder; the final metadata is made and pinned all the same.
  const metadataCid = placeholderMetadataCid ?? formatted.metadata.cid;
  const request = { collectionId: spec.collectionId, assetKey: spec.assetKey, recipient: spec.recipient, metadataCid };
  return spec.mint?.mode === 'batch' && patched('mint-via-minter')
    ? mintThroughMinter(request, requested)
    : mintAsset.executeWithOptions({ ...chainWork, summary: `Mint ${spec.collectionId}/${spec.assetKey} to ${spec.recipient}` }, [request]);
}

function noticeOf(spec: AssetSpec, status: AssetStatus, draft: Draft): Omit<NoticeEvent, 'event'> {
  return {
    workflowId: status.workflowId,
    collectionId: spec.collectionId,
    assetKey: spec.assetKey,
    name: spec.name,
    round: status.round,
    draftCid: draft.cid,
    inputs: draft.inputs,
    feedback: status.feedback,
    approvers: status.approvers ?? [],
    ...(status.checks?.round === status.round ? { checks: { passed: status.checks.passed, failed: status.checks.failed } } : {}),
  };
}

/** What the Web UI shows under "Current details" (Markdown). */
function currentDetails(spec: AssetSpec, status: AssetStatus): string {
  const lines = [`**${spec.name}** · ${spec.collectionId}/${spec.assetKey}`, `Stage: **${status.stage}** · round ${status.round}`];
  if (status.draftCid) lines.push(`Draft: \`${status.draftCid}\``);
  if (status.stage === 'awaiting_approval') {
    lines.push(`Who may decide: ${status.approvers?.length ? status.approvers.join(', ') : 'any approver whose decision checks out'}`);
    if (status.deadlines) lines.push(`Reminder at ${status.deadlines.remindAt}; expires at ${status.deadlines.expireAt}`);
  }
  if (status.checks) {
    const { round, passed, failed } = status.checks;
    lines.push(
      failed.length
        ? `Checks of round ${round} failed: ${failed.map((c) => `${c.check} (${c.detail})`).join('; ')}`
        : `Checks of round ${round} passed: ${passed.map((c) => c.check).join(', ')}`,
    );
  }
  if (status.stage === 'awaiting_revision') lines.push('Waiting for new artwork: the next push to the repository starts the next round');
  if (status.noticeProblem) lines.push(`⚠ ${status.noticeProblem}`);
  if (status.tokenId) lines.push(`Token ${status.tokenId} · tx \`${status.txHash}\``);
  if (status.cancelled) lines.push(`Cancelled by ${status.cancelled.by}: ${status.cancelled.reason}`);
  if (status.error) lines.push(`Error: ${status.error}`);
  return lines.join('\n\n');
}

/** Why new artwork is refused, thrown from the Update's validator (nothing written to history). */
function reviseRefusal(spec: AssetSpec, status: AssetStatus, decision: DecisionRecord | undefined, raw: unknown): void {
  const input = raw as Partial<ReviseInput> | null;
  if (typeof input !== 'object' || input === null) throw new Error('a revision must be an object { spec, by }');
  if (typeof input.by !== 'string' || !input.by.trim() || input.by.length > 200) throw new Error('"by" must name who revises (at most 200 characters)');
  const next = checkSpec(input.spec);
  if (!next.ok) throw new Error(`the revised spec is invalid: ${next.problems.join('; ')}`);
  const [was, now] = [spec.generator, next.spec.generator];
  if (was.kind !== 'artwork' || now.kind !== 'artwork') throw new Error(`${status.workflowId} is not an artwork asset: only artwork is revised`);
  if (next.spec.collectionId !== spec.collectionId || next.spec.assetKey !== spec.assetKey)
    throw new Error('a revision is for the same collection and asset key');
  if (now.repository !== was.repository) throw new Error(`a revision comes from the run's repository (${was.repository})`);
  if (!['generating', 'awaiting_approval', 'awaiting_revision'].includes(status.stage)) {
    throw new Error(`${status.workflowId} is ${status.stage.replace('_', ' ')}: new artwork is taken only before approval`);
  }
  if (status.stage === 'awaiting_approval' && decision) throw new Error(`round ${status.round} of ${status.workflowId} was just decided (${decision.kind})`);
  if ((status.revisions?.length ?? 0) >= MAX_REVISIONS) throw new Error(`${status.workflowId} has had ${MAX_REVISIONS} revisions: cancel it and start again`);
}

/** Why a cancel is refused, thrown from the Update's validator (nothing written to history). */
function cancelRefusal(status: AssetStatus, raw: unknown): void {
  const input = raw as Partial<CancelInput> | null;
  if (typeof input !== 'object' || input === null) throw new Error('a cancel must be an object { by, reason }');
  if (typeof input.by !== 'string' || !input.by.trim() || input.by.length > 200) throw new Error('"by" must name who cancels (at most 200 characters)');
  if (typeof input.reason !== 'string' || !input.reason.trim() || input.reason.length > 2000) throw new Error('"reason" must say why (1-2000 characters)');
  if (status.cancelled) throw new Error(`${status.workflowId} is already cancelled`);
  if (['minting', 'minted'].includes(status.stage)) throw new Error(`${status.workflowId} is ${status.stage}: a mint under way is not cancelled`);
  if (['rejected', 'expired', 'failed'].includes(status.stage)) throw new Error(`${status.workflowId} has already ended (${status.stage})`);
}

/** The options a layers draft was drawn with (every layer), or {} for other generators. */
function drawnTraitsOf(draft: Draft): Record<string, string> {
  const traits = (draft.inputs as { traits?: unknown }).traits;
  if (typeof traits !== 'object' || traits === null) return {};
  return Object.fromEntries(Object.entries(traits).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function refreshOf(value: unknown): RefreshOptions | undefined {
  const r = value as RefreshOptions | undefined;
  if (typeof r !== 'object' || r === null) return undefined;
  if (typeof r.tokenId !== 'string' || !tokenIdPattern.test(r.tokenId)) return undefined;
  if (!Number.isInteger(r.version) || r.version < 2 || typeof r.cause !== 'string' || !Array.isArray(r.previous)) return undefined;
  return { tokenId: r.tokenId, version: r.version, previous: r.previous.filter((c) => typeof c === 'string').slice(0, 100), cause: r.cause.slice(0, 200) };
}

function collectionOf(value: unknown): LifecycleOptions['collection'] | undefined {
  const c = value as LifecycleOptions['collection'] | undefined;
  if (typeof c !== 'object' || c === null) return undefined;
  if (typeof c.workflowId !== 'string' || !/^collection:[a-z0-9][a-z0-9-]{0,62}$/.test(c.workflowId)) return undefined;
  if (!Number.isInteger(c.index) || c.index < 0 || c.index >= 100_000) return undefined;
  if (c.placeholderMetadataCid === undefined) return { workflowId: c.workflowId, index: c.index };
  // Only the collection sets it; a value that is not a CIDv1 makes the option invalid, never the final metadata's mint.
  if (typeof c.placeholderMetadataCid !== 'string' || !cidV1Pattern.test(c.placeholderMetadataCid)) return undefined;
  return { workflowId: c.workflowId, index: c.index, placeholderMetadataCid: c.placeholderMetadataCid };
}

function validRunIds(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && /^[\w-]{1,64}$/.test(v)).slice(-100) : [];
}

function result(status: AssetStatus, renditions: AssetResult['renditions'], mint: MintReceipt | null): AssetResult {
  return { ...status, renditions, mint };
}

/** Specs are checked on entry; a bad duration here fails the run instead of its workflow task. */
function specDurationMs(duration: string): number {
  const ms = durationMs(duration);
  if (ms === undefined) throw ApplicationFailure.nonRetryable(`bad duration "${duration}"`, 'InvalidSpec');
  return ms;
}
