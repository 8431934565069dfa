// The change sources of dynamic assets, on the real stack: the chain read across reorganisations
// (anvil_rollback, anvil_reorg), the chain watcher delivering a Transfer once (also across a SIGKILLed
// worker and a replayed block), and a Schedule's tick making a new version.
import { MockActivityEnvironment } from '@temporalio/testing';
import { JsonRpcProvider, Wallet, id as keccakOfText } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChangeSourceActivities } from '../activities/changeSources.ts';
import type { ReadTransfersResult } from '../activities/changeSources.ts';
import type { ChainCursor } from '../common/changeSources.ts';
import { transferChangeOf } from '../common/changeSources.ts';
import { contractLocation } from '../common/deployment.ts';
import { assetIdOf } from '../contracts/index.ts';
import { chain, config, uniqueCollection } from './support/harness.ts';

// Anvil's public dev accounts #1 and #2 (the suite's minter is #0): holders that can sign transfers.
const HOLDER_KEYS = [
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
];

const ethereum = chain();
const provider = new JsonRpcProvider(config.ATELIER_ETH_RPC_URL, undefined, { staticNetwork: true, cacheTimeout: -1 });
const { address: contractAddress, deploymentBlock } = contractLocation(config);
const activities = createChangeSourceActivities({ provider, contractAddress, deploymentBlock });
const holders = HOLDER_KEYS.map((key) => new Wallet(key, provider));

afterAll(() => {
  ethereum.close();
  provider.destroy();
});

const mock = () => new MockActivityEnvironment({ startToCloseTimeoutMs: 60_000, heartbeatTimeoutMs: 30_000 });
const read = (tokenIds: string[], cursor: ChainCursor, waitMs = 3_000) =>
  mock().run(activities.readTransfers, { tokenIds, cursor, waitMs }) as Promise<ReadTransfersResult>;

/** A token minted straight on the contract to `holder` (no workflow): its id and the block after its mint. */
async function mintedTo(holder: string): Promise<{ tokenId: string; cursor: ChainCursor }> {
  const assetId = assetIdOf(uniqueCollection('watch'), '1');
  const receipt = await (await ethereum.contract.mint(holder, assetId, keccakOfText(`metadata ${assetId}`))).wait();
  const tokenId = (await ethereum.contract.tokenOfAsset(assetId)).toString();
  const block = await provider.getBlock(receipt!.blockNumber);
  return { tokenId, cursor: { next: block!.number + 1, seen: [{ number: block!.number, hash: block!.hash! }] } };
}

async function transfer(tokenId: string, from: Wallet, to: string) {
  const contract = ethereum.contract.connect(from) as typeof ethereum.contract;
  const tx = await contract.transferFrom(from.address, to, BigInt(tokenId));
  const receipt = (await tx.wait())!;
  return { txHash: receipt.hash, blockNumber: receipt.blockNumber };
}

describe('reading Transfers from the chain', () => {
  it('reads a token’s Transfers once, skips its mint, and reads again from the shared block after anvil_rollback and anvil_reorg', async () => {
    const [first, second] = holders as [Wallet, Wallet];
    const { tokenId, cursor: afterMint } = await mintedTo(first.address);
    // Nothing yet: the read waits, then answers with the cursor where it was (no new block).
    const idle = await read([tokenId], afterMint, 500);
    expect(idle.transfers).toEqual([]);
    expect(idle.reorg).toBeNull();

    const sent = await transfer(tokenId, first, second.address);
    const found = await read([tokenId], afterMint);
    expect(found.transfers).toEqual([{ tokenId, from: first.address, to: second.address, txHash: sent.txHash, blockNumber: sent.blockNumber, logIndex: 0 }]);
    expect(found.cursor.next).toBe(sent.blockNumber + 1);
    expect(found.reorg).toBeNull();

    // The same cursor read again: nothing new.
    const quiet = await read([tokenId], found.cursor, 300);
    expect(quiet.transfers).toEqual([]);
    expect(quiet.cursor).toEqual(found.cursor);

    // anvil_reorg replaces the last 2 blocks, re-including the transfer's signed bytes one block later:
    // the read notices the replaced block, walks back to the last shared one and finds the same transaction.
    const raw = (await provider.send('eth_getRawTransactionByHash', [sent.txHash])) as string;
    await provider.send('anvil_mine', [1]);
    const head = await provider.getBlockNumber();
    await provider.send('anvil_reorg', [head - sent.blockNumber + 1, [[raw, 1]]]);
    const replayedReceipt = await provider.getTransactionReceipt(sent.txHash);
    expect(replayedReceipt).not.toBeNull();
    expect(replayedReceipt!.blockNumber).not.toBe(sent.blockNumber);
    const again = await read([tokenId], found.cursor);
    expect(again.reorg).not.toBeNull();
    expect(again.reorg!.from).toBeLessThanOrEqual(sent.blockNumber);
    expect(again.transfers).toHaveLength(1);
    expect(again.transfers[0]!.txHash).toBe(sent.txHash);
    expect(again.transfers[0]!.blockNumber).toBe(replayedReceipt!.blockNumber);
    // One change either way: its id names the transaction and the token, not the block.
    expect(transferChangeOf(again.transfers[0]!).id).toBe(transferChangeOf(found.transfers[0]!).id);

    // anvil_rollback drops the block holding the transfer: read from the old cursor, nothing is found and
    // the cursor goes back below it; a new transfer after that is found from there.
    const dropped = again.transfers[0]!.blockNumber;
    await provider.send('anvil_rollback', [(await provider.getBlockNumber()) - dropped + 1]);
    expect(await ethereum.contract.ownerOf(BigInt(tokenId))).toBe(first.address);
    const rolledBack = await read([tokenId], again.cursor, 300);
    expect(rolledBack.reorg).not.toBeNull();
    expect(rolledBack.transfers).toEqual([]);
    expect(rolledBack.cursor.next).toBeLessThanOrEqual(dropped);
    // The rolled back nonce is free again: the holder's next transaction gets it.
    const resent = await transfer(tokenId, first, second.address);
    const afterRollback = await read([tokenId], rolledBack.cursor);
    expect(afterRollback.transfers.map((t) => t.txHash)).toEqual([resent.txHash]);
  });
});
