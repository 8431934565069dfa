// The minter workflow (workflows/minter.ts) in virtual time, on Temporal's time-skipping test server:
// its batch window, full batches, continue-as-new and idle exit take minutes to hours of workflow
// time and a few seconds of wall time. The chain is out of the picture here: plain functions stand in
// for prepareMintBatch / sendMintBatch / awaitMintBatch (test/minter.test.ts runs the real ones on
// the real stack). Requesters are tiny workflows (requester.ts) that keep every answer they get.
//
// With ATELIER_SAVE_HISTORIES=1 the continue-as-new test also saves its first run's history as
// test/histories/minter-verified.json for the replay test (minter-batches.json is the same run from
// before requests were checked with their asset runs).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import type { WorkflowHandleWithSignaledRunId } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { createMintBatchActivities } from '../../activities/mintBatch.ts';
import type { MintAnswer, MintRequest, MintRequestVerdict, MinterInput, MinterSettings } from '../../common/mint.ts';
import { projectRoot } from '../../common/config.ts';
import { minterStatusQuery, mintRequestSignal } from '../../workflows/messages.ts';
import type { minter } from '../../workflows/minter.ts';
import { waitFor } from '../support/harness.ts';
import { createTimeSkippingEnv, startTimeSkippingWorker } from '../support/timeSkipping.ts';
import { answersQuery } from './requester.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const CHAIN_ID = 31337;
const CONTRACT = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
const SIGNER = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';

type MintBatchActivities = ReturnType<typeof createMintBatchActivities>;

/** One stand-in activity call, at the test server's (virtual) time. */
interface Call {
  activity: 'prepareMintBatch' | 'sendMintBatch' | 'awaitMintBatch' | 'verifyMintRequests';
  minterId: string;
  runId: string;
  at: number;
  assetIds: string[];
}

let env: TestWorkflowEnvironment;
let minterWorker: Awaited<ReturnType<typeof startTimeSkippingWorker>>;
let requesterWorker: Awaited<ReturnType<typeof startTimeSkippingWorker>>;
const calls: Call[] = [];
let nextToken = 1;
let nextAsset = 1_000;

async function record(activity: Call['activity'], assetIds: string[]): Promise<void> {
  // Always set for an activity a workflow scheduled.
  const workflowExecution = Context.current().info.workflowExecution!;
  calls.push({ activity, minterId: workflowExecution.workflowId, runId: workflowExecution.runId, at: await env.currentTimeMs(), assetIds: [...assetIds] });
}

/** A chain that mines every batch at once: token ids in order, one transaction a batch. */
const chainStandIns = {
  async prepareMintBatch({ items }) {
    await record(
      'prepareMintBatch',
      items.map((item) => item.assetId),
    );
    const assetIds = items.map((item) => item.assetId).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    return {
      minted: [],
      rejected: [],
      batch: { recipient: items[0]!.recipient, assetIds, rootCid: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi' },
    };
  },
  async sendMintBatch({ assetIds }) {
    await record('sendMintBatch', assetIds);
    const hash = '0x' + randomUUID().replaceAll('-', '').padEnd(64, '0');
    return { status: 'sent', tx: { hash, nonce: 0, gasLimit: '1000000', maxFeePerGas: '2000000000', maxPriorityFeePerGas: '1000000000' } };
  },
  async awaitMintBatch({ txHashes, assetIds }) {
    await record('awaitMintBatch', assetIds);
    const txHash = txHashes.at(-1)!;
    return {
      status: 'mined',
      txHash,
      minted: assetIds.map((assetId) => ({
        assetId,
        mint: { tokenId: String(nextToken++), txHash, blockNumber: 1, contract: CONTRACT, chainId: CHAIN_ID, alreadyMinted: false },
      })),
    };
  },
  /** The asset runs' answer: every request is from a minting run, except those the test forged. */
  async verifyMintRequests({ requests }: { requests: MintRequest[] }): Promise<MintRequestVerdict[]> {
    await record(
      'verifyMintRequests',
      requests.map((r) => r.assetId),
    );
    return requests.map((r) => (forged.has(r.assetId) ? { ok: false, reason: `no running asset run ${r.replyTo}` } : { ok: true }));
  },
} satisfies Pick<MintBatchActivities, 'prepareMintBatch' | 'sendMintBatch' | 'awaitMintBatch'> & Record<string, unknown>;
const forged = new Set<string>();

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  minterWorker = await startTimeSkippingWorker(env, { activities: chainStandIns });
  requesterWorker = await startTimeSkippingWorker(env, { workflowsPath: fileURLToPath(new URL('./requester.ts', import.meta.url)) });
});

afterAll(async () => {
  await minterWorker?.stop();
  await requesterWorker?.stop();
  await env?.teardown();
});

/** A minter of its own for each test, so the activity calls and runs of one test are its own. */
function newMinter(settings: Partial<MinterSettings>) {
  const minterId = `minter:timeskip:${randomUUID().slice(0, 8)}`;
  const input: MinterInput = {
    chainId: CHAIN_ID,
    contract: CONTRACT,
    signer: SIGNER,
    settings: { batchSize: 50, batchWaitMs: 10 * MINUTE, replaceAfterMs: 2 * MINUTE, batchesPerRun: 50, ...settings },
  };
  return { minterId, input, calls: (activity: Call['activity']) => calls.filter((c) => c.minterId === minterId && c.activity === activity) };
}

/** `count` requesters (the workflows the minter answers), each with a request of its own. */
async function requesters(count: number, recipient: string): Promise<MintRequest[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const assetId = String(nextAsset++);
      const workflowId = `asset:timeskip:${assetId}`;
      await env.client.workflow.start('mintRequester', { taskQueue: requesterWorker.taskQueue, workflowId });
      return {
        assetId,
        collectionId: 'timeskip',
        assetKey: assetId,
        recipient,
        metadataCid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
        replyTo: workflowId,
      };
    }),
  );
}

/** As the requestMint activity does it: signal-with-start, one request after another. */
async function sendRequests(minterId: string, input: MinterInput, requests: MintRequest[]): Promise<WorkflowHandleWithSignaledRunId<typeof minter>> {
  let handle: WorkflowHandleWithSignaledRunId<typeof minter> | undefined;
  for (const request of requests) {
    const sent = await env.client.workflow.signalWithStart<typeof minter, [MintRequest]>('minter', {
      workflowId: minterId,
      taskQueue: minterWorker.taskQueue,
      args: [input],
      signal: mintRequestSignal,
      signalArgs: [request],
    });
    handle ??= sent;
  }
  return handle!;
}

async function answersOf(request: MintRequest): Promise<MintAnswer[]> {
  return env.client.workflow.getHandle(request.replyTo).query(answersQuery);
}

/** Every requester has exactly one answer: its own asset's token. Returns the token ids. */
async function expectEachAnsweredOnce(requests: MintRequest[]): Promise<string[]> {
  const tokenIds: string[] = [];
  for (const request of requests) {
    const answers = await answersOf(request);
    expect(answers, `answers to ${request.replyTo}`).toEqual([
      { assetId: request.assetId, ok: true, mint: expect.objectContaining({ tokenId: expect.any(String), chainId: CHAIN_ID, alreadyMinted: false }) },
    ]);
    tokenIds.push((answers[0] as Extract<MintAnswer, { ok: true }>).mint.tokenId);
  }
  expect(new Set(tokenIds).size, 'distinct tokens').toBe(requests.length);
  return tokenIds;
}

const sorted = (ids: string[]) => [...ids].sort();

describe('minter in virtual time (time-skipping test server)', () => {
  it('holds three requests for the whole 10-minute batch window, then sends them as one batch', async () => {
    const subject = newMinter({ batchSize: 50, batchWaitMs: 10 * MINUTE });
    const requests = await requesters(3, '0x70997970c51812dc3a010c7d01b50e0d17dc79c8');
    const t0 = await env.currentTimeMs();
    const handle = await sendRequests(subject.minterId, subject.input, requests);
    await waitFor('the minter to queue the three requests', async () => ((await handle.query(minterStatusQuery)).queued === 3 ? true : undefined), 20_000);

    // 9 min 50 s later in workflow time: still gathering.
    await env.sleep(9 * MINUTE + 50_000);
    expect(await env.currentTimeMs()).toBeGreaterThanOrEqual(t0 + 9 * MINUTE + 50_000);
    expect(subject.calls('prepareMintBatch')).toEqual([]);
    expect(await handle.query(minterStatusQuery)).toMatchObject({ queued: 3, inFlight: null, batches: 0, answered: 0 });

    // Awaiting the result skips time: the window closes, the batch goes, then the minter idles out.
    expect(await handle.result()).toEqual({ batches: 1, answered: 3 });
    const [prepared, ...morePrepared] = subject.calls('prepareMintBatch');
    expect(morePrepared).toEqual([]);
    expect(sorted(prepared!.assetIds)).toEqual(sorted(requests.map((r) => r.assetId)));
    expect(prepared!.at - t0).toBeGreaterThanOrEqual(10 * MINUTE);
    expect(prepared!.at - t0).toBeLessThan(11 * MINUTE);
    expect(subject.calls('sendMintBatch').map((c) => sorted(c.assetIds))).toEqual([sorted(requests.map((r) => r.assetId))]);
    await expectEachAnsweredOnce(requests);
  });

  it('mints only requests their asset runs vouch for: a forged one is refused and answered, the rest are minted', async () => {
    const subject = newMinter({ batchSize: 50, batchWaitMs: MINUTE });
    const requests = await requesters(3, '0x70997970c51812dc3a010c7d01b50e0d17dc79c8');
    forged.add(requests[1]!.assetId);
    const handle = await sendRequests(subject.minterId, subject.input, requests);
    // Malformed requests are refused by the handler, without failing a workflow task.
    await handle.signal(mintRequestSignal, null as never);
    await handle.signal(mintRequestSignal, { ...requests[0]!, assetId: 'not-a-number' });
    await env.sleep(2 * MINUTE); // past the batch window, in virtual time
    await waitFor('the batch to be sent', async () => (subject.calls('sendMintBatch').length > 0 ? true : undefined), 60_000);
    expect(subject.calls('sendMintBatch').map((c) => sorted(c.assetIds))).toEqual([sorted([requests[0]!.assetId, requests[2]!.assetId])]);
    await expectEachAnsweredOnce([requests[0]!, requests[2]!]);
    const refused = await waitFor('the forged request to be answered', async () =>
      (await answersOf(requests[1]!)).length > 0 ? answersOf(requests[1]!) : undefined,
    );
    expect(refused).toEqual([{ assetId: requests[1]!.assetId, ok: false, type: 'MintRequestRefused', reason: expect.stringMatching(/no running asset run/) }]);
    const history = await handle.fetchHistory();
    expect((history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  });

  it('sends a full batch at once, without waiting for the window', async () => {
    const subject = newMinter({ batchSize: 3, batchWaitMs: 10 * MINUTE });
    const requests = await requesters(3, '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc');
    const t0 = await env.currentTimeMs();
    const handle = await sendRequests(subject.minterId, subject.input, requests);

    // Time is not skipped while the test waits here: a minter that waited for the window would time out.
    await waitFor('the full batch to be sent', async () => (subject.calls('sendMintBatch').length > 0 ? true : undefined), 30_000);
    const [prepared] = subject.calls('prepareMintBatch');
    expect(prepared!.at - t0).toBeLessThan(MINUTE);
    expect(subject.calls('sendMintBatch').map((c) => sorted(c.assetIds))).toEqual([sorted(requests.map((r) => r.assetId))]);

    expect(await handle.result()).toEqual({ batches: 1, answered: 3 });
    expect(subject.calls('prepareMintBatch')).toHaveLength(1);
    await expectEachAnsweredOnce(requests);
  });

  it('continues as new after batchesPerRun batches, carrying the queued request with the time it has waited', async () => {
    const subject = newMinter({ batchSize: 2, batchWaitMs: 10 * MINUTE, batchesPerRun: 2 });
    // Recipient A fills a batch at once; B and C wait for the window. B goes in the second batch
    // (oldest first), which ends the run: C is carried over into the next run.
    const [a1, a2] = await requesters(2, '0x90f79bf6eb2c4f870365e785982e1f101e93b906');
    const [b1] = await requesters(1, '0x15d34aaf54267db7d7c367839aaf71a00a2c6a65');
    const [c1] = await requesters(1, '0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc');
    const requests = [a1!, a2!, b1!, c1!];
    const t0 = await env.currentTimeMs();
    const handle = await sendRequests(subject.minterId, subject.input, requests);
    const firstRunId = handle.signaledRunId;

    // The last run's result: three batches in all, one answered by the last run.
    expect(await handle.result()).toEqual({ batches: 3, answered: 1 });
    const lastRunId = (await handle.describe()).runId;
    expect(lastRunId).not.toBe(firstRunId);

    // The first run ended in continue-as-new, into the run that ended the chain.
    const firstRun = env.client.workflow.getHandle(subject.minterId, firstRunId);
    const firstEvents = (await firstRun.fetchHistory()).events ?? [];
    const ending = firstEvents.at(-1)!.workflowExecutionContinuedAsNewEventAttributes;
    expect(ending?.newExecutionRunId).toBe(lastRunId);
    expect((await firstRun.describe()).status.name).toBe('CONTINUED_AS_NEW');

    const prepared = subject.calls('prepareMintBatch');
    expect(prepared.map((c) => ({ runId: c.runId, assetIds: sorted(c.assetIds) }))).toEqual([
      { runId: firstRunId, assetIds: sorted([a1!.assetId, a2!.assetId]) },
      { runId: firstRunId, assetIds: [b1!.assetId] },
      { runId: lastRunId, assetIds: [c1!.assetId] },
    ]);
    expect(prepared[0]!.at - t0).toBeLessThan(MINUTE);
    expect(prepared[1]!.at - t0).toBeGreaterThanOrEqual(10 * MINUTE);
    // C kept the time it had waited: it went as soon as the new run started, not 10 minutes later.
    expect(prepared[2]!.at - t0).toBeGreaterThanOrEqual(10 * MINUTE);
    expect(prepared[2]!.at - t0).toBeLessThan(11 * MINUTE);
    expect(subject.calls('sendMintBatch')).toHaveLength(3);

    await expectEachAnsweredOnce(requests);

    if (process.env.ATELIER_SAVE_HISTORIES) {
      const json = JSON.stringify(JSON.parse(historyToJSON(await firstRun.fetchHistory())), null, 2);
      fs.writeFileSync(path.join(projectRoot, 'test', 'histories', 'minter-verified.json'), json + '\n');
    }
  });

  it('completes after an hour of workflow time with nothing to do', async () => {
    const subject = newMinter({});
    const handle = await env.client.workflow.start<typeof minter>('minter', {
      workflowId: subject.minterId,
      taskQueue: minterWorker.taskQueue,
      args: [subject.input],
    });

    await env.sleep(59 * MINUTE);
    expect((await handle.describe()).status.name).toBe('RUNNING');

    expect(await handle.result()).toEqual({ batches: 0, answered: 0 });
    const { startTime, closeTime } = await handle.describe();
    const ranFor = closeTime!.getTime() - startTime.getTime();
    expect(ranFor).toBeGreaterThanOrEqual(HOUR);
    expect(ranFor).toBeLessThan(HOUR + MINUTE);
    expect(calls.filter((c) => c.minterId === subject.minterId)).toEqual([]);
  });
});
