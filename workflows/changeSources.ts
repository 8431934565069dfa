// Change sources of dynamic assets (docs/dynamic-sources.md). `scheduledChange`: one run per tick of
// a trait's Schedule, delivering `schedule:<trait>`. `chainWatcher`: one long-lived run per (chain,
// contract) reading the watched tokens' Transfers, resumable from the last block it read and safe
// across reorganisations, delivering `chain:Transfer` changes in chain order.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import type { Activities } from '../activities/index.ts';
import type { ChainCursor, ChainTransfer, ChainWatcherInput, ChainWatcherStatus, PendingChange, WatchTokenInput } from '../common/changeSources.ts';
import { MAX_WATCHED_TOKENS, scheduleChangeOf, scheduledTimeFromWorkflowId, transferChangeOf, watchTokenRefusal } from '../common/changeSources.ts';
import { untilBack } from './activityOptions.ts';
import { chainWatcherStatusQuery, watchTokenSignal } from './messages.ts';

/** A delivery waits for the dynamic workflow to accept the change: seconds, unless its worker is down (then retried). */
const delivery: ActivityOptions = { startToCloseTimeout: '1 minute', retry: untilBack };
/** How long one read waits for a watched token's Transfer before it answers with the cursor moved on. */
const READ_WAIT_MS = 2 * 60_000;
const clamp = (value: unknown, min: number, max: number, fallback: number) =>
  typeof value === 'number' && Number.isInteger(value) ? Math.min(max, Math.max(min, value)) : fallback;
/** A read heartbeats every second: a killed worker's read is taken over within 10 s. */
const reading: ActivityOptions = { startToCloseTimeout: '5 minutes', heartbeatTimeout: '10s', retry: untilBack };
/** Reads per run before continue-as-new: about 6 events a read, so a run's history stays under ~1,500 events. */
const READS_PER_RUN = 200;
/** Change ids kept to drop a Transfer read twice. */
const RECENT_IDS = 1_000;

const { deliverChange } = proxyActivities<Activities>(delivery);
const { readTransfers, admitWatchedTokens } = proxyActivities<Activities>(reading);

const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** One tick of a `schedule` trait: delivers `schedule:<trait>` with an id of the tick's scheduled time. */
export async function scheduledChange(input: { collectionId: string; assetKey: string; trait: string }): Promise<{ changeId: string }> {
  const info = workflowInfo();
  // The Schedule sets the scheduled time as a search attribute, and appends it to the workflow id.
  const at = info.typedSearchAttributes.get(TemporalScheduledStartTime) ?? scheduledTimeFromWorkflowId(info.workflowId) ?? info.startTime;
  const change = scheduleChangeOf(input.trait, at);
  await deliverChange({ collectionId: input.collectionId, assetKey: input.assetKey, change });
  return { changeId: change.id };
}

/**
 * The chain watcher of one contract. Tokens join by the `watchToken` signal (checked, then admitted on
 * chain); each read starts where the last one stopped, after checking that the chain still holds the
 * last block read (else it walks back to the last block both chains share and reads again); each
 * Transfer becomes one change, delivered once (ids of recent deliveries are kept). State is carried over
 * continue-as-new.
 */
export async function chainWatcher(input: ChainWatcherInput): Promise<void> {
  const tokens = new Map((input.tokens ?? []).map((t) => [t.tokenId, t]));
  const joining: WatchTokenInput[] = [...(input.joining ?? [])];
  let cursor: ChainCursor | null = input.cursor ?? null;
  const pending: PendingChange[] = [...(input.pending ?? [])];
  const recent: string[] = [...(input.recent ?? [])];
  const totals = { reads: 0, delivered: 0, skipped: 0, reorgs: 0, ...input.totals };
  let lastReorg: ChainWatcherStatus['lastReorg'] = null;
  const run = input.run ?? 1;
  const readWaitMs = clamp(input.settings?.readWaitMs, 1_000, 3 * 60_000, READ_WAIT_MS);
  const readsPerRun = clamp(input.settings?.readsPerRun, 1, 1_000, READS_PER_RUN);
  let readScope: CancellationScope | null = null;

  setHandler(watchTokenSignal, (raw: unknown) => {
    // Anyone can signal: a bad payload is logged and dropped, never a failed workflow task.
    try {
      const refusal = watchTokenRefusal(raw);
      if (refusal) return void log.warn('watchToken refused', { reason: refusal });
      const token = raw as WatchTokenInput;
      const same = (t: WatchTokenInput | undefined) => t?.collectionId === token.collectionId && t.assetKey === token.assetKey;
      if (same(tokens.get(token.tokenId)) || joining.some((t) => t.tokenId === token.tokenId && same(t))) return;
      if (tokens.size + joining.length >= MAX_WATCHED_TOKENS) return void log.warn('watchToken refused: the watcher is full', { tokenId: token.tokenId });
      joining.push({ tokenId: token.tokenId, collectionId: token.collectionId, assetKey: token.assetKey });
      // A read waiting for blocks does not know the new token: it is cut short, and the next one does.
      readScope?.cancel();
    } catch (error) {
      log.warn('watchToken refused', { reason: String(error) });
    }
  });
  setHandler(chainWatcherStatusQuery, () => ({
    chainId: input.chainId,
    contract: input.contract,
    tokens: [...tokens.values()],
    joining: joining.length,
    cursor,
    pending: [...pending],
    recent: recent.slice(-20),
    totals: { ...totals },
    lastReorg,
    run,
  }));

  const take = (transfers: ChainTransfer[]) => {
    for (const transfer of transfers) {
      const token = tokens.get(transfer.tokenId);
      if (!token) continue;
      const change = transferChangeOf(transfer);
      if (recent.includes(change.id) || pending.some((p) => p.change.id === change.id)) continue;
      pending.push({ collectionId: token.collectionId, assetKey: token.assetKey, change });
    }
  };

  for (let reads = 0; ; ) {
    await deliverPending(pending, recent, totals);
    if (joining.length > 0) {
      const asked = joining.splice(0, 100);
      const admitted = await admitWatchedTokens({ tokens: asked, upTo: cursor ? cursor.next - 1 : null });
      for (const { token, reason } of admitted.refused) log.warn('watchToken refused by the chain', { tokenId: token.tokenId, reason });
      for (const token of admitted.admitted) tokens.set(token.tokenId, token);
      cursor ??= admitted.start;
      take(admitted.transfers);
      continue;
    }
    if (tokens.size === 0 || cursor === null) {
      await condition(() => joining.length > 0);
      continue;
    }
    if (reads >= readsPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof chainWatcher>({
        chainId: input.chainId,
        contract: input.contract,
        tokens: [...tokens.values()],
        joining,
        cursor,
        pending,
        recent,
        totals,
        run: run + 1,
        ...(input.settings ? { settings: input.settings } : {}),
      });
    }
    readScope = new CancellationScope();
    try {
      const from = cursor;
      const read = await readScope.run(() => readTransfers({ tokenIds: [...tokens.keys()], cursor: from, waitMs: readWaitMs }));
      reads++;
      totals.reads++;
      if (read.reorg) {
        totals.reorgs++;
        lastReorg = read.reorg;
      }
      cursor = read.cursor;
      take(read.transfers);
    } catch (error) {
      // Cut short for a new token: the same range is read again with it.
      if (!isCancellation(error)) throw error;
    } finally {
      readScope = null;
    }
  }
}

/** Delivers the waiting changes in chain order; one the asset refuses (or no asset workflow) is logged and skipped. */
async function deliverPending(pending: PendingChange[], recent: string[], totals: { delivered: number; skipped: number }): Promise<void> {
  while (pending.length > 0) {
    const next = pending[0]!;
    try {
      await deliverChange(next);
      totals.delivered++;
    } catch (error) {
      if (!(error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.nonRetryable)) throw error;
      totals.skipped++;
      log.warn('a Transfer change was not taken', { changeId: next.change.id, reason: error.cause.message });
    }
    pending.shift();
    recent.push(next.change.id);
    if (recent.length > RECENT_IDS) recent.splice(0, recent.length - RECENT_IDS);
  }
}
