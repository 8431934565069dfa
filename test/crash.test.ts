// Promise 2: a crash delays a run, never mints twice. The worker process is SIGKILLed while its
// mint transaction waits in the mempool, and a new worker starts while it still waits there: the
// chain holds no token yet, so only the transaction hash kept in the mint activity's heartbeat
// details keeps the next attempt from sending a second transaction. Mined only after that.
import { ZeroAddress } from 'ethers';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { AtelierClient } from '../client/atelier.ts';
import { assetIdOf } from '../contracts/index.ts';
import { jsonRpc } from '../scripts/lib/stack.ts';
import { chain, config, killProcess, newMinterSigner, pooledTxsOf, recordedRpc, spawnWorkerProcess, testSpec, waitFor } from './support/harness.ts';

const rpc = (method: string, params: unknown[] = []) => jsonRpc(config.ATELIER_ETH_RPC_URL, method, params);

let client: AtelierClient;
beforeAll(async () => {
  client = await AtelierClient.connect(config);
});
afterAll(async () => {
  await rpc('evm_setAutomine', [true]);
  await client?.close();
});

/** The mint activity's pending attempt, as the Temporal server describes it. */
async function pendingMint(handle: WorkflowHandle) {
  const { raw } = await handle.describe();
  return raw.pendingActivities?.find((a) => a.activityType?.name === 'mintAsset');
}

/** The transaction hash in the heartbeat details the server holds for the mint (what a new attempt gets). */
async function heartbeatTxHash(handle: WorkflowHandle): Promise<string | undefined> {
  const data = (await pendingMint(handle))?.heartbeatDetails?.payloads?.[0]?.data;
  return data?.length ? (JSON.parse(Buffer.from(data).toString()) as { txHash?: string }).txHash : undefined;
}

it('the worker killed with SIGKILL during mint and restarted while its transaction is still pending: the new attempt waits for that transaction, exactly one token', async () => {
  // A signer of its own: every transaction it ever sent is this test's.
  const signer = await newMinterSigner();
  const env = { ATELIER_SIGNER_KEY: signer.key };
  const spec = testSpec({ approval: { policy: 'auto' } });
  const assetId = assetIdOf(spec.collectionId, spec.assetKey);
  const watched = await recordedRpc();
  let worker = (await spawnWorkerProcess(env)).child;
  try {
    // Hold every transaction in the pool: the mint is sent but not mined.
    expect(await rpc('evm_setAutomine', [false])).toBeDefined();
    const { workflowId } = await client.start(spec);
    const handle = client.temporal.workflow.getHandle(workflowId);

    const [sent] = await waitFor('the mint transaction in the pool', async () => {
      const pooled = await pooledTxsOf(signer.address);
      return pooled.length > 0 ? pooled : undefined;
    });
    // Killed once the server holds the hash: a crash before that is another story (see the report).
    await waitFor('the transaction hash in the heartbeat details on the server', async () =>
      (await heartbeatTxHash(handle)) === sent!.hash ? true : undefined,
    );
    await killProcess(worker);

    // The new worker talks to the chain through a recorder: the test sees what it asks.
    worker = (await spawnWorkerProcess({ ...env, ATELIER_ETH_RPC_URL: watched.url })).child;
    // Its attempt (after the 10 s heartbeat timeout) finds no token and either waits for the
    // transaction it was handed (a second receipt query for that hash: its first wait ran out
    // and it looked again), or sends one of its own, or fails.
    const restarted = await waitFor(
      'the restarted attempt to wait for the transaction sent before the kill, or to send one',
      async () => {
        if (watched.callsOf('eth_sendRawTransaction').length > 0) return 'sent a transaction';
        if (watched.callsOf('eth_getTransactionReceipt', sent!.hash).length >= 2) return 'waits for the transaction sent before the kill';
        if (await pendingMint(handle)) return undefined;
        const { stage, error } = await client.status(workflowId);
        return `the mint activity ended before anything was mined (run ${stage}${error ? `: ${error}` : ''})`;
      },
      120_000,
    );
    expect(
      (await pooledTxsOf(signer.address)).map((tx) => tx.hash),
      "the signer's transactions in the pool",
    ).toEqual([sent!.hash]);
    expect(watched.callsOf('eth_sendRawTransaction'), 'transactions the restarted worker sent').toEqual([]);
    expect(restarted).toBe('waits for the transaction sent before the kill');

    // Only now is it mined.
    expect(await rpc('evm_mine')).toBeDefined();
    await rpc('evm_setAutomine', [true]);

    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.mint?.txHash).toBe(sent!.hash);

    const { contract, provider, close } = chain();
    try {
      expect((await contract.tokenOfAsset(assetId)).toString()).toBe(result.tokenId);
      const mints = await contract.queryFilter(contract.getEvent('AssetMinted')(assetId), 0);
      expect(mints.map((m) => m.transactionHash)).toEqual([sent!.hash]);
      const transfers = await contract.queryFilter(contract.getEvent('Transfer')(ZeroAddress, undefined, BigInt(result.tokenId!)), 0);
      expect(transfers.map((t) => t.transactionHash)).toEqual([sent!.hash]);
      expect(await contract.ownerOf(BigInt(result.tokenId!))).toBe(spec.recipient);
      // The signer sent one transaction in all (a reverted duplicate would count too).
      expect(await provider.getTransactionCount(signer.address, 'latest')).toBe(1);
    } finally {
      close();
    }
  } finally {
    await rpc('evm_setAutomine', [true]);
    await killProcess(worker);
    await watched.close();
  }
}, 180_000);
