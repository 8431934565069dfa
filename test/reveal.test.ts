// A fair reveal on the real stack: a collection mints every token with one placeholder, then
// `atelier collection reveal` switches them all in one transaction, and each token shows the final
// metadata that the published offset predicts, read back as a collector would (the contract, raw
// JSON-RPC, the gateway), recomputed from the published record alone.
import { Interface, Wallet, id as keccakOfText } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { CollectionClient, isSettled, planCollection } from '../client/collection.ts';
import type { CollectionProgress } from '../common/collection.ts';
import { collectionWorkflowIdOf } from '../common/collection.ts';
import { checkCollectionSpec } from '../common/collectionSpec.ts';
import type { RevealRecord } from '../common/reveal.ts';
import { checkRevealRecord, placeholderMetadataOf, revealMappingOf, revealOffsetOf } from '../common/reveal.ts';
import { provenanceHashOf } from '../common/dna.ts';
import { assetIdOf, creativeAssetAbi } from '../contracts/index.ts';
import { jsonRpc } from '../scripts/lib/stack.ts';
import {
  atelierCli,
  chain,
  config,
  gatewayGet,
  killProcess,
  newMinterSigner,
  pooledTxsOf,
  recordedRpc,
  saveHistoryIfAsked,
  spawnWorkerProcess,
  startWorker,
  uniqueCollection,
  waitFor,
} from './support/harness.ts';

const SIZE = 12;
let atelier: AtelierClient;
let collections: CollectionClient;
let ethereum: ReturnType<typeof chain>;
let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
let signer: { key: string; address: string };
let workerEnv: Record<string, string>;
const rpc = (method: string, params: unknown[] = []) => jsonRpc(config.ATELIER_ETH_RPC_URL, method, params);

function revealSpec(overrides: Record<string, unknown> = {}) {
  return {
    id: uniqueCollection('reveal'),
    name: 'Hidden Critters',
    description: 'revealed after the mint',
    size: SIZE,
    seed: 4242,
    generator: { kind: 'layers', layerSet: 'critters' },
    renditions: ['original'],
    recipient: Wallet.createRandom().address,
    approval: { mode: 'auto' },
    reveal: { placeholder: { name: 'Unrevealed critter', description: 'revealed after the mint ends' } },
    ...overrides,
  };
}

beforeAll(async () => {
  atelier = await AtelierClient.connect(config);
  collections = new CollectionClient(atelier.temporal, config.ATELIER_TASK_QUEUE);
  ethereum = chain();
  // A signer of its own (its own minter and nonces), admin for contractURI, editor for the reveal.
  signer = await newMinterSigner();
  await (await ethereum.contract.grantRole('0x' + '00'.repeat(32), signer.address)).wait();
  await (await ethereum.contract.grantRole(keccakOfText('METADATA_EDITOR_ROLE'), signer.address)).wait();
  // Batches of exactly 5, never cut by time: the 12 tokens of the revealed collection and the 3 of
  // the other (same recipient) fill three batches; the other's 3 share the last with tokens 11 and 12.
  workerEnv = { ATELIER_SIGNER_KEY: signer.key, ATELIER_MINT_BATCH_SIZE: '5', ATELIER_MINT_BATCH_WAIT_MS: '120000' };
  worker = await startWorker(workerEnv);
});

afterAll(async () => {
  await rpc('evm_setAutomine', [true]);
  await worker?.stop();
  ethereum?.close();
  await atelier?.close();
});

describe('the reveal section of a collection spec', () => {
  it('names what is wrong with a placeholder', () => {
    const missing = checkCollectionSpec(revealSpec({ reveal: { placeholder: { description: 'no name' } } }));
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.problems.join('\n')).toMatch(/reveal\.placeholder\.name/);
    const badImage = checkCollectionSpec(revealSpec({ reveal: { placeholder: { name: 'x', image: 'ftp://nope' } } }));
    if (!badImage.ok) expect(badImage.problems.join('\n')).toMatch(/reveal\.placeholder\.image: expected an ipfs:\/\/ or https:\/\/ URI/);
    else expect.fail('an ftp image was accepted');
    const extra = checkCollectionSpec(revealSpec({ reveal: { placeholder: { name: 'x' }, when: 'later' } }));
    if (!extra.ok) expect(extra.problems.join('\n')).toMatch(/reveal: unknown field "when"/);
    else expect.fail('an unknown field was accepted');
  });
});

describe('checking a published reveal record', () => {
  const images = ['aa', 'bb', 'cc', 'dd'].map((b) => b.repeat(32));
  const hash = '0x' + 'f1'.repeat(32);
  const tokens = ['7', '8', '9', '12'];
  const metadata = tokens.map((t) => `bafkreimeta${t}`);
  const offset = revealOffsetOf(hash, 4);
  const record = {
    version: 1,
    provenanceHash: provenanceHashOf(images),
    count: 4,
    tokens,
    metadata,
    imageSha256: images,
    lastMintBlock: 40,
    revealBlock: { number: 41, hash },
    offset,
    mapping: revealMappingOf(tokens, metadata, offset),
  };

  it('recomputes offset and mapping, and names each thing that does not hold', () => {
    expect(offset).toBe(Number(BigInt(hash) % 4n));
    expect(record.mapping[0]).toEqual({ tokenId: '7', metadataCid: metadata[offset] });
    expect(checkRevealRecord(record).ok).toBe(true);
    const problems = (changed: Record<string, unknown>) => {
      const checked = checkRevealRecord({ ...record, ...changed });
      return checked.ok ? [] : checked.problems.join('\n');
    };
    expect(problems({ offset: (offset + 1) % 4 })).toMatch(/gives offset/);
    expect(problems({ mapping: revealMappingOf(tokens, metadata, (offset + 1) % 4) })).toMatch(/mapping differs/);
    expect(problems({ imageSha256: [...images].reverse() })).toMatch(/not the published provenance/);
    expect(problems({ revealBlock: { number: 42, hash } })).toMatch(/not the one after the last mint/);
    expect(problems({ tokens: tokens.slice(1) })).toMatch(/"count" is 4/);
  });
});

describe('a collection revealed after its mint', () => {
  it('reveal maps every token to the metadata that the published offset predicts', async () => {
    const plan = planCollection(revealSpec());
    const id = plan.spec.id;
    expect((await atelierCli(['collection', 'reveal', `no-such-${id}`])).code).toBe(4);
    // Beside it, a collection that does not reveal, to the same recipient, held until the first ten
    // tokens are minted: the minter puts its 3 in one batch with the last 2, and the reveal must
    // leave them as they are. (Held, because a batch cut across another collection's mint turn
    // would break the token order the provenance hash was computed in, and the reveal is refused.)
    const { reveal: _reveal, ...plainSpec } = revealSpec({ size: 3, seed: 77, recipient: plan.spec.recipient });
    const plain = planCollection(plainSpec);
    await collections.start(plain);
    // Steering Updates are taken once the run has its plan (its handlers come after).
    await waitFor('the other collection under way', async () => ((await collections.progress(plain.spec.id)).counts.generating > 0 ? true : undefined));
    await collections.pause(plain.spec.id, 'tester');
    await collections.start(plan);
    // Asked before the mint has ended: refused, nothing written.
    const early = await atelierCli(['collection', 'reveal', id]);
    expect(early.code).toBe(3);
    expect(early.stderr + early.stdout).toMatch(/the reveal comes after the mint has ended|already revealed/);

    await waitFor(`collection ${id}'s first ten tokens`, async () => ((await collections.progress(id)).counts.minted >= 10 ? true : undefined), 300_000);
    await collections.resume(plain.spec.id, 'tester');
    const minted = await waitFor(
      `collection ${id} to finish its mint`,
      async () => {
        const p = await collections.progress(id);
        return isSettled(p) ? p : undefined;
      },
      300_000,
    );
    const plainDone = await waitFor(`collection ${plain.spec.id} to complete`, async () => {
      const p = await collections.progress(plain.spec.id);
      return p.phase === 'completed' ? p : undefined;
    });
    const plainTokens = await Promise.all([1, 2, 3].map((key) => ethereum.contract.tokenOfAsset(assetIdOf(plain.spec.id, String(key)))));
    const plainShown = async () => Promise.all(plainTokens.map(async (t) => gatewayGet((await ethereum.contract.tokenURI(t)).slice('ipfs://'.length))));
    const plainBefore = await plainShown();
    const plainReport = JSON.parse((await gatewayGet(plainDone.report!.reportCid)).toString('utf8')) as { assets: { metadataCid: string }[] };
    for (const [i, shown] of plainBefore.entries()) expect(shown.equals(await gatewayGet(plainReport.assets[i]!.metadataCid))).toBe(true);
    expect(minted.phase).toBe('awaiting_reveal');
    expect(minted.counts.minted).toBe(SIZE);
    expect(minted.report?.tokenOrderMatchesProvenance).toBe(true);
    const placeholderCid = minted.reveal!.placeholderMetadataCid;
    const placeholder = await gatewayGet(placeholderCid);
    expect(placeholder.toString('utf8')).toBe(placeholderMetadataOf(plan.spec));

    // Before the reveal every token shows the placeholder, and the final metadata is pinned all the same.
    const tokens = await Promise.all(Array.from({ length: SIZE }, (_, i) => ethereum.contract.tokenOfAsset(assetIdOf(id, String(i + 1)))));
    for (let i = 1; i < SIZE; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    for (const token of tokens) expect((await gatewayGet((await ethereum.contract.tokenURI(token)).slice('ipfs://'.length))).equals(placeholder)).toBe(true);
    const report = JSON.parse((await gatewayGet(minted.report!.reportCid)).toString('utf8')) as {
      assets: { index: number; tokenId: string; metadataCid: string; imageSha256: string }[];
    };
    const finalMetadata = [...report.assets].sort((a, b) => a.index - b.index).map((a) => a.metadataCid);
    expect(new Set(finalMetadata).size).toBe(SIZE);
    for (const cid of finalMetadata) expect(JSON.parse((await gatewayGet(cid)).toString('utf8')).name).toMatch(/^Hidden Critters #\d+$/);

    // The reveal outlives its worker: a worker process sends the transaction and is killed (SIGKILL)
    // while it sits in the pool; the next worker waits for that same transaction and sends none.
    await worker!.stop();
    worker = undefined;
    const first = await spawnWorkerProcess(workerEnv);
    const watched = await recordedRpc();
    const sentBefore = await ethereum.provider.getTransactionCount(signer.address, 'latest');
    let sent = '';
    try {
      expect(await rpc('evm_setAutomine', [false])).toBeDefined();
      const revealing = await atelierCli(['collection', 'reveal', id, '--by', 'tester']);
      expect(revealing.stderr).toBe('');
      expect(revealing.code).toBe(0);
      // The offset comes from the block after the last mint: on a chain that mines only on
      // transactions it comes when the chain moves on, here one mined block.
      const waiting = await waitFor(
        `collection ${id} to name its reveal block`,
        async () => (await collections.progress(id)).reveal?.waitingForBlock ?? undefined,
      );
      if (Number(await rpc('eth_blockNumber')) < waiting) await rpc('evm_mine');
      sent = await waitFor('the reveal transaction in the pool', async () => (await pooledTxsOf(signer.address))[0]?.hash);
      const handle = atelier.temporal.workflow.getHandle(collectionWorkflowIdOf(id));
      const pendingReveal = async () => (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'revealOnChain');
      await waitFor('the transaction hash in the heartbeat details on the server', async () => {
        const data = (await pendingReveal())?.heartbeatDetails?.payloads?.[0]?.data;
        return data?.length && (JSON.parse(Buffer.from(data).toString()) as { txHash?: string }).txHash === sent ? true : undefined;
      });
      await killProcess(first.child);
      // The next attempt (after the 10 s heartbeat timeout) talks to the chain through a recorder.
      worker = await startWorker({ ...workerEnv, ATELIER_ETH_RPC_URL: watched.url });
      await waitFor(
        'the new attempt to wait for the transaction sent before the kill',
        async () => (watched.callsOf('eth_sendRawTransaction').length > 0 || watched.callsOf('eth_getTransactionReceipt', sent).length >= 2 ? true : undefined),
        60_000,
      );
      expect(watched.callsOf('eth_sendRawTransaction')).toEqual([]);
      expect((await pooledTxsOf(signer.address)).map((tx) => tx.hash)).toEqual([sent]);
      await rpc('evm_mine');
    } finally {
      await rpc('evm_setAutomine', [true]);
      await killProcess(first.child);
    }
    const done = await waitFor(
      `collection ${id} to be revealed`,
      async () => {
        const p = await collections.progress(id);
        return p.phase === 'completed' ? p : undefined;
      },
      120_000,
    );
    await watched.close();
    const revealed = done.reveal!.revealed!;
    expect(revealed.count).toBe(SIZE);
    expect(revealed.transactionHash).toBe(sent);
    expect(await ethereum.provider.getTransactionCount(signer.address, 'latest')).toBe(sentBefore + 1);

    // The published record, recomputed from nothing but itself and the chain.
    const record = JSON.parse((await gatewayGet(revealed.recordCid)).toString('utf8')) as RevealRecord;
    expect(checkRevealRecord(record)).toEqual({ ok: true, record });
    expect(record.provenanceHash).toBe(done.published!.provenanceHash);
    expect(record.metadata).toEqual(finalMetadata);
    expect(record.tokens).toEqual(tokens.map(String));
    const lastMint = await ethereum.contract.queryFilter(ethereum.contract.getEvent('Transfer')(undefined, undefined, tokens.at(-1)!));
    expect(record.lastMintBlock).toBe(lastMint[0]!.blockNumber);
    const block = (await jsonRpc(config.ATELIER_ETH_RPC_URL, 'eth_getBlockByNumber', [`0x${(record.lastMintBlock + 1).toString(16)}`, false])) as {
      hash: string;
    };
    expect(record.revealBlock).toEqual({ number: record.lastMintBlock + 1, hash: block.hash });
    const offset = Number(BigInt(block.hash) % BigInt(SIZE));
    expect(record.offset).toBe(offset);

    // Every token shows, through its tokenURI (read by raw eth_call) and the gateway, the final
    // metadata at (its provenance position + offset) mod N.
    const abi = new Interface(creativeAssetAbi);
    for (let i = 0; i < SIZE; i++) {
      const data = abi.encodeFunctionData('tokenURI', [tokens[i]!]);
      const raw = (await jsonRpc(config.ATELIER_ETH_RPC_URL, 'eth_call', [{ to: await ethereum.contract.getAddress(), data }, 'latest'])) as string;
      const uri = abi.decodeFunctionResult('tokenURI', raw)[0] as string;
      const shown = await gatewayGet(uri.slice('ipfs://'.length));
      expect(shown.equals(await gatewayGet(finalMetadata[(i + offset) % SIZE]!))).toBe(true);
      expect(shown.equals(placeholder)).toBe(false);
    }

    // One transaction switched every batch, each with ERC-4906 BatchMetadataUpdate over its tokens.
    const receipt = await ethereum.provider.getTransactionReceipt(record.transactionHash!);
    const updates = receipt!.logs.map((l) => abi.parseLog(l)).filter((l) => l?.name === 'BatchMetadataUpdate');
    expect(updates.length).toBe(record.batches.length);
    expect(record.batches.length).toBeGreaterThanOrEqual(3);
    const covered = new Set<bigint>();
    for (const u of updates) for (let t = u!.args[0] as bigint; t <= (u!.args[1] as bigint); t++) covered.add(t);
    for (const token of tokens) expect(covered.has(token)).toBe(true);
    const switches = await ethereum.contract.queryFilter(ethereum.contract.getEvent('BatchContentUpdated')(), record.lastMintBlock);
    expect(new Set(switches.map((s) => s.transactionHash))).toEqual(new Set([record.transactionHash]));

    // The other collection's tokens show what they showed, whichever batches they shared.
    const shared = plainTokens.filter((t) => record.batches.some((b) => BigInt(b.firstTokenId) <= t && t <= BigInt(b.lastTokenId)));
    console.log(`[reveal] offset ${offset}, ${record.batches.length} batches switched; ${shared.length} of the other collection's tokens share them`);
    expect(shared.length).toBe(3);
    const plainAfter = await plainShown();
    for (const [i, shown] of plainAfter.entries()) expect(shown.equals(plainBefore[i]!)).toBe(true);
    const notRevealing = await atelierCli(['collection', 'reveal', plain.spec.id]);
    expect(notRevealing.code).toBe(3);
    expect(notRevealing.stderr).toMatch(/does not reveal later/);

    // Asked again: refused. Anyone's check from the published record: holds.
    const again = await atelierCli(['collection', 'reveal', id]);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/already revealed/);
    const verified = await atelierCli(['collection', 'verify-reveal', '--record', revealed.recordCid]);
    expect(verified.stdout).toMatch(new RegExp(`verified: every one of ${SIZE} tokens`));
    expect(verified.code).toBe(0);

    await saveHistoryIfAsked(collectionWorkflowIdOf(id), 'collection-reveal');
    const p: CollectionProgress = await collections.progress(id);
    expect(p.reveal?.revealed?.recordCid).toBe(revealed.recordCid);
  }, 420_000);
});
