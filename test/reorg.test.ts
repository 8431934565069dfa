// A token the chain drops after the mint (a reorganisation) is minted again: the run believes only
// its own chain read at the configured depth, and the asset ends with exactly one token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { temporal as temporalProto } from '@temporalio/proto';
import { assetIdOf } from '../contracts/index.ts';
import { chain, config, startWorker, testSpec, waitFor } from './support/harness.ts';

let client: AtelierClient;
let worker: Awaited<ReturnType<typeof startWorker>>;
const { provider, contract, close } = chain();

beforeAll(async () => {
  client = await AtelierClient.connect(config);
  // Three blocks deep before a mint counts: the test holds the chain at one and reorganises it.
  worker = await startWorker({ ATELIER_CONFIRMATIONS: '3' });
});
afterAll(async () => {
  await worker?.stop();
  await client?.close();
  close();
});

describe('a mint the chain drops', () => {
  it('is minted again after anvil_rollback removes its block; the run reports the token the chain holds', async () => {
    const spec = testSpec({ approval: { policy: 'auto' } });
    const assetId = assetIdOf(spec.collectionId, spec.assetKey);
    const { workflowId } = await client.start(spec);
    const handle = client.temporal.workflow.getHandle(workflowId);

    // The first mint is in a block, and the run now reads it back, waiting for depth 3.
    const firstToken = await waitFor('the first token', async () => (await contract.tokenOfAsset(assetId)) || undefined, 60_000);
    await waitFor('the run to read its token back', async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      return pending.some((a) => a.activityType?.name === 'confirmMint') ? true : undefined;
    });
    await provider.send('anvil_rollback', [1]);
    expect(await contract.tokenOfAsset(assetId)).toBe(0n);

    // New blocks come; the run sees no token, mints again, and counts the new one's depth.
    const result = await waitFor(
      'the run to end minted',
      async () => {
        await provider.send('anvil_mine', [1]);
        const status = await client.status(workflowId);
        return status.stage === 'minted' ? status : undefined;
      },
      90_000,
    );
    const onChain = await contract.tokenOfAsset(assetId);
    expect(onChain).not.toBe(0n);
    expect(result.tokenId).toBe(onChain.toString());
    expect(await contract.ownerOf(onChain)).toBe(spec.recipient);
    const mints = await contract.queryFilter(contract.getEvent('Transfer')(undefined, spec.recipient, onChain));
    expect(mints).toHaveLength(1);
    expect(result.txHash).toBe(mints[0]!.transactionHash);
    // Two mint activities ran: the first token was dropped, the second one holds.
    const history = await handle.fetchHistory();
    const mintsScheduled = (history.events ?? []).filter(
      (e) =>
        e.eventType === temporalProto.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
        e.activityTaskScheduledEventAttributes?.activityType?.name === 'mintAsset',
    );
    expect(mintsScheduled).toHaveLength(2);
    expect(firstToken).toBeGreaterThan(0n);
  }, 180_000);
});
