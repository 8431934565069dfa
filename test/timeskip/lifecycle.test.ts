// The asset workflow (workflows/assetLifecycle.ts) in virtual time, on Temporal's time-skipping
// test server: a reminder a day after a draft is put up, expiry after seven, notices that fail
// without holding the clock, rounds of rejections, stale and refused decisions, and a cancel. Days
// of workflow time take seconds of wall time. Plain functions stand in for the activities (the
// real-stack tests in test/lifecycle.test.ts run the real ones); each records the virtual time it
// ran at. Decisions go through the `approve`/`reject`/`cancel` Updates, as the CLI sends them.
import { createHash, randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailureCategory, defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities/index.ts';
import type { ApprovalNotice } from '../../activities/approval.ts';
import type { AssetSpec, Draft, MintReceipt } from '../../common/asset.ts';
import { workflowIdOf } from '../../common/asset.ts';
import type { DecisionInput } from '../../common/decision.ts';
import { checkSpec } from '../../common/specSchema.ts';
import type { assetLifecycle } from '../../workflows/assetLifecycle.ts';
import { approveUpdate, cancelUpdate, rejectUpdate, statusQuery } from '../../workflows/messages.ts';
import { waitFor } from '../support/harness.ts';
import { createTimeSkippingEnv, startTimeSkippingWorker } from '../support/timeSkipping.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;
const CHAIN_ID = 31337;
const CONTRACT = '0x5FbDB2315678afecb367f032d93F642f64180aa3';

/** One stand-in activity call (or attempt), at the test server's virtual time. */
interface Call {
  activity: 'generateDraft' | 'approvalTrust' | 'announceApproval' | 'formatAsset' | 'pinAsset' | 'mintAsset' | 'confirmMint';
  workflowId: string;
  at: number;
  attempt: number;
  round?: number;
  event?: ApprovalNotice['event'];
  cid?: string;
  feedback?: string[];
}

let env: TestWorkflowEnvironment;
let worker: Awaited<ReturnType<typeof startTimeSkippingWorker>>;
const calls: Call[] = [];
/** Runs whose notices fail on every attempt (Slack down for good). */
const noticesDown = new Set<string>();
/** The token each run minted, as the chain would show it to confirmMint. */
const minted = new Map<string, MintReceipt>();
let nextToken = 1;
/** Runs a test started: whatever one leaves running is terminated after it. */
const started: WorkflowHandle[] = [];

async function record(call: Omit<Call, 'workflowId' | 'at' | 'attempt'>): Promise<Call> {
  const { info } = Context.current();
  const entry: Call = { ...call, workflowId: info.workflowExecution!.workflowId, at: await env.currentTimeMs(), attempt: info.attempt };
  calls.push(entry);
  return entry;
}

/** A CIDv1-looking string (base32, raw leaves), distinct for every seed. */
function fakeCid(seed: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const digest = createHash('sha256').update(seed).digest();
  return 'bafkrei' + Array.from({ length: 52 }, (_, i) => alphabet[digest[i % digest.length]! % 32]).join('');
}
const sha256Of = (seed: string) => createHash('sha256').update(seed).digest('hex');

const standIns = {
  async generateDraft({ round, feedback }) {
    const { workflowExecution } = Context.current().info;
    const cid = fakeCid(`${workflowExecution!.workflowId}#${round}`);
    await record({ activity: 'generateDraft', round, cid, feedback: [...feedback] });
    return { cid, sha256: sha256Of(cid), bytes: 2048 + round, width: 512, height: 512, inputs: { seed: round, traits: { hat: 'crown' } } } satisfies Draft;
  },
  async approvalTrust() {
    await record({ activity: 'approvalTrust' });
    return {};
  },
  async announceApproval(notice) {
    const { workflowId } = Context.current().info.workflowExecution!;
    await record({ activity: 'announceApproval', event: notice.event, round: notice.round });
    // Retryable, as a Slack outage is; benign only so the worker logs each attempt at debug level.
    if (noticesDown.has(workflowId))
      throw ApplicationFailure.create({ message: `Slack is down (${notice.event})`, type: 'SlackError', category: ApplicationFailureCategory.BENIGN });
    return null;
  },
  async formatAsset({ draft }) {
    await record({ activity: 'formatAsset', cid: draft.cid });
    const original = fakeCid(`original:${draft.cid}`);
    const metadata = fakeCid(`metadata:${draft.cid}`);
    return {
      renditions: [{ name: 'original', cid: original, sha256: sha256Of(original), bytes: 4096, mimeType: 'image/png', width: 512, height: 512 }],
      metadata: { cid: metadata, sha256: sha256Of(metadata), bytes: 600 },
    };
  },
  async pinAsset({ contents }) {
    await record({ activity: 'pinAsset' });
    return { pinned: contents.map((c) => c.cid) };
  },
  async mintAsset() {
    const { workflowId } = await record({ activity: 'mintAsset' });
    const receipt: MintReceipt = {
      tokenId: String(nextToken++),
      txHash: '0x' + randomUUID().replaceAll('-', '').padEnd(64, '0'),
      blockNumber: 1,
      contract: CONTRACT,
      chainId: CHAIN_ID,
      alreadyMinted: false,
    };
    minted.set(workflowId, receipt);
    return receipt;
  },
  async confirmMint() {
    const { workflowId } = await record({ activity: 'confirmMint' });
    const mint = minted.get(workflowId);
    return mint ? { status: 'confirmed' as const, mint } : { status: 'dropped' as const, reason: 'no token for this asset' };
  },
} satisfies Pick<Activities, 'generateDraft' | 'approvalTrust' | 'announceApproval' | 'formatAsset' | 'pinAsset' | 'mintAsset' | 'confirmMint'>;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  worker = await startTimeSkippingWorker(env, { activities: standIns });
});

afterEach(async () => {
  // A run a failed test left waiting would go on using the worker (and skipped time) in later tests.
  for (const handle of started.splice(0)) {
    await handle.terminate('test over').catch(() => undefined);
  }
});

afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
});

/**
 * A spec as a person writes it, checked by the one schema so its defaults apply (remind after 1d,
 * expire after 7d, 3 rounds); unsigned decisions are taken.
 */
function newAsset() {
  const collectionId = `timeskip-${randomUUID().slice(0, 8)}`;
  const checked = checkSpec({
    collectionId,
    assetKey: '1',
    name: 'Virtual Critter',
    recipient: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    generator: { kind: 'layers', layerSet: 'critters', seed: 7 },
    approval: { policy: 'manual', unsigned: true },
  });
  if (!checked.ok) throw new Error(checked.problems.join('; '));
  const workflowId = workflowIdOf(collectionId, '1');
  const of = (activity: Call['activity']) => calls.filter((c) => c.workflowId === workflowId && c.activity === activity);
  return {
    spec: checked.spec,
    workflowId,
    calls: of,
    /** Every attempt of one kind of notice, oldest first. */
    notices: (event: ApprovalNotice['event']) => of('announceApproval').filter((c) => c.event === event),
  };
}

async function start(spec: AssetSpec, workflowId: string): Promise<WorkflowHandle<typeof assetLifecycle>> {
  const handle = await env.client.workflow.start<typeof assetLifecycle>('assetLifecycle', { workflowId, taskQueue: worker.taskQueue, args: [spec] });
  started.push(handle);
  return handle;
}

/** Waits (wall time; the clock is not skipped meanwhile) until `round` is up for a decision. */
async function roundUp(handle: WorkflowHandle<typeof assetLifecycle>, round: number) {
  return waitFor(
    `round ${round} of ${handle.workflowId} to await a decision`,
    async () => {
      const status = await handle.query(statusQuery);
      return status.stage === 'awaiting_approval' && status.round === round && status.draftCid ? { ...status, draftCid: status.draftCid } : undefined;
    },
    30_000,
  );
}

const decision = (round: number, draftCid: string, extra: Partial<DecisionInput> = {}): DecisionInput => ({
  by: 'maria',
  round,
  draftCid,
  via: 'script',
  ...extra,
});

/** The reason an Update's validator gave for refusing it. */
async function refusal(update: Promise<unknown>): Promise<string> {
  const error = await update.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the update to be refused').toBeInstanceOf(WorkflowUpdateFailedError);
  return (error as WorkflowUpdateFailedError).cause?.message ?? '';
}

/** Virtual time from `from` to the run's close. */
async function ranUntil(handle: WorkflowHandle<typeof assetLifecycle>, from: number): Promise<number> {
  const { closeTime } = await handle.describe();
  return closeTime!.getTime() - from;
}

describe('assetLifecycle in virtual time (time-skipping test server)', () => {
  it('reminds a day after the draft is put up and expires at seven days, with the default remindAfter and expireAfter', async () => {
    const asset = newAsset();
    expect(asset.spec.approval).toMatchObject({ policy: 'manual', remindAfter: '1d', expireAfter: '7d', maxRounds: 3 });
    const handle = await start(asset.spec, asset.workflowId);

    // Awaiting the result skips time: the run waits out both deadlines.
    const result = await handle.result();
    expect(result.stage).toBe('expired');
    expect(result.reminders).toBe(1);
    expect(result.decisions).toEqual([]);
    expect(asset.calls('approvalTrust')).toHaveLength(1);
    expect(asset.calls('formatAsset')).toEqual([]);
    expect(asset.calls('mintAsset')).toEqual([]);

    const [requested, ...moreRequested] = asset.notices('requested');
    const [reminder, ...moreReminders] = asset.notices('reminder');
    const [expired, ...moreExpired] = asset.notices('expired');
    expect([moreRequested, moreReminders, moreExpired]).toEqual([[], [], []]);
    expect(requested!.at - asset.calls('generateDraft')[0]!.at, 'the request goes out as the draft is put up').toBeLessThan(MINUTE);
    const putUp = requested!.at;
    expect(Math.abs(reminder!.at - putUp - DAY), 'reminder at 1 day').toBeLessThanOrEqual(MINUTE);
    expect(Math.abs(expired!.at - putUp - 7 * DAY), 'expired notice at 7 days').toBeLessThanOrEqual(MINUTE);
    expect(Math.abs((await ranUntil(handle, putUp)) - 7 * DAY), 'run ends at 7 days').toBeLessThanOrEqual(MINUTE);
    expect(asset.notices('decided')).toEqual([]);
  });

  it('keeps to the deadlines while every notice fails, and shows the problem in status', async () => {
    const asset = newAsset();
    noticesDown.add(asset.workflowId);
    const handle = await start(asset.spec, asset.workflowId);

    const result = await handle.result();
    expect(result.stage).toBe('expired');
    expect(result.reminders).toBe(1);
    expect(result.noticeProblem).toMatch(/^expired notice for round 1 not delivered: .*Slack is down/);

    // Each notice was tried (and failed) several times: about 30 s of retries that hold nothing.
    const requested = asset.notices('requested');
    const reminders = asset.notices('reminder');
    const expired = asset.notices('expired');
    for (const attempts of [requested, reminders, expired]) {
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5]);
      expect(attempts.at(-1)!.at - attempts[0]!.at).toBeGreaterThanOrEqual(25 * SECOND);
    }
    const putUp = requested[0]!.at;
    // Fixed times from when the round was put up, not from when a failing notice gave up.
    expect(reminders[0]!.at - putUp, 'reminder at 1 day').toBeGreaterThanOrEqual(DAY);
    expect(reminders[0]!.at - putUp, 'reminder at 1 day').toBeLessThan(DAY + 10 * SECOND);
    expect(expired[0]!.at - putUp, 'expiry at 7 days').toBeGreaterThanOrEqual(7 * DAY);
    expect(expired[0]!.at - putUp, 'expiry at 7 days').toBeLessThan(7 * DAY + 10 * SECOND);
    // The run waits for its last notice's tries before it ends, then ends.
    const ranFor = await ranUntil(handle, putUp);
    expect(ranFor).toBeGreaterThanOrEqual(7 * DAY);
    expect(ranFor).toBeLessThanOrEqual(7 * DAY + MINUTE);
  });

  it('takes an approval while notices fail and goes on to mint at once', async () => {
    const asset = newAsset();
    noticesDown.add(asset.workflowId);
    const handle = await start(asset.spec, asset.workflowId);
    const { round, draftCid } = await roundUp(handle, 1);
    await waitFor('the request notice to fail once', async () => (asset.notices('requested').length > 0 ? true : undefined), 30_000);

    const taken = await env.client.workflow.getHandle(asset.workflowId).executeUpdate(approveUpdate, { args: [decision(round, draftCid)] });
    expect(taken).toMatchObject({ kind: 'approve', by: 'maria', via: 'script', round: 1, draftCid });

    const result = await handle.result();
    expect(result.stage).toBe('minted');
    expect(result.tokenId).toEqual(expect.any(String));
    expect(result.approver).toBe('maria');
    expect(result.noticeProblem).toMatch(/^decided notice for round 1 not delivered: .*Slack is down/);

    const [formatted, ...formattedAgain] = asset.calls('formatAsset');
    expect(formattedAgain).toEqual([]);
    expect(formatted!.cid).toBe(draftCid);
    expect(formatted!.at - Date.parse(taken.at), 'format starts within a minute of the approval').toBeLessThan(MINUTE);
    // Not after the failing notices: the decided notice was still being retried when format ran.
    const decided = asset.notices('decided');
    expect(decided.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(formatted!.at).toBeLessThan(decided.at(-1)!.at);
    expect(asset.calls('mintAsset')).toHaveLength(1);
  });

  it('ends rejected after the third rejection, each round with a new draft, and mints nothing', async () => {
    const asset = newAsset();
    const handle = await start(asset.spec, asset.workflowId);
    const comments = ['warmer background', 'eyes=starry', 'hat=none please'];
    for (const [i, comment] of comments.entries()) {
      const { round, draftCid } = await roundUp(handle, i + 1);
      const taken = await env.client.workflow.getHandle(asset.workflowId).executeUpdate(rejectUpdate, { args: [decision(round, draftCid, { comment })] });
      expect(taken).toMatchObject({ kind: 'reject', round: i + 1, draftCid, comment });
    }

    const result = await handle.result();
    expect(result.stage).toBe('rejected');
    expect(result.round).toBe(3);
    expect(result.mint).toBeNull();
    expect(result.tokenId).toBeNull();
    expect(asset.calls('formatAsset')).toEqual([]);
    expect(asset.calls('mintAsset')).toEqual([]);

    const drafts = asset.calls('generateDraft');
    expect(drafts.map((d) => d.round)).toEqual([1, 2, 3]);
    expect(new Set(drafts.map((d) => d.cid)).size, 'a different draft each round').toBe(3);
    // Each round is generated with the feedback so far.
    expect(drafts.map((d) => d.feedback)).toEqual([[], comments.slice(0, 1), comments.slice(0, 2)]);
    expect(result.decisions.map((d) => [d.kind, d.round, d.draftCid, d.comment])).toEqual(drafts.map((d, i) => ['reject', d.round, d.cid, comments[i]]));
    expect(asset.notices('decided').map((n) => n.round)).toEqual([1, 2, 3]);
  });

  it('refuses a decision on a replaced round with the reason, leaving nothing in history', async () => {
    const asset = newAsset();
    const handle = await start(asset.spec, asset.workflowId);
    const first = await roundUp(handle, 1);
    const client = env.client.workflow.getHandle(asset.workflowId);
    await client.executeUpdate(rejectUpdate, { args: [decision(1, first.draftCid, { comment: 'eyes=starry' })] });
    const second = await roundUp(handle, 2);
    expect(second.draftCid).not.toBe(first.draftCid);

    const reason = await refusal(client.executeUpdate(approveUpdate, { args: [decision(1, first.draftCid)] }));
    expect(reason).toContain('replaced by round 2');
    expect(await handle.query(statusQuery)).toMatchObject({
      stage: 'awaiting_approval',
      round: 2,
      decisions: [expect.objectContaining({ kind: 'reject', round: 1 })],
    });

    // The current round still takes its decision.
    await client.executeUpdate(approveUpdate, { args: [decision(2, second.draftCid)] });
    const result = await handle.result();
    expect(result.stage).toBe('minted');
    expect(result.decisions.map((d) => [d.kind, d.round])).toEqual([
      ['reject', 1],
      ['approve', 2],
    ]);

    const events = (await handle.fetchHistory()).events ?? [];
    const accepted = events
      .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input)
      .filter((input) => input !== undefined && input !== null)
      .map((input) => ({ name: input.name, round: (defaultPayloadConverter.fromPayload(input.args!.payloads![0]!) as DecisionInput).round }));
    expect(accepted).toEqual([
      { name: 'reject', round: 1 },
      { name: 'approve', round: 2 },
    ]);
    expect(events.filter((e) => e.workflowExecutionUpdateRejectedEventAttributes)).toEqual([]);
  });

  it('ends cancelled by the cancel Update while awaiting a decision, and closes the request', async () => {
    const asset = newAsset();
    const handle = await start(asset.spec, asset.workflowId);
    await roundUp(handle, 1);

    const status = await env.client.workflow.getHandle(asset.workflowId).executeUpdate(cancelUpdate, { args: [{ by: 'maria', reason: 'wrong collection' }] });
    expect(status.cancelled).toMatchObject({ by: 'maria', reason: 'wrong collection' });

    const result = await handle.result();
    expect(result.stage).toBe('cancelled');
    expect(result.cancelled).toMatchObject({ by: 'maria', reason: 'wrong collection' });
    expect(result.mint).toBeNull();
    expect(asset.calls('formatAsset')).toEqual([]);
    expect(asset.notices('cancelled').map((n) => n.round)).toEqual([1]);
    expect(asset.notices('expired')).toEqual([]);
    // Cancelled as soon as asked: no deadline had to pass.
    expect(await ranUntil(handle, asset.notices('requested')[0]!.at)).toBeLessThan(MINUTE);
  });
});
