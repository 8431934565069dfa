// The minter: one long-lived workflow per (chain, contract, signer). It gathers mint requests from
// asset workflows into `mintBatch` transactions, one at a time (one nonce sequence for the signer),
// and answers every requester with its token or the reason it has none. See docs/minting.md.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { MintReceipt } from '../common/asset.ts';
import type { MintAnswer, MintOutcome, MintRequest, MinterInput, MinterStatus, Queued } from '../common/mint.ts';
import type { Activities } from '../activities/index.ts';
import type { BatchOutcome, PreparedBatch, SentTx } from '../activities/mintBatch.ts';
import { mintRequestSignal, mintResultSignal, minterStatusQuery } from './messages.ts';

/** A minter that has had no request for this long completes; the next request starts a new run. */
const IDLE_EXIT = '1 hour';
/** Rounds of prepare -> send -> confirm for one batch before its requests fail. */
const MAX_ROUNDS = 5;
/** A request a revert named waits this long (times its attempts) before it goes in a batch again. */
const RETRY_NAMED_AFTER_MS = 10_000;
/** An asset workflow with no answer after this long asks again (a duplicate request is harmless). */
const ASK_AGAIN_AFTER = '15 minutes';

const { prepareMintBatch, sendMintBatch } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});
// Heartbeats every second while it waits, so a crashed worker's wait is taken over within 10 s.
const { awaitMintBatch } = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});
// Quick and idempotent (a duplicate request only adds its reply address): a slow attempt is retried.
const { requestMint } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

export async function minter(input: MinterInput): Promise<{ batches: number; answered: number }> {
  const { settings } = input;
  const queue: Queued[] = [...(input.queued ?? [])];
  let inFlight: (MinterStatus['inFlight'] & { items: Queued[] }) | null = null;
  let batches = 0;
  let answered = 0;

  setHandler(mintRequestSignal, ({ replyTo, ...request }) => {
    const known = queue.find((q) => q.request.assetId === request.assetId) ?? inFlight?.items.find((q) => q.request.assetId === request.assetId);
    if (known) {
      if (!known.replyTo.includes(replyTo)) known.replyTo.push(replyTo);
      return;
    }
    queue.push({ request, replyTo: [replyTo], receivedAt: Date.now() });
  });
  setHandler(minterStatusQuery, () => ({
    queued: queue.length,
    inFlight: inFlight && { recipient: inFlight.recipient, assetIds: inFlight.assetIds, txHashes: inFlight.txHashes },
    batches: (input.batchesBefore ?? 0) + batches,
    answered,
  }));

  for (;;) {
    const items = await nextBatch();
    if (!items) break;
    inFlight = { recipient: items[0]!.request.recipient, assetIds: items.map((q) => q.request.assetId), txHashes: [], items };
    await mintBatch(items);
    inFlight = null;
    batches++;
    if (batches >= settings.batchesPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      // Requests that arrived meanwhile go along; one arriving during the hand-over makes the server
      // refuse it, and this runs again with that request in the queue.
      return continueAsNew<typeof minter>({ ...input, queued: queue, batchesBefore: (input.batchesBefore ?? 0) + batches });
    }
  }
  await condition(allHandlersFinished);
  return { batches: (input.batchesBefore ?? 0) + batches, answered };

  /**
   * The next batch: as soon as one recipient has `batchSize` requests, or when the oldest request has
   * waited `batchWaitMs` (then its recipient's). Undefined after IDLE_EXIT with nothing to do.
   */
  async function nextBatch(): Promise<Queued[] | undefined> {
    for (;;) {
      const now = Date.now();
      const isEligible = (q: Queued) => q.retryAt === undefined || q.retryAt <= now;
      const eligible = queue.filter(isEligible);
      const recipient = fullRecipient(eligible) ?? eligible.find((q) => dueAt(q) <= now)?.request.recipient;
      if (recipient) {
        const taken = eligible.filter((q) => q.request.recipient === recipient).slice(0, settings.batchSize);
        for (const item of taken) queue.splice(queue.indexOf(item), 1);
        return taken;
      }
      // Only a full group or the clock can start a batch: one timer per wait, not one per request.
      const wakeAt = Math.min(...queue.map(dueAt));
      if (Number.isFinite(wakeAt)) await condition(() => fullRecipient(queue.filter(isEligible)) !== undefined, Math.max(1, wakeAt - now));
      else if (!(await condition(() => queue.length > 0, IDLE_EXIT)) && queue.length === 0) return undefined;
    }
  }

  function dueAt(item: Queued): number {
    return item.retryAt ?? item.receivedAt + settings.batchWaitMs;
  }

  function fullRecipient(items: Queued[]): string | undefined {
    const counts = new Map<string, number>();
    for (const { request } of items) {
      const count = (counts.get(request.recipient) ?? 0) + 1;
      if (count >= settings.batchSize) return request.recipient;
      counts.set(request.recipient, count);
    }
    return undefined;
  }

  /** prepare (chain record, directory) -> send -> wait, replacing when stuck; again after a revert. */
  async function mintBatch(items: Queued[]): Promise<void> {
    let open = items;
    let failedRounds = 0;
    while (open.length > 0) {
      if (failedRounds >= MAX_ROUNDS) {
        await answer(open, () => ({ ok: false, type: 'MintFailed', reason: `no token after ${MAX_ROUNDS} attempts at a batch` }));
        return;
      }
      const prepared: PreparedBatch = await prepareMintBatch({ items: open.map((q) => q.request) });
      const minted = new Map(prepared.minted.map((m) => [m.assetId, m.mint]));
      const rejected = new Map(prepared.rejected.map((r) => [r.assetId, r.reason]));
      await answer(open.filter((q) => minted.has(q.request.assetId)), (id) => ({ ok: true, mint: minted.get(id)! }));
      await answer(open.filter((q) => rejected.has(q.request.assetId)), (id) => ({ ok: false, type: 'InvalidContent', reason: rejected.get(id)! }));
      open = open.filter((q) => !minted.has(q.request.assetId) && !rejected.has(q.request.assetId));
      if (!prepared.batch || open.length === 0) return;

      const outcome = await sendAndConfirm(prepared.batch);
      if (outcome.status === 'mined') {
        const tokens = new Map(outcome.minted.map((m) => [m.assetId, m.mint]));
        await answer(open.filter((q) => tokens.has(q.request.assetId)), (id) => ({ ok: true, mint: tokens.get(id)! }));
        open = open.filter((q) => !tokens.has(q.request.assetId));
      } else if (outcome.status === 'rejected') {
        const named = open.find((q) => q.request.assetId === outcome.assetId);
        if (!named) {
          // Nothing a retry can fix, and it names no asset of the batch (a missing role, say): it concerns them all.
          await answer(open, () => ({ ok: false, type: 'MintReverted', reason: outcome.reason }));
          return;
        }
        // AssetAlreadyMinted: the rest go on now. The named asset waits for a later batch, when the
        // chain's record (read by prepare) shows its token; a pending transaction may still be minting it.
        open = open.filter((q) => q !== named);
        await later(named, outcome.reason);
      } else {
        // Reverted on chain, or the transaction is gone: read the chain again, answer what is minted, send the rest.
        failedRounds++;
        log.warn('batch not minted this round; reading the chain again', { failedRounds, ...outcome });
      }
    }
  }

  /** Back to the queue (it waits for a batch again), or failed after MAX_ROUNDS tries. */
  async function later(item: Queued, reason: string): Promise<void> {
    const attempts = (item.attempts ?? 0) + 1;
    if (attempts >= MAX_ROUNDS) await answer([item], () => ({ ok: false, type: 'MintReverted', reason }));
    else queue.push({ ...item, attempts, retryAt: Date.now() + RETRY_NAMED_AFTER_MS * attempts });
  }

  async function sendAndConfirm(batch: NonNullable<PreparedBatch['batch']>): Promise<BatchOutcome> {
    const first = await sendMintBatch({ ...batch, signer: input.signer });
    if (first.status !== 'sent') return first;
    const sent: SentTx[] = [first.tx];
    inFlight!.txHashes.push(first.tx.hash);
    for (;;) {
      const outcome = await awaitMintBatch({ txHashes: sent.map((tx) => tx.hash), nonce: first.tx.nonce, assetIds: batch.assetIds, waitMs: settings.replaceAfterMs });
      if (outcome.status !== 'pending') return outcome;
      const replacement = await sendMintBatch({ ...batch, signer: input.signer, replaces: sent.at(-1)! });
      if (replacement.status === 'sent') {
        log.info('replaced a transaction that was not mined', { previous: sent.at(-1)!.hash, txHash: replacement.tx.hash });
        sent.push(replacement.tx);
        inFlight!.txHashes.push(replacement.tx.hash);
      }
    }
  }

  async function answer(items: Queued[], make: (assetId: string) => MintOutcome): Promise<void> {
    await Promise.all(
      items.flatMap((item) =>
        item.replyTo.map(async (workflowId) => {
          try {
            await getExternalWorkflowHandle(workflowId).signal(mintResultSignal, { assetId: item.request.assetId, ...make(item.request.assetId) });
          } catch (error) {
            log.warn('could not answer a requester (closed?)', { workflowId, error: (error as Error).message });
          }
        }),
      ),
    );
    answered += items.length;
  }
}

/**
 * The asset workflow's side: ask the minter (the activity signals-with-start it), then wait for the
 * `mintResult` signal. An asset already on chain is answered at once by the activity.
 */
export async function mintThroughMinter(request: Omit<MintRequest, 'assetId' | 'replyTo'>): Promise<MintReceipt> {
  let answer: MintAnswer | undefined;
  setHandler(mintResultSignal, (received) => void (answer ??= received));
  for (;;) {
    const { found } = await requestMint({ ...request, replyTo: workflowInfo().workflowId });
    if (found) return found;
    if (await condition(() => answer !== undefined, ASK_AGAIN_AFTER)) break;
    log.warn('no answer from the minter yet; asking again');
  }
  const received = answer!;
  if (!received.ok) throw ApplicationFailure.nonRetryable(received.reason, received.type);
  return received.mint;
}
