// Promise 2: a crash delays a run, never mints twice. The worker process is SIGKILLed while its
// mint transaction waits in the mempool; the restarted worker finds that transaction.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { assetIdOf } from '../contracts/index.ts';
import { jsonRpc } from '../scripts/lib/stack.ts';
import { chain, config, spawnWorkerProcess, testSpec } from './support/harness.ts';

let client: AtelierClient;
beforeAll(async () => {
  client = await AtelierClient.connect(config);
});
afterAll(async () => {
  await jsonRpc(config.ATELIER_ETH_RPC_URL, 'evm_setAutomine', [true]);
  await client?.close();
});

it('the worker killed with SIGKILL during mint and restarted: exactly one token, from the transaction sent before the crash', async () => {
  const spec = testSpec({ approval: { policy: 'auto' } });
  const assetId = assetIdOf(spec.collectionId, spec.assetKey);
  let worker = await spawnWorkerProcess();
  let sentTxHash: string | undefined;
  try {
    // Hold every transaction in the mempool: the mint is sent but not mined.
    await jsonRpc(config.ATELIER_ETH_RPC_URL, 'evm_setAutomine', [false]);
    const { workflowId } = await client.start(spec);
    const handle = client.temporal.workflow.getHandle(workflowId);

    const deadline = Date.now() + 60_000;
    while (!sentTxHash && Date.now() < deadline) {
      const { raw } = await handle.describe();
      const mint = raw.pendingActivities?.find((a) => a.activityType?.name === 'mintAsset');
      const detail = mint?.heartbeatDetails?.payloads?.[0]?.data;
      if (detail) sentTxHash = (JSON.parse(Buffer.from(detail).toString()) as { txHash: string }).txHash;
      else await new Promise((r) => setTimeout(r, 200));
    }
    expect(sentTxHash).toMatch(/^0x[0-9a-f]{64}$/);
    const pending = await waitForPending(sentTxHash!);
    expect(pending).toBe(true);

    worker.child.kill('SIGKILL');
    await new Promise((r) => worker.child.once('exit', r));

    // The chain moves on without the worker: the transaction is mined.
    await jsonRpc(config.ATELIER_ETH_RPC_URL, 'evm_mine');
    await jsonRpc(config.ATELIER_ETH_RPC_URL, 'evm_setAutomine', [true]);

    worker = await spawnWorkerProcess();
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.mint?.txHash).toBe(sentTxHash);
    expect(result.mint?.alreadyMinted).toBe(true);

    const { contract, close } = chain();
    try {
      expect((await contract.tokenOfAsset(assetId)).toString()).toBe(result.tokenId);
      const mints = await contract.queryFilter(contract.getEvent('AssetMinted')(assetId), 0);
      expect(mints).toHaveLength(1);
      expect(await contract.balanceOf(spec.recipient)).toBeGreaterThanOrEqual(1n);
    } finally {
      close();
    }
  } finally {
    worker.child.kill('SIGKILL');
    await jsonRpc(config.ATELIER_ETH_RPC_URL, 'evm_setAutomine', [true]);
  }
});

async function waitForPending(txHash: string): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    const tx = (await jsonRpc(config.ATELIER_ETH_RPC_URL, 'eth_getTransactionByHash', [txHash])) as { blockNumber: string | null } | null;
    if (tx) return tx.blockNumber === null;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
