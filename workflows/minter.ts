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
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { MintReceipt } from '../common/asset.ts';
import { cidV1Pattern, slugPattern } from '../common/asset.ts';
import type { MintAnswer, MintOutcome, MintRequest, MinterInput, MinterStatus, Queued } from '../common/mint.ts';
import type { Activities } from '../activities/index.ts';
import type { BatchOutcome, PreparedBatch, SentTx } from '../activities/mintBatch.ts';
import { batchChainWork, chainWait, quickCalls } from './activityOptions.ts';
import { mintRequestSignal, mintResultSignal, minterStatusQuery } from './messages.ts';

/** Most requests waiting at once: a flood of requests cannot grow the minter's state without bound. */
const MAX_QUEUED = 5_000;
/** A minter that has had no request for this long completes; the next request starts a new run. */
const IDLE_EXIT = '1 hour';
/** Requests checked with their asset runs in one activity: each check is a query, so a group is seconds. */
const VERIFY_AT_ONCE = 100;
/** Rounds of prepare -> send -> confirm for one batch before its requests fail. */
const MAX_ROUNDS = 5;
/** A request a revert named waits this long (times its attempts) before it goes in a batch again. */
const RETRY_NAMED_AFTER_MS = 10_000;
/** An asset workflow with no answer after this long asks again (a duplicate request is harmless). */
const ASK_AGAIN_AFTER = '15 minutes';

const { prepareMintBatch, sendMintBatch } = proxyActivities<Activities>(batchChainWork);
const { awaitMintBatch } = proxyActivities<Activities>(chainWait);
const { verifyMintRequests, requestMint } = proxyActivities<Activities>(quickCalls);

export async function minter(input: MinterInput): Promise<{ batches: number; answered: number }> {
  const { settings } = input;
  const queue: Queued[] = [...(input.queued ?? [])];
  let inFlight: (MinterStatus['inFlight'] & { items: Queued[] }) | null = null;
  let batches = 0;
  let answered = 0;

  // Requests are checked with the asset's own run before they may join a batch (runs begun before
  // this check took them as they came).
  const verifies = patched('verify-mint-requests');
  setHandler(mintRequestSignal, (raw: unknown) => {
    const checked = mintRequestShape(raw, verifies);
    if (typeof checked === 'string') return void log.warn('mint request refused', { reason: checked });
    const { replyTo, ...request } = checked;
    const known = queue.find((q) => q.request.assetId === request.assetId) ?? inFlight?.items.find((q) => q.request.assetId === request.assetId);
    if (known) {
      // The same asset asked again (a retry, or after continue-as-new): one entry, answered once.
      if (!known.replyTo.includes(replyTo) && known.replyTo.length < 4) known.replyTo.push(replyTo);
      return;
    }
    if (queue.length >= MAX_QUEUED) return void log.warn('mint request refused: the queue is full', { assetId: request.assetId });
    queue.push({ request, replyTo: [replyTo], receivedAt: Date.now(), verified: verifies ? undefined : true });
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
      if (queue.some((q) => q.verified === undefined)) {
        await verifyQueued();
        continue;
      }
      const now = Date.now();
      const isEligible = (q: Queued) => q.retryAt === undefined || q.retryAt <= now;
      const eligible = queue.filter((q) => q.verified && isEligible(q));
      const recipient = fullRecipient(eligible) ?? eligible.find((q) => dueAt(q) <= now)?.request.recipient;
      if (recipient) {
        const taken = eligible.filter((q) => q.request.recipient === recipient).slice(0, settings.batchSize);
        for (const item of taken) queue.splice(queue.indexOf(item), 1);
        return taken;
      }
      // Only a full group, the clock or a request to check can start a batch: one timer per wait.
      const unchecked = () => queue.some((q) => q.verified === undefined);
      const wakeAt = Math.min(...queue.map(dueAt));
      if (Number.isFinite(wakeAt))
        await condition(() => unchecked() || fullRecipient(queue.filter((q) => q.verified && isEligible(q))) !== undefined, Math.max(1, wakeAt - now));
      else if (!(await condition(() => queue.length > 0, IDLE_EXIT)) && queue.length === 0) return undefined;
    }
  }

  /** Asks each new request's asset run whether it is approved and minting this metadata; refuses the rest. */
  async function verifyQueued(): Promise<void> {
    // A bounded group per check (runs begun before checked every request waiting at once).
    const unchecked = queue.filter((q) => q.verified === undefined).slice(0, patched('verify-in-groups') ? VERIFY_AT_ONCE : undefined);
    const verdicts = await verifyMintRequests({ requests: unchecked.map((q) => ({ ...q.request, replyTo: q.replyTo[0]! })) });
    const refused: Queued[] = [];
    unchecked.forEach((item, i) => {
      const verdict = verdicts[i];
      if (verdict?.ok) return void (item.verified = true);
      refused.push(item);
      queue.splice(queue.indexOf(item), 1);
      log.warn('mint request refused after checking with its asset run', { assetId: item.request.assetId, reason: verdict?.reason });
    });
    const reasonOf = (id: string) => {
      const verdict = verdicts[unchecked.findIndex((q) => q.request.assetId === id)];
      return verdict && !verdict.ok ? verdict.reason : 'refused';
    };
    await answer(refused, (id) => ({ ok: false, type: 'MintRequestRefused', reason: reasonOf(id) }));
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
      await answer(
        open.filter((q) => minted.has(q.request.assetId)),
        (id) => ({ ok: true, mint: minted.get(id)! }),
      );
      await answer(
        open.filter((q) => rejected.has(q.request.assetId)),
        (id) => ({ ok: false, type: 'InvalidContent', reason: rejected.get(id)! }),
      );
      open = open.filter((q) => !minted.has(q.request.assetId) && !rejected.has(q.request.assetId));
      if (!prepared.batch || open.length === 0) return;

      const outcome = await sendAndConfirm(prepared.batch);
      if (outcome.status === 'mined') {
        const tokens = new Map(outcome.minted.map((m) => [m.assetId, m.mint]));
        await answer(
          open.filter((q) => tokens.has(q.request.assetId)),
          (id) => ({ ok: true, mint: tokens.get(id)! }),
        );
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
      const outcome = await awaitMintBatch({
        txHashes: sent.map((tx) => tx.hash),
        nonce: first.tx.nonce,
        assetIds: batch.assetIds,
        waitMs: settings.replaceAfterMs,
      });
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
export async function mintThroughMinter(request: Omit<MintRequest, 'assetId' | 'replyTo'>, requested?: () => Promise<void>): Promise<MintReceipt> {
  // Anyone can signal this run: only an answer about its own asset counts (it may come before the
  // request's activity reports the asset id), and a token it names is believed only after the run's
  // own chain read (assetLifecycle's confirmMint).
  let answers: MintAnswer[] = [];
  setHandler(mintResultSignal, (received: unknown) => {
    const checked = mintAnswerShape(received);
    if (typeof checked === 'string') return void log.warn('mint result ignored', { reason: checked });
    answers = [...answers.slice(-9), checked];
  });
  for (let refusals = 0; ; ) {
    const asked = await requestMint({ ...request, replyTo: workflowInfo().workflowId });
    if (asked.found) return asked.found;
    // Collection assets begun before they said so were given turns one batch after another ended.
    if (requested && patched('collection-mint-requested')) await requested();
    const mine = () => answers.find((a) => a.assetId === asked.assetId);
    if (!(await condition(() => mine() !== undefined, ASK_AGAIN_AFTER))) {
      log.warn('no answer from the minter yet; asking again');
      continue;
    }
    const received = mine()!;
    answers = answers.filter((a) => a !== received);
    if (received.ok) return received.mint;
    // The minter refuses a request its check with this very run does not match: this run's own
    // request always matches, so such a refusal answered a forged request for this asset.
    if (received.type === 'MintRequestRefused') {
      log.warn("the minter refused a request for this asset that was not this run's; asking again", { reason: received.reason });
      continue;
    }
    // A refusal could be forged: ask again, a few times, before the run believes it.
    if (++refusals >= 3) throw ApplicationFailure.nonRetryable(received.reason, received.type);
    log.warn('the minter answered without a token; asking again', { reason: received.reason });
  }
}

function mintAnswerShape(raw: unknown): MintAnswer | string {
  if (typeof raw !== 'object' || raw === null) return 'an answer must be an object';
  const r = raw as Record<string, unknown>;
  if (typeof r.assetId !== 'string') return 'an answer names its asset id';
  if (r.ok === true && typeof r.mint === 'object' && r.mint !== null && typeof (r.mint as MintReceipt).tokenId === 'string') return r as unknown as MintAnswer;
  if (r.ok === false && typeof r.reason === 'string' && typeof r.type === 'string') {
    return { ok: false, assetId: r.assetId, type: r.type.slice(0, 100), reason: r.reason.slice(0, 2000) };
  }
  return 'an answer is { ok: true, mint } or { ok: false, type, reason }';
}

/** A mint request as the signal brought it, checked field by field; a string says why it is refused. */
function mintRequestShape(raw: unknown, assetRunsOnly: boolean): MintRequest | string {
  if (typeof raw !== 'object' || raw === null) return 'a mint request must be an object';
  const r = raw as Record<string, unknown>;
  const text = (field: string, pattern: RegExp) => typeof r[field] === 'string' && pattern.test(r[field] as string);
  if (!text('assetId', /^[0-9]{1,78}$/)) return '"assetId" must be a decimal asset id';
  if (!text('collectionId', slugPattern) || !text('assetKey', /^[A-Za-z0-9_-]{1,64}$/)) return '"collectionId" and "assetKey" must name an asset';
  if (!text('recipient', /^0x[0-9a-fA-F]{40}$/)) return '"recipient" must be an address';
  if (!text('metadataCid', cidV1Pattern)) return '"metadataCid" must be a CIDv1 (base32)';
  // Runs begun before requests were checked with their asset runs answered any workflow.
  if (!text('replyTo', assetRunsOnly ? /^asset:[^:]{1,64}:[^:]{1,64}$/ : /^.{1,300}$/)) return '"replyTo" must be an asset workflow id';
  const { assetId, collectionId, assetKey, recipient, metadataCid, replyTo } = r as unknown as MintRequest;
  return { assetId, collectionId, assetKey, recipient, metadataCid, replyTo };
}
