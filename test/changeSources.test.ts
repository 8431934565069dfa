// The change sources of dynamic assets, on the real stack: the chain read across reorganisations
// (anvil_rollback, anvil_reorg), the chain watcher delivering a Transfer once (also across a SIGKILLed
// worker and a replayed block), and a Schedule's tick making a new version.
import type { ChildProcess } from 'node:child_process';
import { MockActivityEnvironment } from '@temporalio/testing';
import { JsonRpcProvider, Wallet, id as keccakOfText } from 'ethers';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { createChangeSourceActivities } from '../activities/changeSources.ts';
import type { ReadTransfersResult } from '../activities/changeSources.ts';
import { AtelierClient } from '../client/atelier.ts';
import type { AssetSpec } from '../common/asset.ts';
import type { ChainCursor, ChainWatcherInput, ChainWatcherStatus } from '../common/changeSources.ts';
import { chainWatcherIdOf, scheduledTimeFromWorkflowId, transferChangeOf } from '../common/changeSources.ts';
import { contractLocation } from '../common/deployment.ts';
import type { DynamicSpec, DynamicStatus, DynamicTrait } from '../common/dynamic.ts';
import { dynamicScheduleIdOf, dynamicWorkflowIdOf } from '../common/dynamic.ts';
import { assetIdOf, tokenUriOf } from '../contracts/index.ts';
import { chainWatcherStatusQuery, dynamicStatusQuery, watchTokenSignal } from '../workflows/messages.ts';
import { chain, config, killProcess, saveHistoryIfAsked, spawnWorkerProcess, testSpec, uniqueCollection, waitFor } from './support/harness.ts';

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
async function mintedTo(holder: string): Promise<{ tokenId: string; collectionId: string; cursor: ChainCursor }> {
  const collectionId = uniqueCollection('watch');
  const assetId = assetIdOf(collectionId, '1');
  const receipt = await (await ethereum.contract.mint(holder, assetId, keccakOfText(`metadata ${assetId}`))).wait();
  const tokenId = (await ethereum.contract.tokenOfAsset(assetId)).toString();
  const block = await provider.getBlock(receipt!.blockNumber);
  return { tokenId, collectionId, cursor: { next: block!.number + 1, seen: [{ number: block!.number, hash: block!.hash! }] } };
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

describe('a reorganisation during a read', () => {
  /** A provider that, the first time a read asks for the head, first has anvil replace blocks: after the read's check of its last block. */
  class ReorganisingProvider extends JsonRpcProvider {
    reorganise: (() => Promise<void>) | undefined;
    override async getBlockNumber(): Promise<number> {
      const reorganise = this.reorganise;
      this.reorganise = undefined;
      await reorganise?.();
      return super.getBlockNumber();
    }
  }

  it('is noticed when it lands between the check of the last block read and the read of the blocks after it', async () => {
    const racing = new ReorganisingProvider(config.ATELIER_ETH_RPC_URL, undefined, { staticNetwork: true, cacheTimeout: -1 });
    try {
      const raced = createChangeSourceActivities({ provider: racing, contractAddress, deploymentBlock });
      const [first, second] = holders as [Wallet, Wallet];
      const { tokenId, cursor: afterMint } = await mintedTo(first.address);
      const sent = await transfer(tokenId, first, second.address);
      const found = await read([tokenId], afterMint);
      expect(found.cursor.seen.at(-1)!.number).toBe(sent.blockNumber);
      // The transfer's block and one on top are replaced, the transfer re-included one block later.
      const raw = (await provider.send('eth_getRawTransactionByHash', [sent.txHash])) as string;
      await provider.send('anvil_mine', [1]);
      const head = await provider.getBlockNumber();
      racing.reorganise = () => provider.send('anvil_reorg', [head - sent.blockNumber + 1, [[raw, 1]]]);
      const after = (await mock().run(raced.readTransfers, { tokenIds: [tokenId], cursor: found.cursor, waitMs: 3_000 })) as ReadTransfersResult;
      expect(racing.reorganise).toBeUndefined();
      expect(after.reorg).not.toBeNull();
      expect(after.reorg!.from).toBeLessThanOrEqual(sent.blockNumber);
      expect(after.transfers.map((t) => [t.txHash, t.blockNumber])).toEqual([[sent.txHash, sent.blockNumber + 1]]);
      // Every block the cursor keeps as read is the chain's now.
      for (const { number, hash } of after.cursor.seen) expect((await provider.getBlock(number))!.hash).toBe(hash);
    } finally {
      racing.destroy();
    }
  });
});

/** A layers asset whose hat changes with its transfers or a Schedule's ticks, minted to dev account #1 without approval. */
function dynamicSpec(trait: DynamicTrait): AssetSpec {
  return testSpec({
    collectionId: uniqueCollection('dynamic'),
    recipient: holders[0]!.address,
    generator: { kind: 'layers', layerSet: 'critters', traits: { hat: 'none' }, seed: 7 },
    approval: { policy: 'auto' },
    dynamic: { traits: [trait], approval: 'auto' },
  });
}

/** The asset's dynamic workflow's status once it answers and `ready` holds. */
async function dynamicStatus(client: AtelierClient, spec: AssetSpec, what: string, ready: (s: DynamicStatus) => boolean, timeoutMs = 120_000) {
  const handle = client.temporal.workflow.getHandle(dynamicWorkflowIdOf(spec.collectionId, spec.assetKey));
  return waitFor(
    what,
    async () => {
      const status = await handle.query(dynamicStatusQuery);
      return ready(status) ? status : undefined;
    },
    timeoutMs,
  );
}

describe('reading Transfers some blocks deep', () => {
  it('with confirmations 2, a Transfer is read once one block is on top of it', async () => {
    const deep = createChangeSourceActivities({ provider, contractAddress, deploymentBlock, confirmations: 2 });
    const readDeep = (tokenIds: string[], cursor: ChainCursor, waitMs: number) =>
      mock().run(deep.readTransfers, { tokenIds, cursor, waitMs }) as Promise<ReadTransfersResult>;
    const [first, second] = holders as [Wallet, Wallet];
    const { tokenId, cursor } = await mintedTo(first.address);
    const sent = await transfer(tokenId, first, second.address);
    const early = await readDeep([tokenId], cursor, 500);
    expect(early.transfers).toEqual([]);
    expect(early.cursor.next).toBe(sent.blockNumber);
    await provider.send('anvil_mine', [1]);
    const deepEnough = await readDeep([tokenId], early.cursor, 3_000);
    expect(deepEnough.transfers.map((t) => t.txHash)).toEqual([sent.txHash]);
    expect(deepEnough.cursor.next).toBe(sent.blockNumber + 1);
  });
});

describe('change sources feeding a dynamic asset', () => {
  let client: AtelierClient;
  let worker: { child: ChildProcess; output: () => string } | undefined;
  const startWorker = async () => (worker = await spawnWorkerProcess());

  afterAll(async () => {
    await killProcess(worker?.child);
    await client?.close();
  });

  it('a Transfer makes one new version; also across a SIGKILLed worker and a reorg that replays its block', async () => {
    onTestFailed(() => console.log(`the worker's last output:\n${worker?.output().slice(-12_000)}`));
    client = await AtelierClient.connect(config);
    await startWorker();
    const [first, second] = holders as [Wallet, Wallet];
    const spec = dynamicSpec({
      name: 'hat',
      source: { kind: 'chain', event: 'Transfer' },
      match: 'atLeast',
      options: { '1': 'beanie', '2': 'crown', '3': 'leaf' },
    });
    await client.start(spec);
    const minted = await dynamicStatus(client, spec, 'the dynamic workflow of the minted asset', (s) => s.version === 1, 180_000);
    const tokenId = minted.tokenId;
    const { chainId } = await provider.getNetwork();
    const watcher = client.temporal.workflow.getHandle(chainWatcherIdOf(Number(chainId), contractAddress));
    const watcherStatus = () => watcher.query(chainWatcherStatusQuery);
    /** The watcher's state, its activity under way (attempt, last failure) and the chain's blocks since the token's mint. */
    const explainWatcher = async () => {
      const [status, description, head] = await Promise.all([watcherStatus(), watcher.describe(), provider.getBlockNumber()]);
      const activities = (description.raw.pendingActivities ?? []).map((a) => ({
        type: a.activityType?.name,
        state: a.state,
        attempt: a.attempt,
        lastFailure: a.lastFailure?.message,
        lastHeartbeat: a.lastHeartbeatTime?.seconds?.toString(),
      }));
      const blocks: string[] = [];
      for (let n = Math.max(0, head - 8); n <= head; n++) blocks.push(`${n} ${(await provider.getBlock(n))?.hash}`);
      return `watcher: ${JSON.stringify(status)}\nits activities: ${JSON.stringify(activities)}\nthe chain now: ${blocks.join(', ')} (watcher run ${description.runId}, ${description.status.name})`;
    };
    await waitFor('the watcher to follow the token', async () => ((await watcherStatus()).tokens.some((t) => t.tokenId === tokenId) ? true : undefined));

    /** Waits until the watcher has read past `blockNumber` and delivered everything it found. */
    const watcherPast = (blockNumber: number) =>
      waitFor<ChainWatcherStatus>(
        `the watcher to read past block ${blockNumber}`,
        async () => {
          const status = await watcherStatus();
          return status.cursor && status.cursor.next > blockNumber && status.pending.length === 0 ? status : undefined;
        },
        60_000,
        explainWatcher,
      );
    const versionsOf = (status: DynamicStatus, changeId: string) => status.versions.filter((v) => v.cause.id === changeId);
    const expectTokenAt = async (status: DynamicStatus) => {
      expect(await ethereum.contract.tokenURI(BigInt(tokenId))).toBe(tokenUriOf({ metadataCid: status.versions.at(-1)!.metadataCid }));
    };

    // 1. A transfer: one new version, the hat the first transfer maps to, and the token points at it.
    const one = await transfer(tokenId, first, second.address);
    const started = Date.now();
    const oneId = transferChangeOf({ tokenId, from: first.address, to: second.address, txHash: one.txHash, blockNumber: 0, logIndex: 0 }).id;
    const v2 = await dynamicStatus(client, spec, 'version 2', (s) => s.version === 2);
    await waitFor('the token to point at version 2', async () =>
      (await ethereum.contract.tokenURI(BigInt(tokenId))) === tokenUriOf({ metadataCid: v2.versions.at(-1)!.metadataCid }) ? true : undefined,
    );
    const transferToUri = Date.now() - started;
    console.log(`[changeSources] Transfer -> new tokenURI in ${(transferToUri / 1000).toFixed(1)} s`);
    expect(versionsOf(v2, oneId)).toHaveLength(1);
    expect(v2.versions.at(-1)!.traits.hat).toBe('beanie');
    expect(v2.counters.hat).toBe(1);

    // 2. The worker is SIGKILLed right after a second transfer and started again: one version for it.
    const two = await transfer(tokenId, second, first.address);
    await killProcess(worker!.child);
    await startWorker();
    const twoId = `chain:Transfer:${two.txHash}:${tokenId}`;
    await dynamicStatus(client, spec, 'version 3', (s) => s.version === 3);
    await watcherPast(two.blockNumber);
    const v3 = await dynamicStatus(client, spec, 'version 3 settled', (s) => s.queued.length === 0);
    expect(v3.version).toBe(3);
    expect(versionsOf(v3, twoId)).toHaveLength(1);
    expect(v3.versions.at(-1)!.traits.hat).toBe('crown');
    await expectTokenAt(v3);

    // Untrusted signals are dropped with a warning, never a failed task: a bad shape, and a real
    // token claimed for another asset (the chain says it is not that asset's).
    await watcher.signal(watchTokenSignal, { tokenId: 'x', collectionId: 'Bad Slug', assetKey: '1' } as never);
    await watcher.signal(watchTokenSignal, { tokenId: '1'.repeat(100), collectionId: 'a', assetKey: '1' });
    await watcher.signal(watchTokenSignal, { tokenId, collectionId: uniqueCollection('forged'), assetKey: '1' });
    await waitFor('the forged claim to be checked', async () => ((await watcherStatus()).joining === 0 ? true : undefined));
    expect((await watcherStatus()).tokens).toEqual([{ tokenId, collectionId: spec.collectionId, assetKey: spec.assetKey }]);

    // 3. A third transfer makes version 4; then anvil_reorg replaces its block and every later one,
    // replaying their transactions one block later: the same transfer, still one version.
    const three = await transfer(tokenId, first, second.address);
    const threeId = `chain:Transfer:${three.txHash}:${tokenId}`;
    const v4 = await dynamicStatus(client, spec, 'version 4', (s) => s.version === 4 && s.queued.length === 0);
    await watcherPast(three.blockNumber);
    const reorgsBefore = (await watcherStatus()).totals.reorgs;
    await provider.send('anvil_mine', [1]);
    const head = await provider.getBlockNumber();
    const replayed: [string, number][] = [];
    for (let n = three.blockNumber; n <= head; n++) {
      for (const hash of (await provider.getBlock(n))!.transactions) replayed.push([(await provider.send('eth_getRawTransactionByHash', [hash])) as string, 1]);
    }
    await provider.send('anvil_reorg', [head - three.blockNumber + 1, replayed]);
    const moved = (await provider.getTransactionReceipt(three.txHash))!;
    expect(moved.blockNumber).toBe(three.blockNumber + 1);
    const afterReorg = await waitFor(
      'the watcher to notice the reorg',
      async () => {
        const status = await watcherStatus();
        return status.totals.reorgs > reorgsBefore && status.cursor!.next > moved.blockNumber && status.pending.length === 0 ? status : undefined;
      },
      60_000,
      explainWatcher,
    );
    expect(afterReorg.lastReorg!.from).toBeLessThanOrEqual(three.blockNumber);
    const settled = await dynamicStatus(client, spec, 'no change queued', (s) => s.queued.length === 0);
    expect(settled.version).toBe(4);
    expect(versionsOf(settled, threeId)).toHaveLength(1);
    expect(settled.recent.filter((r) => r.id === threeId)).toHaveLength(1);
    expect(settled.versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
    expect(settled.counters.hat).toBe(3);
    // The watcher delivered each transfer once, whatever was read twice.
    expect((await watcherStatus()).totals).toMatchObject({ delivered: 3, skipped: 0 });
    await saveHistoryIfAsked(watcher.workflowId, 'chain-watcher');
    await expectTokenAt(v4);
  }, 420_000);

  it('a Schedule registered for a trait ticks on trigger() and makes a new version', async () => {
    client ??= await AtelierClient.connect(config);
    if (!worker || worker.child.exitCode !== null) await startWorker();
    const spec = dynamicSpec({ name: 'hat', source: { kind: 'schedule', every: '1h' }, match: 'atLeast', options: { '1': 'crown' } });
    await client.start(spec);
    await dynamicStatus(client, spec, 'the dynamic workflow of the minted asset', (s) => s.version === 1, 180_000);
    const schedule = client.temporal.schedule.getHandle(dynamicScheduleIdOf(spec.collectionId, spec.assetKey, 'hat'));
    const described = await waitFor('the Schedule', () => schedule.describe());
    expect(described.spec.intervals?.[0]?.every).toBe(60 * 60 * 1000);
    try {
      // Registering again (the same asset, a new period) brings the existing Schedule in line.
      const again = new MockActivityEnvironment(undefined, { client: client.temporal });
      const dynamic: DynamicSpec = {
        traits: [{ name: 'hat', source: { kind: 'schedule', every: '2h' }, match: 'atLeast', options: { '1': 'crown' } }],
        approval: 'auto',
      };
      await again.run(activities.registerChangeSources, {
        collectionId: spec.collectionId,
        assetKey: spec.assetKey,
        tokenId: '1',
        dynamic,
        taskQueue: config.ATELIER_TASK_QUEUE,
      });
      expect((await schedule.describe()).spec.intervals?.[0]?.every).toBe(2 * 60 * 60 * 1000);

      await schedule.trigger();
      const started = Date.now();
      const v2 = await dynamicStatus(client, spec, 'version 2 from the tick', (s) => s.version === 2);
      console.log(`[changeSources] Schedule tick -> version 2 in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const version = v2.versions.at(-1)!;
      expect(version.cause.name).toBe('schedule:hat');
      expect(version.cause.by).toBe('schedule');
      // The change id carries the tick's scheduled time, which is also the end of the tick's workflow id.
      const [action] = (await schedule.describe()).info.recentActions;
      const scheduledAt = scheduledTimeFromWorkflowId(action!.action.workflow.workflowId)!;
      expect(version.cause.id).toBe(`schedule:hat:${scheduledAt.toISOString()}`);
      await client.temporal.workflow.getHandle(action!.action.workflow.workflowId).result();
      await saveHistoryIfAsked(action!.action.workflow.workflowId, 'scheduled-change');
      expect(version.traits.hat).toBe('crown');
      expect(await ethereum.contract.tokenURI(BigInt(v2.tokenId))).toBe(tokenUriOf({ metadataCid: version.metadataCid }));
    } finally {
      await schedule.delete();
    }

    // A tick for an asset with no dynamic workflow, or for a trait the asset does not have, fails for good with the reason.
    const tick = (collectionId: string, trait: string) =>
      client.temporal.workflow.execute('scheduledChange', {
        workflowId: `test-tick:${collectionId}:${trait}`,
        taskQueue: config.ATELIER_TASK_QUEUE,
        args: [{ collectionId, assetKey: spec.assetKey, trait }],
      });
    await expect(tick(uniqueCollection('nobody'), 'hat')).rejects.toMatchObject({ cause: { cause: { type: 'NoDynamicWorkflow' } } });
    await expect(tick(spec.collectionId, 'wings')).rejects.toMatchObject({ cause: { cause: { type: 'ChangeRefused' } } });
  }, 300_000);

  it('the watcher carries its tokens, cursor and delivered ids over continue-as-new, and skips a change no asset takes', async () => {
    client ??= await AtelierClient.connect(config);
    if (!worker || worker.child.exitCode !== null) await startWorker();
    const [first, second] = holders as [Wallet, Wallet];
    // A token minted straight on the contract: no asset run, no dynamic workflow to take its changes.
    const { tokenId, collectionId } = await mintedTo(first.address);
    const { chainId } = await provider.getNetwork();
    const input: ChainWatcherInput = { chainId: Number(chainId), contract: contractAddress, settings: { readWaitMs: 1_000, readsPerRun: 2 } };
    // Its own watcher (another id), continuing as new every 2 reads.
    const watcher = await client.temporal.workflow.signalWithStart('chainWatcher', {
      workflowId: `${chainWatcherIdOf(input.chainId, input.contract)}:test-${collectionId}`,
      taskQueue: config.ATELIER_TASK_QUEUE,
      args: [input],
      signal: watchTokenSignal,
      signalArgs: [{ tokenId, collectionId, assetKey: '1' }],
    });
    try {
      const status = (ready: (s: ChainWatcherStatus) => boolean, what: string) =>
        waitFor(what, async () => {
          const s = await watcher.query(chainWatcherStatusQuery);
          return ready(s) ? s : undefined;
        });
      await status((s) => s.tokens.length === 1, 'the token admitted');
      const one = await transfer(tokenId, first, second.address);
      const afterOne = await status((s) => s.totals.skipped === 1, 'the first change skipped (no dynamic workflow)');
      await status((s) => s.run >= afterOne.run + 2, 'two more runs');
      const two = await transfer(tokenId, second, first.address);
      const final = await status((s) => s.totals.skipped === 2 && s.cursor!.next > two.blockNumber, 'the second change skipped');
      expect(final.tokens).toEqual([{ tokenId, collectionId, assetKey: '1' }]);
      expect(final.totals.delivered).toBe(0);
      expect(final.recent.slice(-2)).toEqual([`chain:Transfer:${one.txHash}:${tokenId}`, `chain:Transfer:${two.txHash}:${tokenId}`]);
      expect(final.run).toBeGreaterThanOrEqual(3);
      expect(final.totals.reads).toBeGreaterThanOrEqual(2 * (final.run - 1));
      await saveHistoryIfAsked(watcher.workflowId, 'chain-watcher-continued');
    } finally {
      await watcher.terminate('test done');
    }
  }, 120_000);
});
