/**
 * Gas per token of CreativeAsset against an OpenZeppelin ERC721URIStorage reference, measured on a
 * throwaway Anvil: `npm run bench:gas`.
 *
 * Both contracts are deployed in the same run and mint to the same fresh recipient. CreativeAsset
 * rows: a single `mint`, then `mintBatch` of 10 and 50 continuing the same collection, each with its
 * content root built by the real helper (from placeholder metadata CIDs; the digest's value does not
 * change gas). "first" rows are the first mint on a fresh contract to a fresh recipient.
 */
import { ContractFactory, JsonRpcProvider } from 'ethers';
import type { ContractTransactionResponse } from 'ethers';
import * as Reference from '../contracts/build/ReferenceERC721URIStorage.ts';
import type { ReferenceERC721URIStorageContract } from '../contracts/build/ReferenceERC721URIStorage.ts';
import {
  assetIdOf,
  buildBatchDirectory,
  connectCreativeAsset,
  deployCreativeAsset,
  directoryDigestFromCid,
  rawCidFromDigest,
} from '../contracts/index.ts';
import type { CreativeAssetContract } from '../contracts/index.ts';
import { startAnvil } from './gas-anvil.ts';

const COLLECTION = 'bench-collection';

async function gasOf(pending: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await pending).wait();
  if (!receipt || receipt.status !== 1) throw new Error('benchmark transaction failed');
  return receipt.gasUsed;
}

/** A deterministic placeholder metadata digest per asset (gas does not depend on its value). */
function placeholderDigest(seed: number): `0x${string}` {
  return `0x${(BigInt(seed + 1) * 0x9e3779b97f4a7c15f39cc0605cedc834n).toString(16).padStart(64, '0').slice(-64)}`;
}

async function contentRootFor(assetIndexes: number[]): Promise<string> {
  const entries = assetIndexes.map((index) => ({ cid: rawCidFromDigest(placeholderDigest(index)), size: 512 }));
  const { cid } = await buildBatchDirectory(entries);
  return directoryDigestFromCid(cid);
}

interface Row {
  label: string;
  call: string;
  tokens: number;
  gasPerToken: number;
  referenceGasPerToken: number;
}

async function main(): Promise<void> {
  const anvil = await startAnvil();
  try {
    const provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });
    const deployer = await provider.getSigner(0);
    const recipient = await (await provider.getSigner(1)).getAddress();

    const { address } = await deployCreativeAsset(deployer, {
      name: 'Bench',
      symbol: 'BNCH',
      contractURI: 'ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
      royaltyReceiver: await deployer.getAddress(),
      royaltyBps: 500,
    });
    const creative: CreativeAssetContract = connectCreativeAsset(address, deployer);

    const referenceFactory = new ContractFactory(Reference.abi, Reference.bytecode, deployer);
    const referenceDeployment = await referenceFactory.deploy(await deployer.getAddress());
    await referenceDeployment.waitForDeployment();
    const reference = referenceDeployment as unknown as ReferenceERC721URIStorageContract;
    const referenceUri = (seed: number) => `ipfs://${rawCidFromDigest(placeholderDigest(seed))}`;

    // Reference: first mint (fresh counter, fresh recipient) and a subsequent one.
    const referenceFirst = Number(await gasOf(reference.safeMint(recipient, referenceUri(0))));
    const referenceNext = Number(await gasOf(reference.safeMint(recipient, referenceUri(1))));

    let nextAssetIndex = 0;
    const nextAssets = (count: number) => {
      const indexes = Array.from({ length: count }, (_, i) => nextAssetIndex + i);
      nextAssetIndex += count;
      return indexes;
    };
    const mintOne = async () => {
      const [index] = nextAssets(1);
      return Number(await gasOf(creative.mint(recipient, assetIdOf(COLLECTION, String(index)), placeholderDigest(index!))));
    };
    const mintMany = async (count: number, collection = COLLECTION) => {
      const indexes = collection === COLLECTION ? nextAssets(count) : Array.from({ length: count }, (_, i) => i);
      const root = await contentRootFor(indexes);
      const assetIds = indexes.map((index) => assetIdOf(collection, String(index)));
      return Number(await gasOf(creative.mintBatch(recipient, assetIds, root))) / count;
    };

    const first = await mintOne();
    const single = await mintOne();
    const batch10 = await mintMany(10);
    const batch50 = await mintMany(50);
    // A collection's first batch also pays for its first bitmap word (zero to nonzero).
    const batch50NewCollection = await mintMany(50, `${COLLECTION}-2`);

    // What the minter's idempotency check and a marketplace's tokenURI cost (eth_call gas).
    const middleOfBatch = assetIdOf(COLLECTION, String(nextAssetIndex - 25));
    const tokenOfAssetGas = await creative.tokenOfAsset.estimateGas(middleOfBatch);
    const tokenUriGas = await creative.tokenURI.estimateGas(await creative.tokenOfAsset(middleOfBatch));

    const rows: Row[] = [
      { label: 'first mint', call: 'mint', tokens: 1, gasPerToken: first, referenceGasPerToken: referenceFirst },
      { label: 'single', call: 'mint', tokens: 1, gasPerToken: single, referenceGasPerToken: referenceNext },
      { label: 'batch', call: 'mintBatch', tokens: 10, gasPerToken: batch10, referenceGasPerToken: referenceNext },
      { label: 'batch', call: 'mintBatch', tokens: 50, gasPerToken: batch50, referenceGasPerToken: referenceNext },
      {
        label: 'new collection',
        call: 'mintBatch',
        tokens: 50,
        gasPerToken: batch50NewCollection,
        referenceGasPerToken: referenceNext,
      },
    ];

    const header = ['tokens per call', 'call', 'gas per token', 'reference gas per token', 'ratio'];
    const lines = rows.map((row) => [
      `${row.tokens} (${row.label})`,
      row.call,
      Math.round(row.gasPerToken).toString(),
      row.referenceGasPerToken.toString(),
      (row.gasPerToken / row.referenceGasPerToken).toFixed(4),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i]!.length)));
    const format = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
    console.log(`reference ERC721URIStorage.safeMint: first ${referenceFirst}, subsequent ${referenceNext} gas`);
    console.log(format(header));
    console.log(format(widths.map((w) => '-'.repeat(w))));
    for (const line of lines) console.log(format(line));
    console.log(`views (eth_call gas, incl. 21000 base): tokenOfAsset ${tokenOfAssetGas}, tokenURI ${tokenUriGas}`);
    console.log(
      `gas per token at batch 50: ${Math.round(batch50)} (ratio ${(batch50 / referenceNext).toFixed(4)} to the reference)`,
    );
  } finally {
    anvil.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
