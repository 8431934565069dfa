// Collections end to end on the real stack: a HashLips layer folder imported, 100 unique assets
// planned, made, published and minted through the batch minter, and checked as a collector would:
// on chain, through the gateway, against the report and the provenance hash.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Wallet } from 'ethers';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { CollectionClient, CollectionRefused, isSettled, planCollection } from '../client/collection.ts';
import { importHashLips } from '../client/hashlips.ts';
import type { CollectionProgress } from '../common/collection.ts';
import { collectionWorkflowIdOf } from '../common/collection.ts';
import { SpecError } from '../common/spec.ts';
import { assetIdOf } from '../contracts/index.ts';
import {
  atelierCli,
  chain,
  config,
  gatewayGet,
  killProcess,
  newMinterSigner,
  saveHistoryIfAsked,
  spawnWorkerProcess,
  startWorker,
  uniqueCollection,
  waitFor,
} from './support/harness.ts';

const layerSetsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-layers-'));
let atelier: AtelierClient;
let collections: CollectionClient;
let ethereum: ReturnType<typeof chain>;
let signer: { key: string; address: string };
let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
/** The worker's settings: small batches so that a 100-asset collection mints in several. */
let workerEnv: Record<string, string>;

/** A HashLips folder: `<Layer>/<Trait>#<weight>.png`, small PNGs drawn here. */
async function hashLipsFolder(): Promise<string> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hashlips-'));
  const size = 128;
  const layers: Record<string, [name: string, weight: number, draw: () => Promise<Buffer>][]> = {
    Background: ['#f4d35e', '#ee964b', '#0d3b66', '#83c5be', '#e5e5e5'].map((colour, i) => [
      `Tone ${i + 1}`,
      [30, 25, 20, 15, 10][i]!,
      () =>
        sharp({ create: { width: size, height: size, channels: 4, background: colour } })
          .png()
          .toBuffer(),
    ]),
    Body: ['#2a9d8f', '#e76f51', '#264653', '#8338ec', '#fb5607'].map((colour, i) => [
      `Shape ${i + 1}`,
      [40, 20, 20, 10, 10][i]!,
      () =>
        sharp(
          Buffer.from(
            `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><circle cx="64" cy="72" r="${30 + i * 4}" fill="${colour}"/></svg>`,
          ),
        )
          .png()
          .toBuffer(),
    ]),
    Eyes: [0, 1, 2, 3].map((i) => [
      `Eyes ${i + 1}`,
      [50, 30, 15, 5][i]!,
      () =>
        sharp(
          Buffer.from(
            `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><circle cx="52" cy="62" r="${3 + i * 2}" fill="#111"/><circle cx="76" cy="62" r="${3 + i * 2}" fill="#111"/></svg>`,
          ),
        )
          .png()
          .toBuffer(),
    ]),
    Hat: [0, 1, 2, 3].map((i) => [
      i === 0 ? 'None' : `Hat ${i}`,
      [40, 30, 20, 10][i]!,
      () =>
        sharp(
          Buffer.from(
            `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${i === 0 ? '' : `<rect x="${40 - i * 2}" y="${20 + i}" width="${48 + i * 4}" height="${12 + i * 3}" fill="hsl(${i * 90},70%,40%)"/>`}</svg>`,
          ),
        )
          .png()
          .toBuffer(),
    ]),
  };
  for (const [layer, options] of Object.entries(layers)) {
    fs.mkdirSync(path.join(root, layer));
    for (const [name, weight, draw] of options) fs.writeFileSync(path.join(root, layer, `${name}#${weight}.png`), await draw());
  }
  return root;
}

function collectionSpec(overrides: Record<string, unknown> = {}) {
  return {
    id: uniqueCollection('drop'),
    name: 'Test Drop',
    description: 'a collection made by the test suite',
    size: 100,
    seed: 2026,
    generator: { kind: 'layers', layerSet: 'hashlips-drop' },
    renditions: ['original', 'thumb-256'],
    recipient: Wallet.createRandom().address,
    approval: { mode: 'auto' },
    royalties: { receiver: Wallet.createRandom().address, basisPoints: 500 },
    metadata: { external_link: 'https://example.org/drop' },
    ...overrides,
  };
}

async function untilSettled(id: string, seen: CollectionProgress[] = [], timeoutMs = 400_000): Promise<CollectionProgress> {
  let lastError: string | undefined;
  return waitFor(
    `collection ${id} to settle`,
    async () => {
      const progress = await collections.progress(id).catch((error: Error) => {
        lastError = error.message;
        throw error;
      });
      seen.push(progress);
      return isSettled(progress) ? progress : undefined;
    },
    timeoutMs,
  ).catch((error: Error) => {
    // Where the collection stood, and why reading it failed, if it did.
    throw new Error(`${error.message}\nlast progress: ${JSON.stringify(seen.at(-1) ?? null)}\nlast error reading it: ${lastError ?? 'none'}`);
  });
}

interface Report {
  provenanceHash: string;
  tokenOrderMatchesProvenance: boolean;
  metadataRootCid: string;
  contractURI: string;
  minted: number;
  traits: { layer: string; option: string; count: number; frequency: number }[];
  assets: { assetKey: string; dna: string; tokenId: string | null; metadataCid: string | null; traits: Record<string, string>; stage: string; rank: number }[];
}

async function reportOf(progress: CollectionProgress): Promise<Report> {
  return JSON.parse((await gatewayGet(progress.report!.reportCid)).toString('utf8')) as Report;
}

/** The chain's token of each asset key, or null (tokenOfAsset answers 0, a token that never exists, for an asset with none). */
async function tokensOnChain(collectionId: string, size: number): Promise<(bigint | null)[]> {
  return Promise.all(
    Array.from({ length: size }, (_, i) =>
      ethereum.contract.tokenOfAsset(assetIdOf(collectionId, String(i + 1))).then((token) => (token === 0n ? null : token)),
    ),
  );
}

/**
 * A task queue of this file's own (its workers, the CLI, the worker process it kills): runs left
 * running by earlier files (watchers, waiting asset runs, retries) never take this file's worker slots.
 */
const taskQueue = `atelier-collections-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  process.env.ATELIER_LAYER_SETS_DIR = layerSetsDir;
  process.env.ATELIER_TASK_QUEUE = taskQueue;
  const imported = await importHashLips({
    from: await hashLipsFolder(),
    name: 'hashlips-drop',
    order: ['Background', 'Body', 'Eyes', 'Hat'],
    into: layerSetsDir,
  });
  expect(imported.combinations).toBe(400);
  atelier = await AtelierClient.connect(config);
  collections = new CollectionClient(atelier.temporal, taskQueue);
  ethereum = chain();
  // A signer of its own: its own minter (with this file's batch settings) and nonce sequence; admin
  // too, for contractURI and the royalty.
  signer = await newMinterSigner();
  await (await ethereum.contract.grantRole('0x' + '00'.repeat(32), signer.address)).wait();
  workerEnv = {
    ATELIER_LAYER_SETS_DIR: layerSetsDir,
    ATELIER_SIGNER_KEY: signer.key,
    ATELIER_MINT_BATCH_SIZE: '20',
    ATELIER_MINT_BATCH_WAIT_MS: '500',
    ATELIER_COLLECTION_CONCURRENCY: '8',
  };
  worker = await startWorker(workerEnv);
});

afterAll(async () => {
  await worker?.stop();
  ethereum?.close();
  await atelier?.close();
});

describe('a 100-asset collection', () => {
  it('is planned, made, published and minted in order; report, provenance and gateway agree; progress stays exact across continue-as-new', async () => {
    const plan = planCollection(collectionSpec());
    const id = plan.spec.id;
    // Every DNA unique before anything starts.
    expect(new Set(plan.dna.map((d) => d.join('-'))).size).toBe(100);
    await collections.start(plan, { historyLimit: 400 });
    const seen: CollectionProgress[] = [];
    const done = await untilSettled(id, seen);

    // Progress was exact at every reading: the counts always add up to the size, minted never went
    // back, and the run continued as new on the way.
    for (const p of seen) expect(Object.values(p.counts).reduce((a, b) => a + b, 0)).toBe(100);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.counts.minted).toBeGreaterThanOrEqual(seen[i - 1]!.counts.minted);
    expect(done.runs).toBeGreaterThan(1);
    expect(seen.some((p) => p.runs > 1 && p.counts.minted < 100)).toBe(true);
    expect(done.phase).toBe('completed');
    expect(done.counts.minted).toBe(100);

    // Each asset minted exactly once, to the recipient.
    const tokens = await tokensOnChain(id, 100);
    expect(tokens.every((t) => t !== null)).toBe(true);
    expect(new Set(tokens.map(String)).size).toBe(100);
    // Token order is the collection's order: token ids rise with the asset keys.
    for (let i = 1; i < 100; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    expect(await ethereum.contract.ownerOf(tokens[0]!)).toBe(plan.spec.recipient);

    const report = await reportOf(done);
    expect(report.minted).toBe(100);
    expect(new Set(report.assets.map((a) => a.dna)).size).toBe(100);
    expect(report.assets.map((a) => a.tokenId)).toEqual(tokens.map(String));
    expect(report.provenanceHash).toBe(done.published!.provenanceHash);

    // What a collector reads through the gateway: the metadata of each token under one directory,
    // its attributes counted equal the report's trait counts, and the images hash to the provenance.
    const counted = new Map<string, number>();
    const imageHashes: string[] = [];
    const byToken = [...report.assets].sort((a, b) => Number(a.tokenId) - Number(b.tokenId));
    for (const asset of byToken) {
      const metadata = JSON.parse((await gatewayGet(`${report.metadataRootCid}/${asset.tokenId}`)).toString('utf8')) as {
        image: string;
        attributes: { trait_type: string; value: string }[];
      };
      expect(metadata.attributes.map((a) => a.value)).toEqual(Object.values(asset.traits));
      for (const a of metadata.attributes) counted.set(`${a.trait_type}/${a.value}`, (counted.get(`${a.trait_type}/${a.value}`) ?? 0) + 1);
      const image = await gatewayGet(metadata.image.replace('ipfs://', ''));
      imageHashes.push(createHash('sha256').update(image).digest('hex'));
    }
    for (const trait of report.traits) expect(counted.get(`${trait.layer}/${trait.option}`) ?? 0).toBe(trait.count);
    expect(createHash('sha256').update(imageHashes.join('')).digest('hex')).toBe(done.published!.provenanceHash);
    expect(report.tokenOrderMatchesProvenance).toBe(true);

    // The collection metadata is the contract's contractURI and carries the hash and the royalty.
    expect(await ethereum.contract.contractURI()).toBe(done.published!.contractURI);
    const collectionMetadata = JSON.parse((await gatewayGet(done.published!.collectionMetadataCid)).toString('utf8')) as {
      provenance: { hash: string };
      seller_fee_basis_points: number;
    };
    expect(collectionMetadata.provenance.hash).toBe(done.published!.provenanceHash);
    expect(collectionMetadata.seller_fee_basis_points).toBe(500);
    const sheet = await sharp(await gatewayGet(done.published!.contactSheetCid!)).metadata();
    expect(sheet.format).toBe('png');
  }, 600_000);
});

describe('steering a collection', () => {
  it('paused: nothing new starts and nothing is released to mint until resumed', async () => {
    const plan = planCollection(collectionSpec({ size: 24, seed: 12, concurrency: 4 }));
    const id = plan.spec.id;
    await collections.start(plan);
    await waitFor('the first assets under way', async () => ((await collections.progress(id)).counts.generating > 0 ? true : undefined));
    const paused = await collections.pause(id, 'tester');
    expect(paused.paused).toBe(true);
    await expect(collections.pause(id, 'tester')).rejects.toThrow(/already paused/);
    // What was running finishes; nothing else starts, and nothing mints.
    const idle = await waitFor('the running assets to finish', async () => {
      const p = await collections.progress(id);
      return p.counts.generating + p.counts.awaiting_approval === 0 ? p : undefined;
    });
    expect(idle.counts.waiting).toBeGreaterThan(0);
    const stillIdle = await collections.progress(id);
    expect(stillIdle.counts.waiting).toBe(idle.counts.waiting);
    expect(stillIdle.counts.minted).toBe(0);
    await collections.resume(id, 'tester');
    const done = await untilSettled(id);
    expect(done.counts.minted).toBe(24);
  }, 600_000);

  it('a failing layer file fails its assets with the reason; once fixed, retry-failed mints them', async () => {
    // A set of its own whose one option is a broken PNG: assets drawing it fail, the others mint.
    await importHashLips({ from: await hashLipsFolder(), name: 'hashlips-broken', order: ['Background', 'Body', 'Eyes', 'Hat'], into: layerSetsDir });
    const setFile = path.join(layerSetsDir, 'hashlips-broken', 'Hat', 'Hat 3#10.png');
    const good = fs.readFileSync(setFile);
    fs.writeFileSync(setFile, good.subarray(0, 60));
    const plan = planCollection(collectionSpec({ size: 20, seed: 5, generator: { kind: 'layers', layerSet: 'hashlips-broken' } }));
    const id = plan.spec.id;
    const withBrokenHat = plan.dna.filter((dna) => plan.structure.layers[3]!.options[dna[3]!]!.name === 'Hat 3').length;
    expect(withBrokenHat).toBeGreaterThan(0);
    await collections.start(plan);
    const settled = await untilSettled(id);
    expect(settled.phase).toBe('settled');
    expect(settled.counts.failed).toBe(withBrokenHat);
    expect(settled.counts.minted).toBe(20 - withBrokenHat);
    expect(settled.failures[0]!.reason).toMatch(/Hat 3/);
    fs.writeFileSync(setFile, good);
    expect(await collections.retryFailed(id, 'tester')).toBe(withBrokenHat);
    const done = await waitFor(
      'the retried assets',
      async () => {
        const p = await collections.progress(id);
        return p.phase === 'completed' ? p : undefined;
      },
      300_000,
    );
    expect(done.counts.minted).toBe(20);
    expect(new Set((await tokensOnChain(id, 20)).map(String)).size).toBe(20);
    // Minted after the provenance was published: the report says the order no longer matches it.
    expect(done.report!.tokenOrderMatchesProvenance).toBe(false);
  }, 600_000);

  it('cancelled while minting: every asset ends minted with its token or cancelled with none', async () => {
    const plan = planCollection(collectionSpec({ size: 60, seed: 7 }));
    const id = plan.spec.id;
    await collections.start(plan);
    await waitFor('the first batch minted', async () => ((await collections.progress(id)).counts.minted > 0 ? true : undefined), 300_000);
    await collections.cancel(id, 'tester', 'changed our mind');
    const done = await untilSettled(id);
    expect(done.phase).toBe('cancelled');
    expect(done.counts.minted).toBeGreaterThan(0);
    expect(done.counts.minted + done.counts.cancelled).toBe(60);
    const tokens = await tokensOnChain(id, 60);
    const report = await reportOf(done);
    report.assets.forEach((asset, i) => {
      if (asset.stage === 'minted') expect(tokens[i]?.toString()).toBe(asset.tokenId);
      else {
        expect(asset.stage).toBe('cancelled');
        expect(tokens[i]).toBeNull();
      }
    });
    await expect(collections.cancel(id, 'tester', 'again')).rejects.toThrow(CollectionRefused);
  }, 600_000);

  it('sample mode: the rest waits until a person approved the sample and released it in one decision', async () => {
    const plan = planCollection(
      collectionSpec({ size: 12, seed: 99, approval: { mode: 'sample', sampleSize: 2, approvers: [], unsigned: true, remindAfter: '1h', expireAfter: '2h' } }),
    );
    const id = plan.spec.id;
    await collections.start(plan);
    const sampled = await waitFor('the sample to await approval', async () => {
      const p = await collections.progress(id);
      return p.counts.awaiting_approval === 2 ? p : undefined;
    });
    expect(sampled.counts.held).toBe(10);
    await expect(collections.approveRest(id, 'maria')).rejects.toThrow(/sample is not approved yet/);
    for (const key of sampled.sample!.assetKeys) await atelier.approve(`${id}:${key}`, { by: 'maria', via: 'cli' });
    await waitFor('the sample approved', async () => ((await collections.progress(id)).counts.ready === 2 ? true : undefined));
    await collections.approveRest(id, 'maria', 'the sample looks right');
    const done = await untilSettled(id);
    expect(done.counts.minted).toBe(12);
    expect(done.sample!.released!.by).toBe('maria');
    // A small collection's run and one sampled asset's, for the replay test.
    await saveHistoryIfAsked(collectionWorkflowIdOf(id), 'collection-sample');
    await saveHistoryIfAsked(`asset:${id}:${sampled.sample!.assetKeys[0]}`, 'collection-asset-sampled');
  }, 600_000);

  it('each mode: every asset awaits its own decision, a rejected one ends rejected and the rest mint', async () => {
    const plan = planCollection(
      collectionSpec({
        size: 3,
        seed: 42,
        approval: { mode: 'each', approvers: ['maria'], unsigned: true, remindAfter: '1h', expireAfter: '2h', maxRounds: 1 },
      }),
    );
    const id = plan.spec.id;
    await collections.start(plan);
    await waitFor('every asset awaiting approval', async () => ((await collections.progress(id)).counts.awaiting_approval === 3 ? true : undefined));
    await expect(atelier.approve(`${id}:1`, { by: 'mallory', via: 'cli' })).rejects.toThrow(/not an allowed approver|may not|mallory/);
    await atelier.approve(`${id}:1`, { by: 'maria', via: 'cli' });
    await atelier.approve(`${id}:2`, { by: 'maria', via: 'cli' });
    await atelier.reject(`${id}:3`, { by: 'maria', via: 'cli', comment: 'off brand' });
    const done = await untilSettled(id);
    expect(done.phase).toBe('completed');
    expect(done.counts).toMatchObject({ minted: 2, rejected: 1 });
    expect(done.published!.count).toBe(2);
    const tokens = await tokensOnChain(id, 3);
    expect(tokens[2]).toBeNull();
  }, 600_000);

  it('a forged report that an asset ended does not leave it behind: the report reads the runs, and the collection waits for it', async () => {
    const plan = planCollection(
      collectionSpec({ size: 2, seed: 8, approval: { mode: 'each', approvers: [], unsigned: true, remindAfter: '1h', expireAfter: '2h', maxRounds: 1 } }),
    );
    const id = plan.spec.id;
    await collections.start(plan);
    await waitFor('both assets awaiting approval', async () => ((await collections.progress(id)).counts.awaiting_approval === 2 ? true : undefined));
    // Anyone with namespace access can send this.
    await atelier.temporal.workflow.getHandle(collectionWorkflowIdOf(id)).signal('collectionAsset', { index: 0, event: 'ended', stage: 'rejected' });
    await waitFor('the forged end counted', async () => ((await collections.progress(id)).counts.rejected === 1 ? true : undefined));
    await atelier.approve(`${id}:1`, { by: 'maria', via: 'cli' });
    await atelier.approve(`${id}:2`, { by: 'maria', via: 'cli' });
    const done = await untilSettled(id);
    expect(done.phase).toBe('completed');
    expect(done.counts.minted).toBe(2);
    expect((await tokensOnChain(id, 2)).every((t) => t !== null)).toBe(true);
    // Its image was not in the hash published without it: the report says so.
    expect(done.published!.count).toBe(1);
    expect(done.report!.tokenOrderMatchesProvenance).toBe(false);
  }, 600_000);

  it('an impossible spec is refused at the edge and by the workflow, before any asset starts', async () => {
    const spec = collectionSpec({ size: 401 });
    expect(() => planCollection(spec)).toThrow(SpecError);
    expect(() => planCollection(spec)).toThrow(/400/);
    // Started by hand (past the edge): the run fails at once and no asset run exists.
    const handle = await atelier.temporal.workflow.start('collectionRun', {
      taskQueue,
      workflowId: collectionWorkflowIdOf(spec.id),
      args: [{ spec }],
    });
    await expect(handle.result()).rejects.toThrow();
    const history = await handle.fetchHistory();
    const failure = JSON.stringify(history.events?.at(-1));
    expect(failure).toMatch(/ImpossibleCollection/);
    expect(history.events?.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toBe(false);
  }, 600_000);
});

describe('the CLI', () => {
  it('plans without starting, refuses a bad spec naming its fields, starts with --wait and reports', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'collection-cli-'));
    const spec = collectionSpec({ size: 6, seed: 77 });
    const file = path.join(dir, 'collection.json');
    fs.writeFileSync(file, JSON.stringify(spec));
    const plan = await atelierCli(['collection', 'plan', file, '--sheet', path.join(dir, 'sheet.png')]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(`collection ${spec.id}: 6 unique DNA from seed 77`);
    expect((await sharp(path.join(dir, 'sheet.png')).metadata()).format).toBe('png');
    await expect(collections.progress(spec.id)).rejects.toThrow(/no collection/);

    fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ ...spec, size: 0, recipient: ['0x1'], approval: { mode: 'sometimes' } }));
    const bad = await atelierCli(['collection', 'start', path.join(dir, 'bad.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/size:/);
    expect(bad.stderr).toMatch(/recipient/);
    expect(bad.stderr).toMatch(/approval/);

    const started = await atelierCli(['collection', 'start', file, '--wait']);
    expect(started.code).toBe(0);
    expect(started.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^collection ${spec.id}: minted 6/6 in \\d+ s$`));
    const report = await atelierCli(['collection', 'report', spec.id, '--json']);
    const json = JSON.parse(report.stdout) as Report;
    expect(json.provenanceHash).toMatch(/^[0-9a-f]{64}$/);
    expect(json.assets.map((a) => a.assetKey)).toEqual(['1', '2', '3', '4', '5', '6']);
    for (const asset of json.assets) {
      expect(asset.tokenId).toMatch(/^[0-9]+$/);
      expect(asset.metadataCid).toMatch(/^baf/);
      expect(Object.keys(asset.traits)).toEqual(['Background', 'Body', 'Eyes', 'Hat']);
    }
    const csv = await atelierCli(['collection', 'report', spec.id, '--csv']);
    expect(csv.stdout.split('\n')[0]).toBe('layer,option,count,frequency');
    const status = await atelierCli(['collection', 'status', spec.id]);
    expect(status.stdout).toMatch(/minted\s+█+\s+6\/6/);
  }, 600_000);
});

describe('a worker killed mid-collection', () => {
  it('is restarted and the collection finishes, every asset minted once', async () => {
    await worker?.stop();
    worker = undefined;
    const plan = planCollection(collectionSpec({ size: 30, seed: 31 }));
    const id = plan.spec.id;
    let process1 = await spawnWorkerProcess(workerEnv);
    try {
      await collections.start(plan);
      await waitFor(
        'assets under way',
        async () => {
          const p = await collections.progress(id);
          return p.counts.ready + p.counts.minted >= 5 ? p : undefined;
        },
        120_000,
      );
      await killProcess(process1.child);
      process1 = await spawnWorkerProcess(workerEnv);
      const done = await untilSettled(id).catch((error: Error) => {
        // And what the restarted worker said.
        throw new Error(`${error.message}\nworker output (tail):\n${process1.output().slice(-6000)}`);
      });
      expect(done.counts.minted).toBe(30);
      const tokens = await tokensOnChain(id, 30);
      expect(new Set(tokens.map(String)).size).toBe(30);
      expect(tokens.every((t) => t !== null)).toBe(true);
      // Minted once: the contract holds one token per asset, and the minter's batches hold 30 assets in all.
      const minted = await ethereum.contract.queryFilter(ethereum.contract.getEvent('BatchMinted')(plan.spec.recipient as string), 0);
      expect(minted.reduce((n, log) => n + ('args' in log ? (log.args.assetIds as unknown[]).length : 0), 0)).toBe(30);
    } finally {
      await killProcess(process1.child);
    }
  }, 600_000);
});
