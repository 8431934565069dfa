/**
 * CreativeAsset against a real Anvil and a real Kubo (ATELIER_ETH_RPC_URL, ATELIER_KUBO_API_URL,
 * ATELIER_KUBO_GATEWAY_URL). Every test deploys its own contract.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ContractFactory, Interface, JsonRpcProvider, Wallet, ZeroAddress, id as keccakOfText } from 'ethers';
import type { BaseContract, ContractTransactionResponse, JsonRpcSigner, Log, TransactionReceipt } from 'ethers';
import solc from 'solc';
import { create as createKubo } from 'kubo-rpc-client';
import type { KuboRPCClient } from 'kubo-rpc-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findStaleBuildOutput } from '../contracts/build.ts';
import {
  MAX_BATCH_SIZE,
  HASHED_KEY_FLAG,
  assetIdOf,
  buildBatchDirectory,
  connectCreativeAsset,
  creativeAssetAbi,
  creativeAssetArtifact,
  decodeAssetId,
  deployCreativeAsset,
  directoryCidFromDigest,
  directoryDigestFromCid,
  metadataDigestFromCid,
  mintedTokensFromReceipt,
  parseCreativeAssetError,
  pinBatchDirectory,
  rawCidFromDigest,
  sortBatchByAssetId,
  tokenUriOf,
} from '../contracts/index.ts';
import type { CreativeAssetContract } from '../contracts/index.ts';

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the test stack (test/globalSetup.ts) exports it`);
  return value;
}

const MINTER_ROLE = keccakOfText('MINTER_ROLE');
const METADATA_EDITOR_ROLE = keccakOfText('METADATA_EDITOR_ROLE');
const DEFAULT_ADMIN_ROLE = `0x${'00'.repeat(32)}`;
const events = new Interface(creativeAssetAbi);

let provider: JsonRpcProvider;
let kubo: KuboRPCClient;
let gatewayUrl: string;
// Accounts 5..9 of the default mnemonic, so that other suites using the first accounts don't race these nonces.
let admin: JsonRpcSigner;
let minter: JsonRpcSigner;
let editor: JsonRpcSigner;
let holder: JsonRpcSigner;
let outsider: JsonRpcSigner;

beforeAll(async () => {
  // cacheTimeout -1: ethers otherwise reuses an identical eth_estimateGas answer for 250 ms, so a
  // repeated mint would be "estimated" from the first one instead of reverting.
  provider = new JsonRpcProvider(requireEnv('ATELIER_ETH_RPC_URL'), undefined, {
    staticNetwork: true,
    pollingInterval: 50,
    cacheTimeout: -1,
  });
  kubo = createKubo({ url: requireEnv('ATELIER_KUBO_API_URL') });
  gatewayUrl = requireEnv('ATELIER_KUBO_GATEWAY_URL').replace(/\/$/, '');
  admin = await provider.getSigner(5);
  minter = await provider.getSigner(6);
  editor = await provider.getSigner(7);
  holder = await provider.getSigner(8);
  outsider = await provider.getSigner(9);
});

afterAll(() => provider?.destroy());

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

interface Deployed {
  contract: CreativeAssetContract;
  address: string;
  as(signer: JsonRpcSigner): CreativeAssetContract;
}

async function deployFresh(royaltyBps = 500): Promise<Deployed> {
  const { address } = await deployCreativeAsset(admin, {
    name: 'Atelier Test',
    symbol: 'ATT',
    contractURI: 'ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
    royaltyReceiver: await admin.getAddress(),
    royaltyBps,
  });
  return { contract: connectCreativeAsset(address, admin), address, as: (signer) => connectCreativeAsset(address, signer) };
}

async function mined(pending: Promise<ContractTransactionResponse>): Promise<TransactionReceipt> {
  const receipt = await (await pending).wait();
  if (!receipt || receipt.status !== 1) throw new Error('transaction failed');
  return receipt;
}

/** Awaits a call that must revert with the CreativeAsset custom error `name` (and `args`, if given). */
async function expectRevert(pending: Promise<unknown>, name: string, args?: unknown[]): Promise<void> {
  let caught: unknown;
  try {
    await pending;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a revert with ${name}`).toBeDefined();
  const decoded = parseCreativeAssetError(caught);
  expect(decoded?.name, String((caught as Error).message)).toBe(name);
  if (args) expect(decoded?.args).toEqual(args);
}

/** Adds a unique metadata JSON file to Kubo (CIDv1, raw leaves, pinned) and returns its CID and bytes. */
async function pinMetadata(name: string): Promise<{ cid: string; bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(
    `${JSON.stringify({ name, description: 'Atelier contract test', image: 'ipfs://bafkqaaa', nonce: randomUUID() }, null, 2)}\n`,
  );
  const added = await kubo.add(bytes, { cidVersion: 1, rawLeaves: true, pin: true });
  return { cid: added.cid.toString(), bytes };
}

/** GET <gateway>/ipfs/<cid>[/<path>] for an `ipfs://` URI, as any wallet or marketplace would. */
async function fetchThroughGateway(uri: string): Promise<Uint8Array> {
  expect(uri.startsWith('ipfs://')).toBe(true);
  const response = await fetch(`${gatewayUrl}/ipfs/${uri.slice('ipfs://'.length)}`);
  expect(response.status, `gateway status for ${uri}`).toBe(200);
  return new Uint8Array(await response.arrayBuffer());
}

function logsNamed(receipt: TransactionReceipt, name: string) {
  return (receipt.logs as readonly Log[])
    .map((log) => events.parseLog(log))
    .filter((parsed) => parsed?.name === name)
    .map((parsed) => parsed!.args);
}

function collection(): string {
  return `collection-${randomUUID()}`;
}

// ------------------------------------------------------------------------------------------------
// tests
// ------------------------------------------------------------------------------------------------

describe('CreativeAsset deployment', () => {
  it('sets name, symbol, contractURI, royalty and grants the deployer every role', async () => {
    const { contract } = await deployFresh(750);
    const adminAddress = await admin.getAddress();
    expect(await contract.name()).toBe('Atelier Test');
    expect(await contract.symbol()).toBe('ATT');
    expect(await contract.contractURI()).toBe('ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy');
    for (const role of [DEFAULT_ADMIN_ROLE, MINTER_ROLE, METADATA_EDITOR_ROLE]) {
      expect(await contract.hasRole(role, adminAddress)).toBe(true);
      expect(await contract.hasRole(role, await outsider.getAddress())).toBe(false);
    }
    expect(await contract.MINTER_ROLE()).toBe(MINTER_ROLE);
    expect(await contract.METADATA_EDITOR_ROLE()).toBe(METADATA_EDITOR_ROLE);
    expect(await contract.MAX_BATCH_SIZE()).toBe(BigInt(MAX_BATCH_SIZE));
    expect(await contract.totalSupply()).toBe(0n);
    expect(await contract.nextTokenId()).toBe(1n);
  });

  it('answers supportsInterface for ERC-165, ERC-721, metadata, ERC-4906, ERC-2981 and AccessControl only', async () => {
    const { contract } = await deployFresh();
    for (const interfaceId of ['0x01ffc9a7', '0x80ac58cd', '0x5b5e139f', '0x49064906', '0x2a55205a', '0x7965db0b']) {
      expect(await contract.supportsInterface(interfaceId), interfaceId).toBe(true);
    }
    for (const interfaceId of ['0xffffffff', '0x780e9d63', '0x00000000']) {
      expect(await contract.supportsInterface(interfaceId), interfaceId).toBe(false);
    }
  });

  it('pays ERC-2981 royalties to the configured receiver and lets only the admin change them', async () => {
    const { contract, as } = await deployFresh(500);
    const { cid } = await pinMetadata('royalty');
    await mined(contract.mint(await holder.getAddress(), assetIdOf(collection(), '1'), metadataDigestFromCid(cid)));
    const [receiver, amount] = await contract.royaltyInfo(1n, 10_000n);
    expect(receiver).toBe(await admin.getAddress());
    expect(amount).toBe(500n);

    const receipt = await mined(contract.setDefaultRoyalty(await holder.getAddress(), 250n));
    expect(logsNamed(receipt, 'DefaultRoyaltyUpdated')[0]?.toArray()).toEqual([await holder.getAddress(), 250n]);
    const [newReceiver, newAmount] = await contract.royaltyInfo(1n, 1_000_000n);
    expect(newReceiver).toBe(await holder.getAddress());
    expect(newAmount).toBe(25_000n);

    await expectRevert(as(outsider).setDefaultRoyalty(await outsider.getAddress(), 9_000n), 'AccessControlUnauthorizedAccount', [
      await outsider.getAddress(),
      DEFAULT_ADMIN_ROLE,
    ]);
    await expectRevert(contract.setDefaultRoyalty(await holder.getAddress(), 10_001n), 'ERC2981InvalidDefaultRoyalty');
  });

  it('updates contractURI only through the admin, with ERC-7572 ContractURIUpdated', async () => {
    const { contract, as } = await deployFresh();
    const receipt = await mined(contract.setContractURI('ipfs://bafkreiexample'));
    expect(logsNamed(receipt, 'ContractURIUpdated')).toHaveLength(1);
    expect(await contract.contractURI()).toBe('ipfs://bafkreiexample');
    await expectRevert(as(outsider).setContractURI('ipfs://evil'), 'AccessControlUnauthorizedAccount');
    expect(await contract.contractURI()).toBe('ipfs://bafkreiexample');
  });
});

describe('roles', () => {
  it('lets only MINTER_ROLE mint, and follows grants and revocations', async () => {
    const { contract, as } = await deployFresh();
    const minterAddress = await minter.getAddress();
    const assetId = assetIdOf(collection(), '1');
    const { cid } = await pinMetadata('role');
    const digest = metadataDigestFromCid(cid);

    await expectRevert(as(minter).mint(minterAddress, assetId, digest), 'AccessControlUnauthorizedAccount', [minterAddress, MINTER_ROLE]);
    await expectRevert(as(minter).mintBatch(minterAddress, [assetId], digest), 'AccessControlUnauthorizedAccount', [minterAddress, MINTER_ROLE]);

    const grant = await mined(contract.grantRole(MINTER_ROLE, minterAddress));
    expect(events.parseLog((grant.logs as readonly Log[])[0]!)?.name).toBe('RoleGranted');
    await mined(as(minter).mint(minterAddress, assetId, digest));
    expect(await contract.ownerOf(1n)).toBe(minterAddress);

    // A minter is not a metadata editor, nor an admin.
    await expectRevert(as(minter).updateContent(1n, digest), 'AccessControlUnauthorizedAccount', [minterAddress, METADATA_EDITOR_ROLE]);
    await expectRevert(as(minter).grantRole(MINTER_ROLE, await outsider.getAddress()), 'AccessControlUnauthorizedAccount', [minterAddress, DEFAULT_ADMIN_ROLE]);

    await mined(contract.revokeRole(MINTER_ROLE, minterAddress));
    await expectRevert(as(minter).mint(minterAddress, assetIdOf(collection(), '2'), digest), 'AccessControlUnauthorizedAccount');
  });

  it('lets only METADATA_EDITOR_ROLE update content', async () => {
    const { contract, as } = await deployFresh();
    const { cid } = await pinMetadata('editor');
    const digest = metadataDigestFromCid(cid);
    await mined(contract.mint(await holder.getAddress(), assetIdOf(collection(), '1'), digest));
    const batchRoot = (await pinBatchDirectory(kubo, [cid])).digest;
    await mined(contract.mintBatch(await holder.getAddress(), [assetIdOf(collection(), '1')], batchRoot));

    const editorAddress = await editor.getAddress();
    await expectRevert(as(editor).updateContent(1n, digest), 'AccessControlUnauthorizedAccount', [editorAddress, METADATA_EDITOR_ROLE]);
    await expectRevert(as(editor).updateBatchContent(2n, batchRoot), 'AccessControlUnauthorizedAccount', [editorAddress, METADATA_EDITOR_ROLE]);
    await mined(contract.grantRole(METADATA_EDITOR_ROLE, editorAddress));
    await mined(as(editor).updateContent(1n, digest));
    await mined(as(editor).updateBatchContent(2n, batchRoot));
    // An editor cannot mint.
    await expectRevert(as(editor).mint(editorAddress, assetIdOf(collection(), '9'), digest), 'AccessControlUnauthorizedAccount', [editorAddress, MINTER_ROLE]);
  });
});

describe('single mint', () => {
  it('mints one token whose tokenURI resolves through the Kubo gateway to the pinned metadata', async () => {
    const { contract, address } = await deployFresh();
    const holderAddress = await holder.getAddress();
    const assetId = assetIdOf(collection(), '7');
    const metadata = await pinMetadata('asset 7');
    expect(metadata.cid.startsWith('bafkrei')).toBe(true);

    const tokenId = await contract.mint.staticCall(holderAddress, assetId, metadataDigestFromCid(metadata.cid));
    expect(tokenId).toBe(1n);
    const receipt = await mined(contract.mint(holderAddress, assetId, metadataDigestFromCid(metadata.cid)));

    expect(logsNamed(receipt, 'Transfer').map((args) => args.toArray())).toEqual([[ZeroAddress, holderAddress, 1n]]);
    expect(logsNamed(receipt, 'AssetMinted').map((args) => args.toArray())).toEqual([[assetId, 1n, metadataDigestFromCid(metadata.cid)]]);
    expect(mintedTokensFromReceipt(receipt, address)).toEqual([{ assetId, tokenId: 1n }]);

    expect(await contract.ownerOf(1n)).toBe(holderAddress);
    expect(await contract.balanceOf(holderAddress)).toBe(1n);
    expect(await contract.tokenOfAsset(assetId)).toBe(1n);

    const uri = await contract.tokenURI(1n);
    expect(uri).toBe(`ipfs://${metadata.cid}`);
    expect(uri).toBe(tokenUriOf({ metadataCid: metadata.cid }));
    expect(await fetchThroughGateway(uri)).toEqual(metadata.bytes);
    const [digest, isDirectory, index] = await contract.contentOf(1n);
    expect([digest, isDirectory, index]).toEqual([metadataDigestFromCid(metadata.cid), false, 0n]);
  });

  it('finds a single mint with one eth_getLogs filtered by asset id', async () => {
    const { contract, address } = await deployFresh();
    const assetIds = ['1', '2', '3'].map((key) => assetIdOf(collection(), key));
    const { cid } = await pinMetadata('logs');
    for (const assetId of assetIds) await mined(contract.mint(await holder.getAddress(), assetId, metadataDigestFromCid(cid)));

    const topic = events.getEvent('AssetMinted')!.topicHash;
    const logs = await provider.getLogs({
      address,
      fromBlock: 0,
      topics: [topic, `0x${assetIds[1]!.toString(16).padStart(64, '0')}`],
    });
    expect(logs).toHaveLength(1);
    expect(events.parseLog(logs[0]!)?.args.getValue('tokenId')).toBe(2n);
  });

  it('refuses a second token for an asset with AssetAlreadyMinted naming the existing token', async () => {
    const { contract } = await deployFresh();
    const name = collection();
    const holderAddress = await holder.getAddress();
    const first = await pinMetadata('first');
    const second = await pinMetadata('second');
    await mined(contract.mint(holderAddress, assetIdOf(name, '3'), metadataDigestFromCid(first.cid)));
    await mined(contract.mint(holderAddress, assetIdOf(name, '7'), metadataDigestFromCid(first.cid)));

    // Different content and recipient change nothing; "0007" is the same asset as "7".
    for (const key of ['7', '0007']) {
      await expectRevert(contract.mint(await outsider.getAddress(), assetIdOf(name, key), metadataDigestFromCid(second.cid)), 'AssetAlreadyMinted', [
        assetIdOf(name, '7'),
        2n,
      ]);
    }
    expect(await contract.totalSupply()).toBe(2n);
    expect(await contract.tokenURI(2n)).toBe(`ipfs://${first.cid}`);
    // The same key in another collection is another asset.
    await mined(contract.mint(holderAddress, assetIdOf(collection(), '7'), metadataDigestFromCid(second.cid)));
    expect(await contract.totalSupply()).toBe(3n);
  });

  it('rejects an empty digest and reports unminted assets and tokens', async () => {
    const { contract } = await deployFresh();
    await expectRevert(contract.mint(await holder.getAddress(), 1n, `0x${'00'.repeat(32)}`), 'EmptyContentDigest');
    expect(await contract.tokenOfAsset(assetIdOf(collection(), '1'))).toBe(0n);
    await expectRevert(contract.tokenURI(1n), 'NonexistentToken', [1n]);
    await expectRevert(contract.updateContent(1n, `0x${'11'.repeat(32)}`), 'NonexistentToken', [1n]);
  });
});

describe('batch mint', () => {
  it('mints a batch whose tokenURIs resolve through the gateway to each asset’s pinned metadata', async () => {
    const { contract, address } = await deployFresh();
    const holderAddress = await holder.getAddress();
    const name = collection();
    // Crosses the 128-asset word boundary (126..129), has a gap (a second run) and a hashed key.
    const keys = ['126', '127', '128', '129', '200', 'hero-shot'];
    const items = sortBatchByAssetId(
      await Promise.all(keys.map(async (key) => ({ key, assetId: assetIdOf(name, key), ...(await pinMetadata(`asset ${key}`)) }))),
    );
    expect(items.at(-1)!.key).toBe('hero-shot'); // hashed keys sort after numeric ones
    const root = await pinBatchDirectory(
      kubo,
      items.map((item) => item.cid),
    );
    expect(root.cid.toString().startsWith('bafybei')).toBe(true);

    // One earlier single mint so that the batch does not start at token 1.
    const single = await pinMetadata('single');
    await mined(contract.mint(holderAddress, assetIdOf(name, '0'), metadataDigestFromCid(single.cid)));

    const assetIds = items.map((item) => item.assetId);
    const receipt = await mined(contract.mintBatch(holderAddress, assetIds, root.digest));

    const expectedTokenIds = items.map((_, i) => 2n + BigInt(i));
    expect(logsNamed(receipt, 'Transfer').map((args) => args.toArray())).toEqual(expectedTokenIds.map((tokenId) => [ZeroAddress, holderAddress, tokenId]));
    const [batchEvent] = logsNamed(receipt, 'BatchMinted');
    expect(batchEvent?.getValue('to')).toBe(holderAddress);
    expect(batchEvent?.getValue('firstTokenId')).toBe(2n);
    expect(batchEvent?.getValue('contentRoot')).toBe(root.digest);
    expect([...batchEvent!.getValue('assetIds')]).toEqual(assetIds);
    expect(mintedTokensFromReceipt(receipt, address)).toEqual(items.map((item, i) => ({ assetId: item.assetId, tokenId: expectedTokenIds[i] })));

    expect(await contract.balanceOf(holderAddress)).toBe(BigInt(items.length + 1));
    for (const [i, item] of items.entries()) {
      const tokenId = expectedTokenIds[i]!;
      expect(await contract.tokenOfAsset(item.assetId), item.key).toBe(tokenId);
      expect(await contract.ownerOf(tokenId)).toBe(holderAddress);
      const uri = await contract.tokenURI(tokenId);
      expect(uri).toBe(`ipfs://${root.cid}/${i}`);
      expect(await fetchThroughGateway(uri), item.key).toEqual(item.bytes);
    }
    expect(await contract.tokenURI(1n)).toBe(`ipfs://${single.cid}`);
    // Neighbours of the batch's assets stay unminted.
    for (const key of ['125', '130', '199', '201', 'hero-shot-2']) expect(await contract.tokenOfAsset(assetIdOf(name, key)), key).toBe(0n);
  });

  it('keeps tokenURI and ownership right for consecutive batches and after transfers', async () => {
    const { contract, as } = await deployFresh();
    const holderAddress = await holder.getAddress();
    const name = collection();
    const batches: { cid: string; bytes: Uint8Array }[][] = [];
    for (let b = 0; b < 3; b++) {
      const metadata = await Promise.all([0, 1, 2, 3].map((i) => pinMetadata(`batch ${b} item ${i}`)));
      const root = await pinBatchDirectory(
        kubo,
        metadata.map((m) => m.cid),
      );
      // Batch b holds assets 4b..4b+3: one continuous run across all three batches.
      const assetIds = [0, 1, 2, 3].map((i) => assetIdOf(name, String(4 * b + i)));
      await mined(contract.mintBatch(holderAddress, assetIds, root.digest));
      batches.push(metadata);
    }
    // Transfer a token in the middle of batch 1: its neighbours keep their owner.
    await mined(as(holder).transferFrom(holderAddress, await outsider.getAddress(), 6n));
    expect(await contract.ownerOf(6n)).toBe(await outsider.getAddress());
    expect(await contract.ownerOf(5n)).toBe(holderAddress);
    expect(await contract.ownerOf(7n)).toBe(holderAddress);

    for (let b = 0; b < 3; b++) {
      for (let i = 0; i < 4; i++) {
        const tokenId = BigInt(4 * b + i + 1);
        expect(await contract.tokenOfAsset(assetIdOf(name, String(4 * b + i)))).toBe(tokenId);
        const [, isDirectory, index] = await contract.contentOf(tokenId);
        expect([isDirectory, index]).toEqual([true, BigInt(i)]);
        expect(await fetchThroughGateway(await contract.tokenURI(tokenId))).toEqual(batches[b]![i]!.bytes);
      }
    }
  });

  it('reverts a whole batch that contains an already-minted asset, naming that asset and its token', async () => {
    const { contract } = await deployFresh();
    const holderAddress = await holder.getAddress();
    const name = collection();
    const { cid } = await pinMetadata('already');
    await mined(contract.mint(holderAddress, assetIdOf(name, '5'), metadataDigestFromCid(cid)));
    await mined(
      contract.mintBatch(
        holderAddress,
        ['6', '7', '8'].map((k) => assetIdOf(name, k)),
        (await pinBatchDirectory(kubo, [cid, cid, cid])).digest,
      ),
    );

    const root = (await pinBatchDirectory(kubo, [cid, cid, cid, cid])).digest;
    // 7 is token 3 (second asset of the batch that started at token 2).
    await expectRevert(
      contract.mintBatch(
        holderAddress,
        ['2', '3', '7', '9'].map((k) => assetIdOf(name, k)),
        root,
      ),
      'AssetAlreadyMinted',
      [assetIdOf(name, '7'), 3n],
    );
    await expectRevert(
      contract.mintBatch(
        holderAddress,
        ['4', '5'].map((k) => assetIdOf(name, k)),
        root,
      ),
      'AssetAlreadyMinted',
      [assetIdOf(name, '5'), 1n],
    );
    // Nothing of the reverted batches exists.
    expect(await contract.totalSupply()).toBe(4n);
    expect(await contract.nextTokenId()).toBe(5n);
    for (const key of ['2', '3', '4', '9']) expect(await contract.tokenOfAsset(assetIdOf(name, key))).toBe(0n);
    // The remaining assets mint fine afterwards.
    await mined(
      contract.mintBatch(
        holderAddress,
        ['2', '3', '4', '9'].map((k) => assetIdOf(name, k)),
        root,
      ),
    );
    expect(await contract.tokenOfAsset(assetIdOf(name, '9'))).toBe(8n);
  });

  it('requires strictly ascending asset ids and 1..MAX_BATCH_SIZE of them', async () => {
    const { contract } = await deployFresh();
    const holderAddress = await holder.getAddress();
    const name = collection();
    const root = `0x${'ab'.repeat(32)}`;
    const [a, b, c] = ['1', '2', '3'].map((k) => assetIdOf(name, k)) as [bigint, bigint, bigint];
    await expectRevert(contract.mintBatch(holderAddress, [a, c, b], root), 'AssetIdsNotAscending', [2n, b]);
    await expectRevert(contract.mintBatch(holderAddress, [a, b, b], root), 'AssetIdsNotAscending', [2n, b]);
    await expectRevert(contract.mintBatch(holderAddress, [], root), 'InvalidBatchSize', [0n, BigInt(MAX_BATCH_SIZE)]);
    const tooMany = Array.from({ length: MAX_BATCH_SIZE + 1 }, (_, i) => assetIdOf(name, String(i)));
    await expectRevert(contract.mintBatch(holderAddress, tooMany, root), 'InvalidBatchSize', [BigInt(MAX_BATCH_SIZE + 1), BigInt(MAX_BATCH_SIZE)]);
    await expectRevert(contract.mintBatch(holderAddress, [a], `0x${'00'.repeat(32)}`), 'EmptyContentDigest');
    // The largest batch is accepted and tokenOfAsset stays exact across its 128-asset words.
    await mined(contract.mintBatch(holderAddress, tooMany.slice(1), root));
    expect(await contract.tokenOfAsset(tooMany[1]!)).toBe(1n);
    expect(await contract.tokenOfAsset(tooMany[MAX_BATCH_SIZE]!)).toBe(BigInt(MAX_BATCH_SIZE));
    expect(await contract.tokenOfAsset(tooMany[0]!)).toBe(0n);
    expect(() => sortBatchByAssetId([{ assetId: a }, { assetId: a }])).toThrow(/twice/);
  });
});

describe('ownership and transfers', () => {
  /** Mints `count` tokens to `to` in one mintBatch (content is a placeholder root; no gateway is involved). */
  async function mintTokens(contract: CreativeAssetContract, to: string, name: string, firstKey: number, count: number): Promise<bigint[]> {
    const firstTokenId = await contract.nextTokenId();
    const assetIds = Array.from({ length: count }, (_, i) => assetIdOf(name, String(firstKey + i)));
    await mined(contract.mintBatch(to, assetIds, `0x${'ab'.repeat(32)}`));
    return assetIds.map((_, i) => firstTokenId + BigInt(i));
  }

  it('moves the first, a middle and the last token of a batch of 50 and of 128 to their new owners, neighbours and balances unchanged', async () => {
    const { contract, as } = await deployFresh();
    const holderAddress = await holder.getAddress();
    const name = collection();
    const { cid } = await pinMetadata('before the batches');
    await mined(contract.mint(holderAddress, assetIdOf(name, '0'), metadataDigestFromCid(cid)));
    const batch50 = await mintTokens(contract, holderAddress, name, 1, 50); // tokens 2..51
    // Fill up to token 200 so that the batch of 128 (200..327) straddles the bitmap word boundary at 256.
    await mintTokens(contract, holderAddress, name, 51, 128);
    await mintTokens(contract, holderAddress, name, 179, 20);
    const batch128 = await mintTokens(contract, holderAddress, name, 199, 128);
    expect([batch50[0], batch50.at(-1), batch128[0], batch128.at(-1)]).toEqual([2n, 51n, 200n, 327n]);
    const minted = 1 + 50 + 128 + 20 + 128;
    expect(await contract.balanceOf(holderAddress)).toBe(BigInt(minted));

    const moved = new Map<bigint, string>();
    const ownerOfToken = (tokenId: bigint) => moved.get(tokenId) ?? holderAddress;
    for (const batch of [batch50, batch128]) {
      for (const tokenId of [batch[0]!, batch[Math.floor(batch.length / 2)]!, batch.at(-1)!]) {
        const newOwner = Wallet.createRandom().address;
        const receipt = await mined(as(holder).transferFrom(holderAddress, newOwner, tokenId));
        expect(logsNamed(receipt, 'Transfer').map((args) => args.toArray())).toEqual([[holderAddress, newOwner, tokenId]]);
        moved.set(tokenId, newOwner);
        expect(await contract.ownerOf(tokenId)).toBe(newOwner);
        expect(await contract.balanceOf(newOwner)).toBe(1n);
        expect(await contract.balanceOf(holderAddress)).toBe(BigInt(minted - moved.size));
        // Its neighbours, inside the batch and on either side of it, stay where they were.
        for (const neighbour of [tokenId - 1n, tokenId + 1n]) {
          if (neighbour >= 1n && neighbour < (await contract.nextTokenId()))
            expect(await contract.ownerOf(neighbour), `token ${neighbour}`).toBe(ownerOfToken(neighbour));
        }
      }
    }
    // Every other token of both batches, and the tokens around them, still belongs to the holder.
    for (const tokenId of [1n, ...batch50, 52n, 199n, ...batch128]) expect(await contract.ownerOf(tokenId), `token ${tokenId}`).toBe(ownerOfToken(tokenId));
    expect(await contract.totalSupply()).toBe(BigInt(minted));

    // A moved token moves on, and back to its first holder, at its own owner slot.
    const outsiderAddress = await outsider.getAddress();
    await mined(as(holder).transferFrom(holderAddress, outsiderAddress, 255n));
    await mined(as(outsider).transferFrom(outsiderAddress, holderAddress, 255n));
    expect(await contract.ownerOf(255n)).toBe(holderAddress);
    expect(await contract.balanceOf(outsiderAddress)).toBe(0n);
    expect(await contract.balanceOf(holderAddress)).toBe(BigInt(minted - moved.size));

    // Tokens that do not exist have no owner: 0, the next id (same record word), and ids in empty words.
    for (const tokenId of [0n, 328n, 512n, 2n ** 255n, 2n ** 256n - 1n]) {
      await expectRevert(contract.ownerOf(tokenId), 'OwnerQueryForNonexistentToken');
      await expectRevert(as(holder).transferFrom(holderAddress, outsiderAddress, tokenId), 'OwnerQueryForNonexistentToken');
    }
    await expectRevert(contract.balanceOf(ZeroAddress), 'BalanceQueryForZeroAddress');
  });

  it('lets the owner, the approved address and operators transfer, nobody else', async () => {
    const { contract, as } = await deployFresh();
    const [holderAddress, outsiderAddress, editorAddress] = await Promise.all([holder.getAddress(), outsider.getAddress(), editor.getAddress()]);
    const tokens = await mintTokens(contract, holderAddress, collection(), 0, 5);

    await expectRevert(as(outsider).transferFrom(holderAddress, outsiderAddress, tokens[1]!), 'TransferCallerNotOwnerNorApproved');
    await expectRevert(as(holder).transferFrom(outsiderAddress, holderAddress, tokens[1]!), 'TransferFromIncorrectOwner');
    await expectRevert(as(holder).transferFrom(holderAddress, ZeroAddress, tokens[1]!), 'TransferToZeroAddress');
    await expectRevert(as(outsider).approve(outsiderAddress, tokens[1]!), 'ApprovalCallerNotOwnerNorApproved');
    await expectRevert(contract.getApproved(99n), 'ApprovalQueryForNonexistentToken');

    // An approval lets one address move one token, and ends with the transfer.
    const approval = await mined(as(holder).approve(outsiderAddress, tokens[1]!));
    expect(logsNamed(approval, 'Approval').map((args) => args.toArray())).toEqual([[holderAddress, outsiderAddress, tokens[1]]]);
    expect(await contract.getApproved(tokens[1]!)).toBe(outsiderAddress);
    await expectRevert(as(outsider).transferFrom(holderAddress, outsiderAddress, tokens[2]!), 'TransferCallerNotOwnerNorApproved');
    await mined(as(outsider).transferFrom(holderAddress, editorAddress, tokens[1]!));
    expect(await contract.ownerOf(tokens[1]!)).toBe(editorAddress);
    expect(await contract.getApproved(tokens[1]!)).toBe(ZeroAddress);
    await expectRevert(as(outsider).transferFrom(editorAddress, outsiderAddress, tokens[1]!), 'TransferCallerNotOwnerNorApproved');

    // An operator moves any of the holder's tokens until the holder withdraws it.
    const operator = await mined(as(holder).setApprovalForAll(outsiderAddress, true));
    expect(logsNamed(operator, 'ApprovalForAll').map((args) => args.toArray())).toEqual([[holderAddress, outsiderAddress, true]]);
    expect(await contract.isApprovedForAll(holderAddress, outsiderAddress)).toBe(true);
    await mined(as(outsider).approve(editorAddress, tokens[3]!)); // an operator may approve too
    await mined(as(outsider).transferFrom(holderAddress, outsiderAddress, tokens[4]!));
    await mined(as(editor).transferFrom(holderAddress, editorAddress, tokens[3]!));
    await mined(as(holder).setApprovalForAll(outsiderAddress, false));
    await expectRevert(as(outsider).transferFrom(holderAddress, outsiderAddress, tokens[0]!), 'TransferCallerNotOwnerNorApproved');

    expect(await Promise.all(tokens.map((tokenId) => contract.ownerOf(tokenId)))).toEqual([
      holderAddress,
      editorAddress,
      holderAddress,
      editorAddress,
      outsiderAddress,
    ]);
    expect(await Promise.all([holderAddress, editorAddress, outsiderAddress].map((a) => contract.balanceOf(a)))).toEqual([2n, 2n, 1n]);
  });

  it('asks contract recipients of safe mints and safe transfers for onERC721Received', async () => {
    const source = `// SPDX-License-Identifier: MIT
      pragma solidity 0.8.37;
      contract Receiver {
        event Received(address operator, address from, uint256 tokenId, bytes data);
        bytes4 private immutable answer;
        constructor(bytes4 answer_) { answer = answer_; }
        function onERC721Received(address operator, address from, uint256 tokenId, bytes calldata data) external returns (bytes4) {
          emit Received(operator, from, tokenId, data);
          return answer;
        }
      }`;
    const output = JSON.parse(
      solc.compile(
        JSON.stringify({
          language: 'Solidity',
          sources: { 'Receiver.sol': { content: source } },
          settings: { evmVersion: 'prague', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
        }),
      ),
    ) as { contracts: Record<string, Record<string, { abi: []; evm: { bytecode: { object: string } } }>> };
    const { abi: receiverAbi, evm } = output.contracts['Receiver.sol']!.Receiver!;
    const receiverEvents = new Interface(receiverAbi);
    const deployReceiver = async (answer: string) => {
      const deployed = (await new ContractFactory(receiverAbi, `0x${evm.bytecode.object}`, admin).deploy(answer)) as BaseContract;
      await deployed.waitForDeployment();
      return deployed.getAddress();
    };
    const received = (receipt: TransactionReceipt, receiver: string) =>
      (receipt.logs as readonly Log[]).filter((log) => log.address === receiver).map((log) => receiverEvents.parseLog(log)!.args.toArray());

    const accepting = await deployReceiver('0x150b7a02');
    const refusing = await deployReceiver('0xdeadbeef');
    const { contract, address, as } = await deployFresh();
    const [adminAddress, holderAddress] = await Promise.all([admin.getAddress(), holder.getAddress()]);
    const name = collection();
    const root = `0x${'ab'.repeat(32)}`;

    // Safe mints: every token of a batch is offered; a refusal or a contract without the hook reverts the mint.
    const batch = await mined(contract.mintBatch(accepting, [assetIdOf(name, '1'), assetIdOf(name, '2')], root));
    expect(received(batch, accepting)).toEqual([
      [adminAddress, ZeroAddress, 1n, '0x'],
      [adminAddress, ZeroAddress, 2n, '0x'],
    ]);
    expect(await contract.balanceOf(accepting)).toBe(2n);
    for (const to of [refusing, address]) {
      await expectRevert(contract.mintBatch(to, [assetIdOf(name, '3')], root), 'TransferToNonERC721ReceiverImplementer');
      await expectRevert(contract.mint(to, assetIdOf(name, '3'), root), 'TransferToNonERC721ReceiverImplementer');
    }
    expect(await contract.tokenOfAsset(assetIdOf(name, '3'))).toBe(0n);

    // Safe transfers pass the caller, the sender and the data; plain transferFrom asks nothing.
    const [tokenId] = await mintTokens(contract, holderAddress, name, 10, 1);
    const safe = await mined(as(holder)['safeTransferFrom(address,address,uint256,bytes)'](holderAddress, accepting, tokenId!, '0x1234'));
    expect(received(safe, accepting)).toEqual([[holderAddress, holderAddress, tokenId, '0x1234']]);
    expect(await contract.ownerOf(tokenId!)).toBe(accepting);
    const [second] = await mintTokens(contract, holderAddress, name, 11, 1);
    for (const to of [refusing, address]) {
      await expectRevert(as(holder)['safeTransferFrom(address,address,uint256)'](holderAddress, to, second!), 'TransferToNonERC721ReceiverImplementer');
    }
    await mined(as(holder).transferFrom(holderAddress, refusing, second!));
    expect(await contract.ownerOf(second!)).toBe(refusing);
  });
});

describe('content updates', () => {
  it('updateContent replaces one token’s metadata and emits ERC-4906 MetadataUpdate', async () => {
    const { contract } = await deployFresh();
    const holderAddress = await holder.getAddress();
    const name = collection();
    const original = await pinMetadata('original');
    await mined(contract.mint(holderAddress, assetIdOf(name, '1'), metadataDigestFromCid(original.cid)));
    const batchItems = await Promise.all([0, 1, 2].map((i) => pinMetadata(`batch ${i}`)));
    const root = await pinBatchDirectory(
      kubo,
      batchItems.map((item) => item.cid),
    );
    await mined(
      contract.mintBatch(
        holderAddress,
        ['2', '3', '4'].map((k) => assetIdOf(name, k)),
        root.digest,
      ),
    );

    const revised = await pinMetadata('revised');
    for (const tokenId of [1n, 3n]) {
      const receipt = await mined(contract.updateContent(tokenId, metadataDigestFromCid(revised.cid)));
      expect(logsNamed(receipt, 'MetadataUpdate').map((args) => args.toArray())).toEqual([[tokenId]]);
      expect(logsNamed(receipt, 'ContentUpdated').map((args) => args.toArray())).toEqual([[tokenId, metadataDigestFromCid(revised.cid)]]);
      const uri = await contract.tokenURI(tokenId);
      expect(uri).toBe(`ipfs://${revised.cid}`);
      expect(await fetchThroughGateway(uri)).toEqual(revised.bytes);
    }
    // The other tokens of the batch keep their directory entries.
    expect(await fetchThroughGateway(await contract.tokenURI(2n))).toEqual(batchItems[0]!.bytes);
    expect(await fetchThroughGateway(await contract.tokenURI(4n))).toEqual(batchItems[2]!.bytes);
    await expectRevert(contract.updateContent(1n, `0x${'00'.repeat(32)}`), 'EmptyContentDigest');
  });

  it('updateBatchContent replaces a batch’s directory, drops its overrides and emits BatchMetadataUpdate', async () => {
    const { contract } = await deployFresh();
    const holderAddress = await holder.getAddress();
    const name = collection();
    const before = await Promise.all([0, 1, 2].map((i) => pinMetadata(`before ${i}`)));
    const firstRoot = await pinBatchDirectory(
      kubo,
      before.map((item) => item.cid),
    );
    await mined(
      contract.mintBatch(
        holderAddress,
        ['1', '2', '3'].map((k) => assetIdOf(name, k)),
        firstRoot.digest,
      ),
    );
    // A later record (single mint, then another batch) bounds the batch's range.
    const later = await pinMetadata('later');
    await mined(contract.mint(holderAddress, assetIdOf(name, '4'), metadataDigestFromCid(later.cid)));
    await mined(contract.mintBatch(holderAddress, [assetIdOf(name, '5')], (await pinBatchDirectory(kubo, [later.cid])).digest));
    await mined(contract.updateContent(2n, metadataDigestFromCid(later.cid)));

    const after = await Promise.all([0, 1, 2].map((i) => pinMetadata(`after ${i}`)));
    const newRoot = await pinBatchDirectory(
      kubo,
      after.map((item) => item.cid),
    );
    const receipt = await mined(contract.updateBatchContent(1n, newRoot.digest));
    expect(logsNamed(receipt, 'BatchMetadataUpdate').map((args) => args.toArray())).toEqual([[1n, 3n]]);
    expect(logsNamed(receipt, 'BatchContentUpdated').map((args) => args.toArray())).toEqual([[1n, 3n, newRoot.digest]]);

    for (let i = 0; i < 3; i++) {
      const uri = await contract.tokenURI(BigInt(i + 1));
      expect(uri).toBe(`ipfs://${newRoot.cid}/${i}`);
      expect(await fetchThroughGateway(uri)).toEqual(after[i]!.bytes);
    }
    expect(await fetchThroughGateway(await contract.tokenURI(4n))).toEqual(later.bytes);
    // The last batch (one token, ending at the newest token) updates too.
    const receiptLast = await mined(contract.updateBatchContent(5n, newRoot.digest));
    expect(logsNamed(receiptLast, 'BatchMetadataUpdate').map((args) => args.toArray())).toEqual([[5n, 5n]]);

    await expectRevert(contract.updateBatchContent(2n, newRoot.digest), 'NotABatchStart', [2n]);
    await expectRevert(contract.updateBatchContent(4n, newRoot.digest), 'NotABatchStart', [4n]);
  });
});

describe('asset ids and CIDs', () => {
  it('derives asset ids from the collection hash and the numeric or hashed key', () => {
    const name = collection();
    expect(assetIdOf(name, '7')).toBe(assetIdOf(name, '0007'));
    expect(assetIdOf(name, '7')).not.toBe(assetIdOf(collection(), '7'));
    expect(decodeAssetId(assetIdOf(name, '42'))).toMatchObject({ assetIndex: 42n, hashedKey: false });
    expect(assetIdOf(name, '8') - assetIdOf(name, '7')).toBe(1n);
    const hashed = decodeAssetId(assetIdOf(name, 'hero-shot'));
    expect(hashed.hashedKey).toBe(true);
    expect(hashed.assetIndex & HASHED_KEY_FLAG).toBe(HASHED_KEY_FLAG);
    expect(decodeAssetId(assetIdOf(name, String(2n ** 63n))).hashedKey).toBe(true);
    expect(decodeAssetId(assetIdOf(name, '7')).collectionPrefix).toBe(decodeAssetId(assetIdOf(name, 'x')).collectionPrefix);
  });

  it('round-trips CIDs and digests and builds the same batch directory as Kubo’s own MFS', async () => {
    const items = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => pinMetadata(`mfs ${i}`)));
    for (const { cid } of items) expect(rawCidFromDigest(metadataDigestFromCid(cid)).toString()).toBe(cid);
    expect(() => directoryDigestFromCid(items[0]!.cid)).toThrow(/not a dag-pb/);

    const root = await pinBatchDirectory(
      kubo,
      items.map((item) => item.cid),
    );
    expect(() => metadataDigestFromCid(root.cid)).toThrow(/not a raw block/);
    expect(directoryCidFromDigest(root.digest).toString()).toBe(root.cid.toString());

    const dir = `/atelier-contract-test-${randomUUID()}`;
    await kubo.files.mkdir(dir, { parents: true, cidVersion: 1 });
    try {
      for (const [i, item] of items.entries()) await kubo.files.cp(`/ipfs/${item.cid}`, `${dir}/${i}`);
      const stat = await kubo.files.stat(dir);
      expect(stat.cid.toV1().toString()).toBe(root.cid.toString());
    } finally {
      await kubo.files.rm(dir, { recursive: true });
    }
    const local = await buildBatchDirectory(items.map((item) => ({ cid: item.cid, size: item.bytes.length })));
    expect(local.cid.toString()).toBe(root.cid.toString());
  });
});

describe('build output', () => {
  it('matches a fresh compile of the sources (run `npm run contracts:build` when this fails)', () => {
    expect(findStaleBuildOutput()).toEqual([]);
    const committed = JSON.parse(readFileSync(new URL('../contracts/build/CreativeAsset.json', import.meta.url), 'utf8')) as {
      compiler: { version: string; settings: { optimizer: { enabled: boolean; runs: number } } };
      deployedBytecode: string;
    };
    expect(committed.compiler.version.startsWith('0.8.37+')).toBe(true);
    expect(committed.compiler.settings.optimizer).toEqual({ enabled: true, runs: 200 });
    expect(committed.deployedBytecode).toBe(creativeAssetArtifact.deployedBytecode);
  });

  it('deploys exactly the committed runtime bytecode', async () => {
    const { address } = await deployFresh();
    expect(await provider.getCode(address)).toBe(creativeAssetArtifact.deployedBytecode);
  });
});
