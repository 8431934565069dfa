// Batch minting through the minter workflow, on the real stack. Each test mints with a signer of
// its own (funded, granted MINTER_ROLE), so each has its own minter and nonce sequence.
import type { ChildProcess } from 'node:child_process';
import { Wallet, id as keccakOfText } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import type { AssetResult } from '../common/asset.ts';
import { assetIdOf, mintedTokensFromReceipt } from '../contracts/index.ts';
import { minterIdOf } from '../activities/mintBatch.ts';
import { minterStatusQuery } from '../workflows/messages.ts';
import { jsonRpc } from '../scripts/lib/stack.ts';
import {
  chain,
  config,
  gatewayGet,
  killProcess,
  newMinterSigner as newSigner,
  pooledTxsOf,
  recordedRpc,
  spawnWorkerProcess,
  startWorker,
  testSpec,
  uniqueCollection,
  waitFor,
} from './support/harness.ts';

let client: AtelierClient;
let ethereum: ReturnType<typeof chain>;
const rpc = (method: string, params: unknown[] = []) => jsonRpc(config.ATELIER_ETH_RPC_URL, method, params);

beforeAll(async () => {
  client = await AtelierClient.connect(config);
  ethereum = chain();
});
afterAll(async () => {
  await rpc('evm_setAutomine', [true]);
  ethereum?.close();
  await client?.close();
});

/** A fresh signer with gas money and MINTER_ROLE: a minter of its own. */
async function newMinterSigner() {
  const signer = await newSigner();
  const chainId = Number((await ethereum.provider.getNetwork()).chainId);
  return { ...signer, minterId: minterIdOf(chainId, await ethereum.contract.getAddress(), signer.address) };
}

/** `count` auto-approved assets of one new collection, minted in batch mode to one new recipient. */
function batchSpecs(count: number) {
  const collectionId = uniqueCollection('batch');
  const recipient = Wallet.createRandom().address;
  return Array.from({ length: count }, (_, i) =>
    testSpec({
      collectionId,
      assetKey: String(i + 1),
      name: `Batch Critter #${i + 1}`,
      recipient,
      generator: { kind: 'layers', layerSet: 'critters', traits: {}, seed: 1000 + i },
      // Two renditions, not four: 50 assets' image work stays modest on a 2-core machine.
      renditions: ['original', 'thumb-256'],
      approval: { policy: 'auto' },
      mint: { mode: 'batch' },
    }),
  );
}

async function startAll(specs: ReturnType<typeof batchSpecs>) {
  return Promise.all(specs.map(async (spec) => (await client.start(spec)).workflowId));
}

/** What a person checks on chain: one token per asset, owned by the recipient, from which transactions. */
async function onChain(specs: ReturnType<typeof batchSpecs>, results: AssetResult[]) {
  const tokens = await Promise.all(specs.map((s) => ethereum.contract.tokenOfAsset(assetIdOf(s.collectionId, s.assetKey))));
  const batchLogs = await ethereum.contract.queryFilter(ethereum.contract.getEvent('BatchMinted')(specs[0]!.recipient), 0);
  const receipts = await Promise.all([...new Set(batchLogs.map((l) => l.transactionHash))].map((h) => ethereum.provider.getTransactionReceipt(h)));
  const minted = receipts.flatMap((r) => mintedTokensFromReceipt(r!));
  results.forEach((result, i) => expect(result.tokenId).toBe(tokens[i]!.toString()));
  return { tokens, txHashes: receipts.map((r) => r!.hash), mintedAssetIds: minted.map((m) => m.assetId) };
}

/** The signer's (first) transaction waiting in Anvil's pool (automine off). */
const pendingTxOf = async (signer: string) => (await pooledTxsOf(signer))[0];

describe('minter workflow', () => {
  it('50 assets minting at once: at most ceil(50 / batch size) transactions, one token each, each tokenURI resolves to its own metadata', async () => {
    const batchSize = 10;
    const signer = await newMinterSigner();
    // A wait longer than the requests take to arrive, even on a busy machine, so every batch fills
    // (10 divides 50: no batch waits it out). Two batches a run: the minter continues as new twice meanwhile.
    const worker = await startWorker({
      ATELIER_SIGNER_KEY: signer.key,
      ATELIER_MINT_BATCH_SIZE: String(batchSize),
      ATELIER_MINT_BATCH_WAIT_MS: '600000',
      ATELIER_MINT_BATCHES_PER_RUN: '2',
    });
    try {
      const specs = batchSpecs(50);
      const started = Date.now();
      const workflowIds = await startAll(specs);
      const results = await Promise.all(workflowIds.map((id) => client.result(id)));
      console.log(`[minter] 50 batch-mode assets minted in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      expect(results.map((r) => r.stage)).toEqual(specs.map(() => 'minted'));

      const { tokens, txHashes, mintedAssetIds } = await onChain(specs, results);
      const sent = await ethereum.provider.getTransactionCount(signer.address, 'latest');
      console.log(`[minter] ${sent} transactions sent; ${txHashes.length} minted the 50 tokens`);
      expect(sent).toBeLessThanOrEqual(Math.ceil(50 / batchSize));
      expect(txHashes.length).toBe(sent);
      expect(new Set(results.map((r) => r.txHash))).toEqual(new Set(txHashes));
      // Exactly one token per asset: none is 0, no two are the same, and no asset was minted twice.
      expect(tokens.every((t) => t > 0n)).toBe(true);
      expect(new Set(tokens.map(String)).size).toBe(50);
      expect(mintedAssetIds).toHaveLength(50);
      expect(new Set(mintedAssetIds.map(String)).size).toBe(50);

      for (const [i, spec] of specs.entries()) {
        expect(await ethereum.contract.ownerOf(tokens[i]!)).toBe(spec.recipient);
        const uri = await ethereum.contract.tokenURI(tokens[i]!);
        expect(uri).toMatch(/^ipfs:\/\/bafybei[a-z2-7]+\/\d+$/);
        const viaToken = await gatewayGet(uri.slice('ipfs://'.length));
        expect(viaToken.equals(await gatewayGet(results[i]!.metadataCid!))).toBe(true);
        expect(JSON.parse(viaToken.toString()).name).toBe(spec.name);
      }

      // History stays bounded: the minter continued as new after every second batch.
      const runs = await waitFor('the minter runs in visibility', async () => {
        const listed = [];
        for await (const run of client.temporal.workflow.list({ query: `WorkflowId = '${signer.minterId}'` })) listed.push(run);
        return listed.length >= 3 ? listed : undefined;
      });
      expect(runs.filter((r) => r.status.name === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(2);
    } finally {
      await worker.stop();
    }
  }, 480_000);

  it('an asset already on chain is answered at once with its token: no minter, no transaction', async () => {
    const signer = await newMinterSigner();
    const [spec] = batchSpecs(1);
    const assetId = assetIdOf(spec!.collectionId, spec!.assetKey);
    await (await ethereum.contract.mint(spec!.recipient, assetId, keccakOfText('minted elsewhere'))).wait();
    const existing = await ethereum.contract.tokenOfAsset(assetId);
    const worker = await startWorker({ ATELIER_SIGNER_KEY: signer.key });
    try {
      const result = await client.result((await client.start(spec!)).workflowId);
      expect(result.stage).toBe('minted');
      expect(result.mint).toMatchObject({ tokenId: existing.toString(), alreadyMinted: true });
      expect(await ethereum.provider.getTransactionCount(signer.address, 'latest')).toBe(0);
      await expect(client.temporal.workflow.getHandle(signer.minterId).describe()).rejects.toThrow(/not found/i);
    } finally {
      await worker.stop();
    }
  });

  it('the worker SIGKILLed after the batch was sent and before its receipt, then restarted: still exactly one token each, from that one transaction', async () => {
    const signer = await newMinterSigner();
    const env = { ATELIER_SIGNER_KEY: signer.key, ATELIER_MINT_BATCH_SIZE: '3', ATELIER_MINT_BATCH_WAIT_MS: '600000' };
    const specs = batchSpecs(3);
    let worker: ChildProcess | undefined = (await spawnWorkerProcess(env)).child;
    const watched = await recordedRpc();
    try {
      await rpc('evm_setAutomine', [false]);
      const workflowIds = await startAll(specs);
      const sent = await waitFor('the batch transaction in the pool', () => pendingTxOf(signer.address));

      const minterRun = client.temporal.workflow.getHandle(signer.minterId);
      const batchActivity = async () => (await minterRun.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'awaitMintBatch');
      const atKill = await waitFor('the batch activity', batchActivity);
      await killProcess(worker);
      // The new worker reaches the chain through a recorder: the test sees what it asks.
      worker = (await spawnWorkerProcess({ ...env, ATELIER_ETH_RPC_URL: watched.url })).child;
      // Still pending while the new worker takes the batch over: it must wait for the transaction
      // sent before the kill (a second receipt query for it: it looked once and kept waiting), not
      // send another, nor give the batch up.
      const restarted = await waitFor(
        'the restarted worker to wait for the batch transaction, or to send one',
        async () => {
          if (watched.callsOf('eth_sendRawTransaction').length > 0) return 'sent a transaction';
          if (watched.callsOf('eth_getTransactionReceipt', sent.hash).length >= 2) return 'waits for the batch transaction';
          const now = await batchActivity();
          return !now || now.activityId !== atKill.activityId ? 'the batch wait ended before anything was mined' : undefined;
        },
        120_000,
      );
      expect(
        (await pooledTxsOf(signer.address)).map((tx) => tx.hash),
        "the signer's transactions in the pool",
      ).toEqual([sent.hash]);
      expect(watched.callsOf('eth_sendRawTransaction'), 'transactions the restarted worker sent').toEqual([]);
      expect(restarted).toBe('waits for the batch transaction');
      await rpc('evm_mine');
      await rpc('evm_setAutomine', [true]);

      const results = await Promise.all(workflowIds.map((id) => client.result(id)));
      expect(results.map((r) => r.stage)).toEqual(['minted', 'minted', 'minted']);
      expect(results.map((r) => r.txHash)).toEqual([sent.hash, sent.hash, sent.hash]);
      const { tokens, txHashes, mintedAssetIds } = await onChain(specs, results);
      expect(await ethereum.provider.getTransactionCount(signer.address, 'latest')).toBe(1);
      expect(txHashes).toEqual([sent.hash]);
      expect(new Set(tokens.map(String)).size).toBe(3);
      expect(mintedAssetIds).toHaveLength(3);
    } finally {
      await rpc('evm_setAutomine', [true]);
      await killProcess(worker);
      await watched.close();
    }
  }, 300_000);

  it('a transaction not mined in time is replaced with bumped fees (same nonce), and the batch completes once mined', async () => {
    const signer = await newMinterSigner();
    const worker = await startWorker({
      ATELIER_SIGNER_KEY: signer.key,
      ATELIER_MINT_BATCH_SIZE: '2',
      ATELIER_MINT_BATCH_WAIT_MS: '600000',
      ATELIER_MINT_REPLACE_AFTER_MS: '2000',
    });
    const specs = batchSpecs(2);
    try {
      await rpc('evm_setAutomine', [false]);
      const workflowIds = await startAll(specs);
      const first = await waitFor('the batch transaction in the pool', () => pendingTxOf(signer.address));
      const replacement = await waitFor('a replacement in the pool', async () => {
        const pending = await pendingTxOf(signer.address);
        return pending && pending.hash !== first.hash ? pending : undefined;
      });
      const status = await client.temporal.workflow.getHandle(signer.minterId).query(minterStatusQuery);
      expect(status.inFlight?.txHashes.slice(0, 2)).toEqual([first.hash, replacement.hash]);

      await rpc('evm_mine');
      await rpc('evm_setAutomine', [true]);
      const results = await Promise.all(workflowIds.map((id) => client.result(id)));
      expect(results.map((r) => r.stage)).toEqual(['minted', 'minted']);

      const minedHash = results[0]!.txHash!;
      expect(minedHash).not.toBe(first.hash);
      expect(await ethereum.provider.getTransactionReceipt(first.hash)).toBeNull();
      const mined = (await ethereum.provider.getTransaction(minedHash))!;
      expect(mined.nonce).toBe(0);
      expect(mined.maxFeePerGas! > BigInt(first.maxFeePerGas)).toBe(true);
      const { tokens, txHashes } = await onChain(specs, results);
      expect(txHashes).toEqual([minedHash]);
      expect(tokens.every((t) => t > 0n) && tokens[0] !== tokens[1]).toBe(true);
      expect(await ethereum.provider.getTransactionCount(signer.address, 'latest')).toBe(1);
    } finally {
      await rpc('evm_setAutomine', [true]);
      await worker.stop();
    }
  }, 180_000);
});
