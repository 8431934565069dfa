// Decisions you can trust, on the real stack: the run's own rule refuses stale, forged, unsigned,
// malformed and oversized decisions with the reason; notices never hold the clock; a run can be
// cancelled and started again.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal as temporalProto } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import type { AssetSpec } from '../common/asset.ts';
import { newDecisionKey, signDecision } from '../common/decision.ts';
import { ensureGoTool } from '../scripts/lib/tools.ts';
import { approveSignal, rejectSignal } from '../workflows/messages.ts';
import { atelierCli, config, gatewayGet, startWorker, testSpec, waitFor, waitForStage } from './support/harness.ts';

let client: AtelierClient;
let worker: Awaited<ReturnType<typeof startWorker>>;
let temporal: string;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-decisions-'));

beforeAll(async () => {
  client = await AtelierClient.connect(config);
  worker = await startWorker();
  temporal = await ensureGoTool('temporal');
});
afterAll(async () => {
  await worker?.stop();
  await client?.close();
});

const ref = (spec: AssetSpec) => `${spec.collectionId}:${spec.assetKey}`;
const signedSpec = (keys: Record<string, string>) =>
  testSpec({ approval: { policy: 'manual', approvers: Object.keys(keys), keys, unsigned: false, remindAfter: '1h', expireAfter: '2h', maxRounds: 3 } });

/** The `temporal` CLI against the test server, as anyone with namespace access would use it. */
async function temporalCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const common = ['--address', config.ATELIER_TEMPORAL_ADDRESS, '--namespace', config.ATELIER_TEMPORAL_NAMESPACE];
  try {
    const { stdout, stderr } = await promisify(execFile)(temporal, [...args, ...common], { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function historyEventTypes(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).map((e) => temporalProto.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType));
}

/** The reason a raw Update was refused with (what `temporal workflow update` prints). */
async function refusalOf(update: Promise<unknown>): Promise<string> {
  try {
    await update;
  } catch (error) {
    return (error as { cause?: Error }).cause?.message ?? (error as Error).message;
  }
  return 'accepted';
}

function writeKeyFile(name: string): { file: string; publicKey: string; secretKey: string } {
  const pair = newDecisionKey();
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ name, ...pair }), { mode: 0o600 });
  return { file, ...pair };
}

describe('the decision rule, held by the run', () => {
  it('a rejection and then an approval of the same round: the approval is refused as stale, round 2 is never approved unseen', async () => {
    const spec = testSpec();
    const { workflowId } = await client.start(spec);
    const first = await waitForStage(client, workflowId, 'awaiting_approval');
    expect((await atelierCli(['reject', ref(spec), '--by', 'maria', '--reason', 'eyes=sleepy'])).code).toBe(0);
    // The approval of what the person saw (round 1), sent right after.
    const late = await atelierCli(['approve', ref(spec), '--by', 'maria', '--round', '1', '--draft', first.draftCid!]);
    expect(late.code).toBe(3);
    expect(late.stderr).toMatch(/round 1 of .* was replaced by round 2: decide on the newest draft/);
    const second = await waitFor('round 2', async () => {
      const status = await client.status(workflowId);
      return status.round === 2 && status.stage === 'awaiting_approval' ? status : undefined;
    });
    expect(second.decisions.map((d) => [d.kind, d.round])).toEqual([['reject', 1]]);
    const types = await historyEventTypes(client.temporal.workflow.getHandle(workflowId));
    expect(types.filter((t) => t.includes('UPDATE_ACCEPTED'))).toHaveLength(1); // the rejection only
  });

  it('a signed approval from the CLI is taken, and the token metadata carries a signature anyone can check', async () => {
    const maria = writeKeyFile('maria');
    const spec = signedSpec({ maria: maria.publicKey });
    const { workflowId } = await client.start(spec);
    const awaiting = await waitForStage(client, workflowId, 'awaiting_approval');

    const unsigned = await atelierCli(['approve', ref(spec), '--by', 'maria']);
    expect(unsigned.code).toBe(3);
    expect(unsigned.stderr).toMatch(/takes signed decisions only/);

    const signed = await atelierCli(['approve', ref(spec), '--key', maria.file, '--comment', 'ship it']);
    expect(signed.stderr).toBe('');
    expect(signed.stdout).toMatch(/approved .* round 1 .* as maria, signed/);
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    const provenance = JSON.parse((await gatewayGet(result.metadataCid!)).toString()).properties.provenance;
    expect(provenance).toMatchObject({
      approvedBy: 'maria',
      approvalSigned: true,
      approvalSignature: { scheme: 'ed25519', signer: 'approver', publicKey: maria.publicKey },
    });
    // A collector's check: the signature covers this run, this draft and "approve", under maria's key.
    const { signedMessage, signature } = provenance.approvalSignature;
    expect(JSON.parse(signedMessage)).toEqual(['atelier-decision-v1', workflowId, 1, awaiting.draftCid, 'approve', 'maria', 'ship it']);
    expect(ed25519.verify(hexToBytes(signature), utf8ToBytes(signedMessage), hexToBytes(maria.publicKey))).toBe(true);
  });

  it('a decision signed for another draft, or with another approver key, is refused and leaves no trace', async () => {
    const maria = writeKeyFile('maria2');
    const mallory = newDecisionKey();
    const spec = signedSpec({ maria: maria.publicKey });
    const { workflowId } = await client.start(spec);
    const awaiting = await waitForStage(client, workflowId, 'awaiting_approval');
    const handle = client.temporal.workflow.getHandle(workflowId);

    // Signed by maria for another draft, then sent with the draft up now.
    const decision = { by: 'maria', via: 'script', round: 1, draftCid: awaiting.draftCid! };
    const forOther = signDecision(maria.secretKey, 'approver', workflowId, 'approve', { ...decision, draftCid: 'bafkreisomeotherdraft' });
    await expect(client.approve(workflowId, decision, {}).then(() => 'taken')).rejects.toThrow(/signed decisions only/);
    expect(await refusalOf(handle.executeUpdate('approve', { args: [{ ...decision, proof: forOther }] }))).toMatch(/signature does not match this decision/);
    // Signed properly, but with a key that is not maria's.
    const byMallory = signDecision(mallory.secretKey, 'approver', workflowId, 'approve', decision);
    expect(await refusalOf(handle.executeUpdate('approve', { args: [{ ...decision, proof: byMallory }] }))).toMatch(/not maria's/);
    // Mallory as herself: not an approver.
    await expect(client.approve(workflowId, { ...decision, by: 'mallory' }, { sign: { secretKey: mallory.secretKey, signer: 'approver' } })).rejects.toThrow(
      /mallory may not decide/,
    );

    const status = await client.status(workflowId);
    expect(status.stage).toBe('awaiting_approval');
    expect(status.decisions).toEqual([]);
    expect((await historyEventTypes(handle)).filter((t) => t.includes('UPDATE'))).toEqual([]);
  });
});

describe('poison in, clear error out', () => {
  it('payloads that cannot be decoded, malformed and oversized decisions leave the run decidable and its tasks healthy', async () => {
    const spec = testSpec();
    const { workflowId } = await client.start(spec);
    const awaiting = await waitForStage(client, workflowId, 'awaiting_approval');
    const handle = client.temporal.workflow.getHandle(workflowId);

    const badEncoding = await temporalCli([
      'workflow',
      'signal',
      '--workflow-id',
      workflowId,
      '--name',
      'approve',
      '--input',
      '{"by":"x"}',
      '--input-meta',
      'encoding=json/protobuf',
    ]);
    expect(badEncoding.code).toBe(0);
    const badUpdate = await temporalCli([
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      workflowId,
      '--name',
      'approve',
      '--input',
      '{"by":"x"}',
      '--input-meta',
      'encoding=json/protobuf',
    ]);
    expect(badUpdate.code).not.toBe(0);
    expect(badUpdate.stderr + badUpdate.stdout).toMatch(/could not be decoded/);
    const notAnObject = await temporalCli(['workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', 'reject', '--input', '42']);
    expect(notAnObject.stderr + notAnObject.stdout).toMatch(/a decision must be an object/);
    await handle.signal(rejectSignal, null as never);
    // A 1.5 MB comment: refused by its length, read in no time.
    const huge = 'x'.repeat(1_500_000);
    await handle.signal(rejectSignal, { by: 'maria', via: 'script', round: 1, draftCid: awaiting.draftCid!, comment: huge });
    await expect(client.reject(workflowId, { by: 'maria', via: 'script', comment: `${huge.slice(0, 2001)}` })).rejects.toThrow(/at most 2000/);

    // Still answering, still awaiting, nothing taken; then a good decision goes through.
    const status = await client.status(workflowId);
    expect(status).toMatchObject({ stage: 'awaiting_approval', round: 1, decisions: [] });
    await client.approve(workflowId, { by: 'maria', via: 'script' });
    expect((await client.result(workflowId)).stage).toBe('minted');
    const types = await historyEventTypes(handle);
    expect(types.filter((t) => t.includes('WORKFLOW_TASK_FAILED'))).toEqual([]);
  });

  it('a run started by hand with a partial spec fails at once, naming the field, without failing tasks', async () => {
    const workflowId = `asset:poison-${Date.now()}:1`;
    const started = await temporalCli([
      'workflow',
      'start',
      '--type',
      'assetLifecycle',
      '--task-queue',
      config.ATELIER_TASK_QUEUE,
      '--workflow-id',
      workflowId,
      '--input',
      JSON.stringify({ collectionId: 'poison', assetKey: '1', name: 'x', generator: { kind: 'layers', seed: 1 } }),
    ]);
    expect(started.code).toBe(0);
    const handle = client.temporal.workflow.getHandle(workflowId);
    await expect(handle.result()).rejects.toThrow();
    const failure = await handle.result().catch((error: Error & { cause?: Error }) => error.cause?.message ?? error.message);
    expect(failure).toMatch(/invalid asset spec: .*recipient/);
    expect((await historyEventTypes(handle)).filter((t) => t.includes('WORKFLOW_TASK_FAILED'))).toEqual([]);
  });
});

describe('notices never hold the clock', () => {
  let slackDown: http.Server;
  let slackWorker: Awaited<ReturnType<typeof startWorker>>;

  beforeAll(async () => {
    // Slack answering 500 to everything.
    slackDown = http.createServer((_req, res) => res.writeHead(500).end('down'));
    await new Promise<void>((resolve) => slackDown.listen(0, '127.0.0.1', resolve));
    const collections = path.join(tmp, 'slack-collections.json');
    fs.writeFileSync(collections, JSON.stringify({ default: { channel: 'C0ART', approvers: ['U0MARIA'] } }));
    await worker.stop();
    slackWorker = await startWorker({
      ATELIER_SLACK_BOT_TOKEN: 'xoxb-test-token',
      ATELIER_SLACK_API_URL: `http://127.0.0.1:${(slackDown.address() as AddressInfo).port}/api`,
      ATELIER_SLACK_COLLECTIONS: collections,
    });
  });
  afterAll(async () => {
    await slackWorker?.stop();
    slackDown?.close();
    worker = await startWorker();
  });

  it('with Slack down, a CLI approval proceeds at once and an unanswered round expires on time', async () => {
    const approved = testSpec();
    const expiring = testSpec({ approval: { policy: 'manual', approvers: [], keys: {}, unsigned: true, remindAfter: '2s', expireAfter: '5s', maxRounds: 3 } });
    const a = await client.start(approved);
    const e = await client.start(expiring);
    await waitForStage(client, a.workflowId, 'awaiting_approval');
    const upAt = Date.now();
    const awaitingExpiry = await waitForStage(client, e.workflowId, 'awaiting_approval');
    const expireAt = Date.parse(awaitingExpiry.deadlines!.expireAt);

    const decided = Date.now();
    expect((await atelierCli(['approve', ref(approved), '--by', 'maria'])).code).toBe(0);
    const minted = await waitForStage(client, a.workflowId, 'minted', 60_000);
    // Format, pin and mint went ahead while the Slack notices were still failing.
    expect(Date.now() - decided).toBeLessThan(30_000);
    expect(minted.tokenId).not.toBeNull();

    const expired = await waitForStage(client, e.workflowId, 'expired', 30_000);
    expect(expired.reminders).toBe(1);
    // Due at the time counted from when the round went up, not after the failing notices.
    expect(Date.now()).toBeLessThan(expireAt + 10_000);
    expect(Date.now() - upAt).toBeLessThan(30_000);
    const problem = await waitFor('the failing notice to show', async () => (await client.status(e.workflowId)).noticeProblem ?? undefined, 180_000);
    expect(problem).toMatch(/notice for round 1 not delivered: .*Slack answered HTTP 500/);
    // Both runs still try their last notices: ended here, so no later test's worker (with a Slack
    // of its own) picks those attempts up.
    for (const { workflowId } of [a, e])
      await client.temporal.workflow
        .getHandle(workflowId)
        .terminate('test done')
        .catch(() => undefined);
  }, 240_000);
});

describe('cancel and start again', () => {
  it('a cancelled asset shows cancelled, refuses decisions, and starts again as a new run linked to the earlier one', async () => {
    const spec = testSpec();
    const specFile = path.join(tmp, 'cancel-spec.json');
    fs.writeFileSync(specFile, JSON.stringify(spec));
    const first = await client.start(spec);
    await waitForStage(client, first.workflowId, 'awaiting_approval');
    const details = await client.temporal.workflow.getHandle(first.workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(details.currentDetails).toMatch(/Stage: \*\*awaiting_approval\*\*/);

    const cancelled = await atelierCli(['cancel', ref(spec), '--by', 'maria', '--reason', 'wrong collection']);
    expect(cancelled.code).toBe(0);
    const ended = await client.result(first.workflowId);
    expect(ended).toMatchObject({ stage: 'cancelled', cancelled: { by: 'maria', reason: 'wrong collection' }, tokenId: null });
    const late = await atelierCli(['approve', ref(spec), '--by', 'maria']);
    expect(late.code).toBe(3);
    expect(late.stderr).toMatch(/was cancelled by maria: wrong collection/);
    expect((await atelierCli(['cancel', ref(spec), '--reason', 'again'])).code).toBe(3);

    const again = await atelierCli(['start', '--spec', specFile]);
    expect(again.stdout).toMatch(new RegExp(`^started again \\(the earlier run ${first.runId} ended cancelled\\)`));
    const second = await waitForStage(client, first.workflowId, 'awaiting_approval');
    expect(second.earlierRuns).toEqual([first.runId]);
    expect((await atelierCli(['start', '--spec', specFile])).stdout).toMatch(/^already running/);
    await client.approve(first.workflowId, { by: 'maria', via: 'script' });
    expect((await client.result(first.workflowId)).stage).toBe('minted');
    expect((await atelierCli(['start', '--spec', specFile])).stdout).toMatch(/^already minted/);
  });

  it('an expired asset starts again; a decision signal for the ended run changes nothing', async () => {
    const spec = testSpec({ approval: { policy: 'manual', approvers: [], keys: {}, unsigned: true, remindAfter: '1s', expireAfter: '2s', maxRounds: 3 } });
    const first = await client.start(spec);
    expect((await client.result(first.workflowId)).stage).toBe('expired');
    await expect(client.temporal.workflow.getHandle(first.workflowId).signal(approveSignal, { by: 'x', round: 1, draftCid: 'y' })).rejects.toThrow();
    const second = await client.start(spec);
    expect(second).toMatchObject({ outcome: 'restarted', previous: { runId: first.runId, stage: 'expired' } });
    expect(second.runId).not.toBe(first.runId);
    // The new run expires on its own; it is waited for here, so no later test's worker (with a
    // Slack of its own) takes its notices.
    expect((await client.result(second.workflowId)).stage).toBe('expired');
  });
});
