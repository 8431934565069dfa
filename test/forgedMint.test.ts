// Forged minter messages on the real stack: a `mintResult` claiming a token the chain does not hold
// is not believed (the run reads the chain), and a forged refusal does not fail the run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { assetIdOf } from '../contracts/index.ts';
import { mintResultSignal } from '../workflows/messages.ts';
import { chain, config, startWorker, testSpec, waitForStage } from './support/harness.ts';

let client: AtelierClient;
let worker: Awaited<ReturnType<typeof startWorker>>;
const { contract, close } = chain();

beforeAll(async () => {
  client = await AtelierClient.connect(config);
  // The minter waits 8 s for a batch to fill: time for the forger to answer first.
  worker = await startWorker({ ATELIER_MINT_BATCH_WAIT_MS: '8000' });
});
afterAll(async () => {
  await worker?.stop();
  await client?.close();
  close();
});

describe('forged mint results', () => {
  it('a forged token and a forged refusal sent to a minting asset run change nothing: it ends with the token the chain holds', async () => {
    const spec = testSpec({ approval: { policy: 'auto' }, mint: { mode: 'batch' } });
    const assetId = assetIdOf(spec.collectionId, spec.assetKey).toString();
    const { workflowId } = await client.start(spec);
    await waitForStage(client, workflowId, 'minting');
    const handle = client.temporal.workflow.getHandle(workflowId);
    const forgedMint = { tokenId: '999999', txHash: `0x${'f0'.repeat(32)}`, blockNumber: 1, contract: '0x0', chainId: 31337, alreadyMinted: false };
    await handle.signal(mintResultSignal, { assetId, ok: true, mint: forgedMint });
    await handle.signal(mintResultSignal, { assetId, ok: false, type: 'MintReverted', reason: 'forged refusal' });
    await handle.signal(mintResultSignal, null as never);

    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    const onChain = await contract.tokenOfAsset(BigInt(assetId));
    expect(onChain).not.toBe(0n);
    expect(result.tokenId).toBe(onChain.toString());
    expect(result.tokenId).not.toBe('999999');
    expect(result.txHash).not.toBe(forgedMint.txHash);
    expect(await contract.ownerOf(onChain)).toBe(spec.recipient);
  }, 120_000);
});
