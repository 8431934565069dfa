// An outage delays a run, never loses it: with Kubo stopped under an approved asset, the run says
// what it waits for, keeps retrying, and mints once Kubo is back.
import { temporal as temporalProto } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { Stack } from '../scripts/lib/stack.ts';
import { atelierCli, config, startWorker, testSpec, waitFor, waitForStage } from './support/harness.ts';

let client: AtelierClient;
let worker: Awaited<ReturnType<typeof startWorker>>;
const stack = new Stack(config);

beforeAll(async () => {
  client = await AtelierClient.connect(config);
  worker = await startWorker();
});
afterAll(async () => {
  if (!stack.running('kubo')) await stack.start('kubo', () => {});
  await worker?.stop();
  await client?.close();
});

describe('Kubo down after the approval', () => {
  it('the run shows it waits for Kubo, retries without a limit, and mints when Kubo is back', async () => {
    const spec = testSpec();
    const { workflowId } = await client.start(spec);
    await waitForStage(client, workflowId, 'awaiting_approval');
    await stack.stop('kubo');
    expect((await atelierCli(['approve', `${spec.collectionId}:${spec.assetKey}`, '--by', 'maria'])).code).toBe(0);

    const waiting = await waitFor(
      'the run to say what it waits for',
      async () => {
        const status = await client.status(workflowId);
        return status.waitingFor && /attempt [3-9]/.test(status.waitingFor) ? status : undefined;
      },
      60_000,
    );
    expect(waiting.stage).toBe('formatting');
    expect(waiting.waitingFor).toMatch(/^formatAsset attempt \d+: .*ECONNREFUSED.*retrying until it answers/);
    expect((await atelierCli(['status', workflowId])).stdout).toMatch(/waiting\s+formatAsset attempt/);

    await stack.start('kubo', () => {});
    const minted = await waitForStage(client, workflowId, 'minted', 120_000);
    expect(minted.tokenId).not.toBeNull();

    // Only bad input ends a run: the stages that talk to services retry without an attempt limit.
    const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
    const policies = new Map(
      (history.events ?? [])
        .filter((e) => e.eventType === temporalProto.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        .map((e) => [e.activityTaskScheduledEventAttributes!.activityType!.name!, e.activityTaskScheduledEventAttributes!.retryPolicy!.maximumAttempts ?? 0]),
    );
    for (const stage of ['generateDraft', 'formatAsset', 'pinAsset', 'mintAsset', 'confirmMint']) expect([stage, policies.get(stage)]).toEqual([stage, 0]);
  }, 240_000);
});
