// One auto-approved asset minted in batch mode on the real stack: the asset run hands its mint to
// the minter workflow, which sends it in a `mintBatch` transaction and answers with the token.
// With ATELIER_SAVE_HISTORIES=1 the asset run's history is saved as test/histories/batch-mode.json
// for the replay test (`ATELIER_SAVE_HISTORIES=1 npx vitest run test/batchHistory.test.ts`).
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import type { MintAnswer } from '../common/mint.ts';
import { mintResultSignalName } from '../common/mint.ts';
import { assetIdOf, mintedTokensFromReceipt } from '../contracts/index.ts';
import { chain, config, saveHistoryIfAsked, startWorker, testSpec } from './support/harness.ts';

let client: AtelierClient;
let worker: Awaited<ReturnType<typeof startWorker>>;
let ethereum: ReturnType<typeof chain>;

beforeAll(async () => {
  client = await AtelierClient.connect(config);
  // A short batch window: the lone request goes out at once instead of waiting 10 s for company.
  worker = await startWorker({ ATELIER_MINT_BATCH_WAIT_MS: '200' });
  ethereum = chain();
});
afterAll(async () => {
  await worker?.stop();
  ethereum?.close();
  await client?.close();
});

describe('batch mode', () => {
  it('mints an auto-approved asset through the minter, which answers the run with its token', async () => {
    const spec = testSpec({ approval: { policy: 'auto' }, mint: { mode: 'batch' }, renditions: ['original', 'thumb-256'] });
    const { workflowId } = await client.start(spec);
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.decisions).toMatchObject([{ kind: 'approve', by: 'policy:auto', via: 'policy' }]);
    expect(result.tokenId).toMatch(/^[1-9][0-9]*$/);

    // The minter answered this run: its `mintResult` signal names this asset and the token.
    const assetId = assetIdOf(spec.collectionId, spec.assetKey).toString();
    const events = (await client.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const answers = events
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((s) => s?.signalName === mintResultSignalName)
      .map((s) => defaultPayloadConverter.fromPayload(s!.input!.payloads![0]!) as MintAnswer);
    expect(answers).toEqual([{ assetId, ok: true, mint: expect.objectContaining({ tokenId: result.tokenId, txHash: result.txHash }) }]);

    // On chain: the token is the asset's, owned by the recipient, minted by a batch transaction.
    const tokenId = await ethereum.contract.tokenOfAsset(BigInt(assetId));
    expect(tokenId.toString()).toBe(result.tokenId);
    expect(await ethereum.contract.ownerOf(tokenId)).toBe(spec.recipient);
    const tx = await ethereum.provider.getTransaction(result.txHash!);
    expect(ethereum.contract.interface.parseTransaction(tx!)?.name).toBe('mintBatch');
    const receipt = await ethereum.provider.getTransactionReceipt(result.txHash!);
    expect(mintedTokensFromReceipt(receipt!).map((m) => [m.assetId.toString(), m.tokenId.toString()])).toContainEqual([assetId, result.tokenId]);

    await saveHistoryIfAsked(workflowId, 'batch-mode');
  });
});
