// Dynamic assets on the real stack: a milestone event changes a minted token's image and tokenURI
// (read back through raw JSON-RPC and the gateway), the contract emits ERC-4906 MetadataUpdate, two
// events sent together apply in order, and every version lists the ones before it.
import { MockActivityEnvironment } from '@temporalio/testing';
import { Interface, sha256, Wallet } from 'ethers';
import { createMintActivities } from '../activities/mint.ts';
import type { ContentUpdate } from '../activities/mint.ts';
import { ANVIL_DEV_KEY } from '../common/config.ts';
import { contractLocation } from '../common/deployment.ts';
import { assetIdOf, creativeAssetAbi as abi, rawCidFromDigest } from '../contracts/index.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient, ChangeRefused } from '../client/atelier.ts';
import type { AssetResult, AssetSpec } from '../common/asset.ts';
import type { DynamicStatus } from '../common/dynamic.ts';
import { jsonRpc } from '../scripts/lib/stack.ts';
import {
  atelierCli,
  chain,
  config,
  gatewayGet,
  recipient,
  saveHistoryIfAsked,
  startWorker,
  testSpec,
  uniqueCollection,
  waitFor,
  waitForStage,
} from './support/harness.ts';

let client: AtelierClient;
let worker: Awaited<ReturnType<typeof startWorker>>;
const { contract, close } = chain();
const contractInterface = new Interface(abi);

beforeAll(async () => {
  client = await AtelierClient.connect(config);
  // With permanent copies on the test stack's arlocal: the new versions' metadata lists both locations.
  worker = await startWorker({ ATELIER_ARWEAVE_URL: config.ATELIER_ARWEAVE_URL! });
});
afterAll(async () => {
  await worker?.stop();
  await client?.close();
  close();
});

/** A critter whose background follows the holder's level in a game. */
function dynamicSpec(): AssetSpec {
  return testSpec({
    name: 'Levelling Critter',
    approval: { policy: 'auto' },
    generator: { kind: 'layers', layerSet: 'critters', traits: { background: 'dawn' }, seed: 11 },
    dynamic: {
      approval: 'auto',
      traits: [
        {
          name: 'background',
          source: { kind: 'event', event: 'milestone', field: 'level' },
          match: 'exact',
          options: { silver: 'mint', gold: 'night', diamond: 'grid' },
        },
      ],
    },
  });
}

/** tokenURI straight from the node: an eth_call, no contract wrapper. */
async function tokenUriOverRpc(tokenId: string): Promise<string> {
  const data = contractInterface.encodeFunctionData('tokenURI', [BigInt(tokenId)]);
  const answer = (await jsonRpc(config.ATELIER_ETH_RPC_URL, 'eth_call', [{ to: await contract.getAddress(), data }, 'latest'])) as string;
  return contractInterface.decodeFunctionResult('tokenURI', answer)[0] as string;
}

interface Metadata {
  image: string;
  image_arweave?: string;
  attributes: { trait_type: string; value: string }[];
  properties: { version?: number; previousVersions?: string[]; renditions: { name: string; uri: string; arweave?: string }[] };
}

async function metadataAt(uri: string): Promise<Metadata> {
  return JSON.parse((await gatewayGet(uri.replace('ipfs://', ''))).toString('utf8')) as Metadata;
}

async function mintedDynamic(spec: AssetSpec): Promise<{ ref: string; tokenId: string; history: DynamicStatus }> {
  const ref = `${spec.collectionId}:${spec.assetKey}`;
  await client.start(spec);
  const history = await waitFor('the asset minted and its dynamic workflow running', () => client.history(ref).catch(() => undefined), 120_000);
  return { ref, tokenId: history.tokenId, history };
}

const untilVersion = (ref: string, version: number, timeoutMs = 120_000) =>
  waitFor(
    `version ${version} of ${ref}`,
    async () => {
      const history = await client.history(ref);
      return history.version >= version && history.queued.length === 0 ? history : undefined;
    },
    timeoutMs,
  );

describe('a milestone event', () => {
  it("changes the token's image and tokenURI, emits MetadataUpdate, and the new metadata lists the version before it", async () => {
    const spec = dynamicSpec();
    const { ref, tokenId, history: first } = await mintedDynamic(spec);
    expect(first.version).toBe(1);
    const uriBefore = await tokenUriOverRpc(tokenId);
    expect(uriBefore).toBe(`ipfs://${first.versions[0]!.metadataCid}`);
    const before = await metadataAt(uriBefore);
    expect(before.attributes).toContainEqual({ trait_type: 'background', value: 'dawn' });

    const sentAt = Date.now();
    const sent = await atelierCli(['event', ref, 'milestone', '{"level":"gold"}', '--id', 'game-42-gold']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/^queued {2}game-42-gold/);
    const uriAfter = await waitFor(
      'the new tokenURI on chain',
      async () => {
        const uri = await tokenUriOverRpc(tokenId);
        return uri !== uriBefore ? uri : undefined;
      },
      120_000,
    );
    console.log(`[dynamic] event to updated tokenURI: ${Date.now() - sentAt} ms`);

    const history = await untilVersion(ref, 2);
    const v2 = history.versions[1]!;
    expect(uriAfter).toBe(`ipfs://${v2.metadataCid}`);
    expect(v2.traits).toEqual({ background: 'night' });
    expect(v2.cause).toMatchObject({ name: 'milestone', id: 'game-42-gold' });
    const after = await metadataAt(uriAfter);
    expect(after.attributes).toContainEqual({ trait_type: 'background', value: 'night' });
    expect(after.properties.version).toBe(2);
    expect(after.properties.previousVersions).toEqual([`ipfs://${first.versions[0]!.metadataCid}`]);
    expect(after.image).not.toBe(before.image);
    // Both images are served, and they differ.
    const [oldImage, newImage] = await Promise.all([gatewayGet(before.image.replace('ipfs://', '')), gatewayGet(after.image.replace('ipfs://', ''))]);
    expect(newImage.equals(oldImage)).toBe(false);
    // The new image and its renditions also have permanent copies on Arweave, listed beside IPFS.
    expect(after.image_arweave).toMatch(/^ar:\/\/[\w-]{43}$/);
    const copy = await fetch(`${config.ATELIER_ARWEAVE_URL}/${after.image_arweave!.slice('ar://'.length)}`);
    expect(Buffer.from(await copy.arrayBuffer()).equals(newImage)).toBe(true);
    expect(after.properties.renditions.every((r) => r.uri.startsWith('ipfs://') && r.arweave?.startsWith('ar://'))).toBe(true);
    const refreshed = (await client.temporal.workflow.getHandle(v2.workflowId).result()) as AssetResult;
    const metadataCopy = await fetch(refreshed.arweave!.metadataUrl);
    expect(Buffer.from(await metadataCopy.arrayBuffer()).equals(await gatewayGet(v2.metadataCid))).toBe(true);

    // ERC-4906: the refresh's transaction told marketplaces to read the token again.
    const updates = await contract.queryFilter(contract.getEvent('MetadataUpdate'), 0);
    const ours = updates.filter((log) => 'args' in log && log.args._tokenId === BigInt(tokenId));
    expect(ours.map((log) => log.transactionHash)).toEqual([v2.txHash]);

    // The same id again is the same change: nothing new.
    const again = await atelierCli(['event', ref, 'milestone', '{"level":"gold"}', '--id', 'game-42-gold']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already taken \(applied\)/);
    expect((await client.history(ref)).versions).toHaveLength(2);

    const listed = await atelierCli(['history', ref]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(v2.metadataCid);
    expect(listed.stdout).toMatch(/background=night/);
    await saveHistoryIfAsked(`asset:${spec.collectionId}:${spec.assetKey}`, 'dynamic-minted');
    await saveHistoryIfAsked(`dynamic:${spec.collectionId}:${spec.assetKey}`, 'dynamic-asset');
    await saveHistoryIfAsked(v2.workflowId, 'dynamic-refresh');
  }, 300_000);

  it('two events sent together apply in order, one at a time', async () => {
    const spec = dynamicSpec();
    const { ref, tokenId } = await mintedDynamic(spec);
    // Sent back to back: the second arrives while the first is being applied, and queues behind it.
    const first = await client.sendEvent(ref, 'milestone', { level: 'silver' }, { by: 'game-server', id: 'run-1-silver' });
    const second = await client.sendEvent(ref, 'milestone', { level: 'diamond' }, { by: 'game-server', id: 'run-1-diamond' });
    expect([first.outcome, second.outcome]).toEqual(['queued', 'queued']);
    const history = await untilVersion(ref, 3, 240_000);
    expect(history.versions.map((v) => v.traits.background)).toEqual(['dawn', 'mint', 'grid']);
    expect(history.versions.map((v) => v.cause.id)).toEqual([null, 'run-1-silver', 'run-1-diamond']);
    // The token shows the last one, whose metadata lists both earlier versions, newest first.
    const final = await metadataAt(await tokenUriOverRpc(tokenId));
    expect(final.properties.version).toBe(3);
    expect(final.properties.previousVersions).toEqual([`ipfs://${history.versions[1]!.metadataCid}`, `ipfs://${history.versions[0]!.metadataCid}`]);
    // One at a time: each refresh began after the one before it had ended.
    const runs = await Promise.all(history.versions.slice(1).map((v) => client.temporal.workflow.getHandle(v.workflowId).describe()));
    expect(runs[1]!.startTime.getTime()).toBeGreaterThanOrEqual(runs[0]!.closeTime!.getTime());
  }, 300_000);
});

describe('a dynamic asset whose refreshes need a person', () => {
  it('keeps the token as it is until the new version is approved, then points it there', async () => {
    const spec = testSpec({
      name: 'Reviewed Critter',
      generator: { kind: 'layers', layerSet: 'critters', traits: { background: 'dawn' }, seed: 12 },
      dynamic: {
        approval: 'manual',
        traits: [{ name: 'background', source: { kind: 'event', event: 'milestone', field: 'level' }, match: 'exact', options: { gold: 'night' } }],
      },
    });
    const ref = `${spec.collectionId}:${spec.assetKey}`;
    await client.start(spec);
    await waitForStage(client, `asset:${ref}`, 'awaiting_approval', 120_000);
    await client.approve(ref, { by: 'art-director', via: 'cli' });
    const { tokenId } = await waitFor('the asset minted and its dynamic workflow running', () => client.history(ref).catch(() => undefined), 120_000);
    const uriBefore = await tokenUriOverRpc(tokenId);

    await client.sendEvent(ref, 'milestone', { level: 'gold' }, { by: 'game-server', id: 'reviewed-gold' });
    const refresh = `refresh:${ref}:2`;
    const waiting = await waitForStage(client, refresh, 'awaiting_approval', 120_000);
    expect(waiting.tokenId).toBe(tokenId);
    expect(await tokenUriOverRpc(tokenId)).toBe(uriBefore);
    const decided = await atelierCli(['approve', refresh, '--by', 'art-director']);
    expect(decided.code, decided.stderr).toBe(0);
    const history = await untilVersion(ref, 2);
    expect(history.versions[1]!.traits).toEqual({ background: 'night' });
    expect(await tokenUriOverRpc(tokenId)).toBe(`ipfs://${history.versions[1]!.metadataCid}`);
    const metadata = await metadataAt(`ipfs://${history.versions[1]!.metadataCid}`);
    expect(metadata.properties).toMatchObject({ version: 2 });
  }, 300_000);
});

describe('a change the asset cannot take', () => {
  it('is refused with the reason, at the CLI and through the client, and changes nothing', async () => {
    const spec = dynamicSpec();
    const { ref } = await mintedDynamic(spec);
    const unknownEvent = await atelierCli(['event', ref, 'levelup', '{"level":"gold"}']);
    expect(unknownEvent.code).toBe(3);
    expect(unknownEvent.stderr).toContain('no dynamic trait listens to "levelup" (events: milestone)');
    const badValue = await atelierCli(['event', ref, 'milestone', '{"level":"platinum"}']);
    expect(badValue.code).toBe(3);
    expect(badValue.stderr).toContain('"platinum" in "level" selects no option');
    const notJson = await atelierCli(['event', ref, 'milestone', '{level: gold}']);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain("the event's data is not JSON");
    await expect(client.sendEvent(ref, 'milestone', { level: 'x'.repeat(5000) }, { by: 'someone', id: 'too-big' })).rejects.toThrow(/over 4096/);
    await expect(client.sendEvent(ref, 'milestone', { level: 'gold' }, { by: 'someone', id: 'not an id!' })).rejects.toThrow(ChangeRefused);
    // A static asset has no dynamic workflow: the CLI says so.
    const still = testSpec({ approval: { policy: 'auto' } });
    await client.start(still);
    await waitFor('the static asset minted', async () => ((await client.status(`${still.collectionId}:1`)).stage === 'minted' ? true : undefined), 120_000);
    const staticRefused = await atelierCli(['event', `${still.collectionId}:1`, 'milestone', '{"level":"gold"}']);
    expect(staticRefused.code).toBe(3);
    expect(staticRefused.stderr).toContain('is not a dynamic asset');
    expect((await client.history(ref)).versions).toHaveLength(1);
  }, 300_000);
});

describe('updateTokenContent after a crash', () => {
  it('waits for the transaction the dead attempt sent instead of sending another: one MetadataUpdate', async () => {
    const { provider } = chain();
    const { address, deploymentBlock } = contractLocation(config);
    const signer = new Wallet(ANVIL_DEV_KEY, provider);
    const activities = createMintActivities({ provider, signer, contractAddress: address, deploymentBlock, confirmations: 1 });
    // A token of its own, pointing at some metadata.
    const digestOf = (text: string) => sha256(Buffer.from(text));
    const assetId = assetIdOf(uniqueCollection('crash-update'), '1');
    await (await contract.mint(recipient, assetId, digestOf('version 1'))).wait();
    const tokenId = (await contract.tokenOfAsset(assetId)).toString();
    const newCid = rawCidFromDigest(digestOf('version 2')).toString();

    // The dead attempt signed and sent its transaction; it is still pending when the next attempt starts.
    await provider.send('evm_setAutomine', [false]);
    try {
      const pending = await contract.updateContent(BigInt(tokenId), digestOf('version 2'));
      const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { txHash: pending.hash }, heartbeatTimeoutMs: 10_000 });
      let beats = 0;
      retry.on('heartbeat', () => beats++);
      const answer = retry.run(activities.updateTokenContent, { tokenId, metadataCid: newCid }) as Promise<ContentUpdate>;
      // The retry is waiting on the pending transaction (it heartbeats meanwhile); once it is mined, the retry answers with it.
      await waitFor('the retry to wait on the pending transaction', async () => (beats >= 2 ? true : undefined));
      expect(((await provider.send('txpool_status', [])) as { pending: string }).pending).toBe('0x1');
      await provider.send('evm_mine', []);
      const update = await answer;
      expect(update.txHash).toBe(pending.hash);
    } finally {
      await provider.send('evm_setAutomine', [true]);
    }
    const updates = (await contract.queryFilter(contract.getEvent('MetadataUpdate'), 0)).filter(
      (log) => 'args' in log && log.args._tokenId === BigInt(tokenId),
    );
    expect(updates).toHaveLength(1);
    expect(await tokenUriOverRpc(tokenId)).toBe(`ipfs://${newCid}`);
    // A third attempt finds the token pointing there already and sends nothing.
    const again = (await new MockActivityEnvironment({ attempt: 3 }).run(activities.updateTokenContent, { tokenId, metadataCid: newCid })) as ContentUpdate;
    expect(again.blockNumber).toBeNull();
    expect(
      (await contract.queryFilter(contract.getEvent('MetadataUpdate'), 0)).filter((log) => 'args' in log && log.args._tokenId === BigInt(tokenId)),
    ).toHaveLength(1);
    provider.destroy();
  }, 120_000);
});
