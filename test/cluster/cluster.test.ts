// Scaling out on a real Temporal cluster (PostgreSQL, not the dev server): two worker processes
// serve one task queue; a 100-asset collection runs while one worker is SIGKILLed half way and the
// Temporal server is restarted; the other worker finishes it, and every asset is minted exactly
// once (the chain's tokens and owners, the minter's batches, the collection report). Then the same
// collection on one worker, as the baseline. Run by `npm run test:cluster` (vitest.cluster.config.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../../client/atelier.ts';
import { CollectionClient, isSettled, planCollection } from '../../client/collection.ts';
import type { CollectionProgress } from '../../common/collection.ts';
import { projectRoot } from '../../common/config.ts';
import { assetIdOf } from '../../contracts/index.ts';
import { Cluster } from '../../scripts/lib/cluster.ts';
import { chain, config, gatewayGet, killProcess, spawnWorkerProcess, uniqueCollection, waitFor } from '../support/harness.ts';
import { clusterPorts } from './env.ts';

const size = 100;
const workerEnv = { ATELIER_MINT_BATCH_SIZE: '20', ATELIER_MINT_BATCH_WAIT_MS: '500' };
const figures: Record<string, unknown> = {};

let atelier: AtelierClient;
let collections: CollectionClient;
let ethereum: ReturnType<typeof chain>;
const workers: ChildProcess[] = [];

/** The sample drop (samples/drops/critters.json), under a fresh id and recipient. */
function critters(label: string) {
  const spec = JSON.parse(fs.readFileSync(path.join(projectRoot, 'samples', 'drops', 'critters.json'), 'utf8')) as Record<string, unknown>;
  return planCollection({ ...spec, id: uniqueCollection(label), size, recipient: Wallet.createRandom().address });
}

async function startWorker(): Promise<ChildProcess> {
  const { child } = await spawnWorkerProcess(workerEnv);
  workers.push(child);
  return child;
}

/** Progress readings until the run settles; a reading that fails (the server restarting) counts as not yet. */
async function untilSettled(id: string, onProgress: (p: CollectionProgress) => Promise<void> = async () => {}): Promise<CollectionProgress> {
  return waitFor(
    `collection ${id} to settle`,
    async () => {
      const progress = await collections.progress(id);
      await onProgress(progress);
      return isSettled(progress) ? progress : undefined;
    },
    480_000,
  );
}

interface Report {
  minted: number;
  assets: { assetKey: string; tokenId: string | null; stage: string }[];
}

/** Every asset of the collection minted exactly once, to its recipient; the numbers for the figures. */
async function assertMintedOnce(id: string, recipient: string, done: CollectionProgress) {
  expect(done.phase).toBe('completed');
  expect(done.counts.minted).toBe(size);
  const assetIds = Array.from({ length: size }, (_, i) => assetIdOf(id, String(i + 1)));
  const tokens = await Promise.all(assetIds.map((assetId) => ethereum.contract.tokenOfAsset(assetId)));
  expect(tokens.every((t) => t !== 0n)).toBe(true);
  expect(new Set(tokens.map(String)).size).toBe(size);
  const owners = await Promise.all(tokens.map((t) => ethereum.contract.ownerOf(t)));
  expect(owners.every((owner) => owner === recipient)).toBe(true);
  expect(await ethereum.contract.balanceOf(recipient)).toBe(BigInt(size));

  // The minter's batches for this recipient hold each asset once: no second mint, not even a reverted-then-retried one that landed.
  const logs = await ethereum.contract.queryFilter(ethereum.contract.getEvent('BatchMinted')(recipient), 0);
  const minted = logs.flatMap((log) => ('args' in log ? (log.args.assetIds as bigint[]).map(String) : []));
  const duplicates = minted.length - new Set(minted).size;
  expect(duplicates).toBe(0);
  expect(new Set(minted)).toEqual(new Set(assetIds.map(String)));

  const report = JSON.parse((await gatewayGet(done.report!.reportCid)).toString('utf8')) as Report;
  expect(report.minted).toBe(size);
  expect(report.assets.map((a) => a.tokenId)).toEqual(tokens.map(String));
  return { duplicates, batches: logs.length };
}

describe.runIf(process.env.ATELIER_CLUSTER_SUITE === '1')('on a Temporal cluster on PostgreSQL', () => {
  beforeAll(async () => {
    atelier = await AtelierClient.connect(config);
    collections = new CollectionClient(atelier.temporal, config.ATELIER_TASK_QUEUE);
    ethereum = chain();
  });

  afterAll(async () => {
    for (const worker of workers) await killProcess(worker);
    ethereum?.close();
    await atelier?.close();
    if (Object.keys(figures).length > 0) {
      console.log(`[cluster] figures ${JSON.stringify(figures)}`);
      fs.writeFileSync(path.join(config.dataDir, 'figures.json'), JSON.stringify(figures, null, 2));
    }
  });

  it('two worker processes, one SIGKILLed half way, the server restarted mid-run: every asset minted exactly once', async () => {
    const cluster = new Cluster({ dataDir: config.dataDir, ...clusterPorts });
    const [first] = await Promise.all([startWorker(), startWorker()]);
    const plan = critters('cluster');
    const { id, recipient } = plan.spec;
    const started = Date.now();
    await collections.start(plan);
    let killedAt: number | undefined;
    let restartedAt: number | undefined;
    let mintedAtRestart = 0;
    const done = await untilSettled(id, async (p) => {
      const past = p.counts.ready + p.counts.minting + p.counts.minted;
      if (killedAt === undefined && past >= size / 2) {
        killedAt = Date.now();
        await killProcess(first);
        console.log(`[cluster] worker pid ${first!.pid} SIGKILLed at ${past}/${size} assets pinned (${((killedAt - started) / 1000).toFixed(1)} s)`);
      } else if (killedAt !== undefined && restartedAt === undefined && past >= (size * 3) / 4) {
        // Mid-run on the surviving worker: a quarter still to make, and nothing (or little) minted yet.
        restartedAt = Date.now();
        mintedAtRestart = p.counts.minted;
        figures.serverRestartMs = await cluster.restartServer((line) => console.log(`[cluster] ${line}`));
        console.log(`[cluster] server restarted at ${past}/${size} pinned, ${p.counts.minted} minted (${((restartedAt - started) / 1000).toFixed(1)} s)`);
      }
    });
    const wallSeconds = (Date.now() - started) / 1000;
    expect(killedAt, 'a worker was killed mid-run').toBeDefined();
    expect(restartedAt, 'the server was restarted mid-run').toBeDefined();
    expect(mintedAtRestart, 'assets minted before the server restart').toBeLessThan(size);
    const { duplicates, batches } = await assertMintedOnce(id, recipient as string, done);
    Object.assign(figures, {
      assets: size,
      twoWorkersOneKilledSeconds: Number(wallSeconds.toFixed(1)),
      workerKills: 1,
      serverRestarts: 1,
      duplicates,
      mintBatches: batches,
    });
    console.log(`[cluster] ${size} assets, two workers (one SIGKILLed) and a server restart: ${wallSeconds.toFixed(1)} s; duplicates: ${duplicates}`);
    for (const worker of workers.splice(0)) await killProcess(worker);
  }, 600_000);

  it('baseline: the same collection on one worker', async () => {
    await startWorker();
    const plan = critters('baseline');
    const started = Date.now();
    await collections.start(plan);
    const done = await untilSettled(plan.spec.id);
    const wallSeconds = (Date.now() - started) / 1000;
    const { duplicates } = await assertMintedOnce(plan.spec.id, plan.spec.recipient as string, done);
    figures.oneWorkerSeconds = Number(wallSeconds.toFixed(1));
    console.log(`[cluster] ${size} assets on one worker: ${wallSeconds.toFixed(1)} s; duplicates: ${duplicates}`);
  }, 600_000);
});
