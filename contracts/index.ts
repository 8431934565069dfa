/**
 * The CreativeAsset contract for TypeScript callers: build output, deployment, asset ids and the
 * CID <-> digest helpers. See contracts/README.md for the design.
 */
import { Contract, ContractFactory, Interface } from 'ethers';
import type { ContractRunner, Log, Signer, TransactionReceipt } from 'ethers';
import { abi, bytecode, compilerVersion, contractName, deployedBytecode } from './build/CreativeAsset.ts';
import type { CreativeAssetContract } from './build/CreativeAsset.ts';

export {
  abi as creativeAssetAbi,
  bytecode as creativeAssetBytecode,
  deployedBytecode as creativeAssetDeployedBytecode,
  compilerVersion,
} from './build/CreativeAsset.ts';
export type { CreativeAssetContract } from './build/CreativeAsset.ts';

/** The committed build of CreativeAsset (contracts/build/CreativeAsset.ts); `deployedBytecode` is the exact runtime code. */
export const creativeAssetArtifact = { contractName, abi, bytecode, deployedBytecode, compilerVersion } as const;
export { assetIdOf, assetIndexOf, collectionPrefixOf, decodeAssetId, HASHED_KEY_FLAG } from './asset-id.ts';
export {
  buildBatchDirectory,
  directoryCidFromDigest,
  directoryDigestFromCid,
  metadataDigestFromCid,
  pinBatchDirectory,
  pinDirectory,
  rawCidFromDigest,
  tokenUriOf,
} from './cid.ts';
export type { DirectoryEntry, Hex32 } from './cid.ts';

/** Largest `mintBatch` the contract accepts (its MAX_BATCH_SIZE). */
export const MAX_BATCH_SIZE = 128;

const creativeAssetInterface = new Interface(abi);

export interface DeployCreativeAssetOptions {
  name: string;
  symbol: string;
  /** ERC-7572 collection metadata URI, e.g. `ipfs://bafkrei...`. */
  contractURI: string;
  /** ERC-2981 receiver; the zero address for no royalty. */
  royaltyReceiver: string;
  /** ERC-2981 fee in basis points (500 = 5%). */
  royaltyBps: number | bigint;
  /** Gets DEFAULT_ADMIN_ROLE, MINTER_ROLE and METADATA_EDITOR_ROLE; defaults to the signer. */
  admin?: string;
}

export interface DeployedCreativeAsset {
  address: string;
  /** Block holding the deployment: where log queries for this contract can start. */
  blockNumber: number;
  transactionHash: string;
}

/** Deploys CreativeAsset and waits for its receipt. */
export async function deployCreativeAsset(signer: Signer, options: DeployCreativeAssetOptions): Promise<DeployedCreativeAsset> {
  const factory = new ContractFactory(abi, bytecode, signer);
  const admin = options.admin ?? (await signer.getAddress());
  const contract = await factory.deploy(options.name, options.symbol, options.contractURI, options.royaltyReceiver, options.royaltyBps, admin);
  const receipt = await contract.deploymentTransaction()?.wait();
  if (!receipt?.contractAddress) throw new Error('CreativeAsset deployment produced no contract address');
  return { address: receipt.contractAddress, blockNumber: receipt.blockNumber, transactionHash: receipt.hash };
}

/** A typed handle on a deployed CreativeAsset. */
export function connectCreativeAsset(address: string, runner: ContractRunner): CreativeAssetContract {
  return new Contract(address, abi, runner) as unknown as CreativeAssetContract;
}

export interface MintedToken {
  assetId: bigint;
  tokenId: bigint;
}

/**
 * The (asset, token) pairs a `mint` or `mintBatch` transaction created, read from its
 * AssetMinted / BatchMinted logs (transaction return values are not in receipts).
 */
export function mintedTokensFromReceipt(receipt: TransactionReceipt, contractAddress?: string): MintedToken[] {
  const minted: MintedToken[] = [];
  for (const log of receipt.logs as readonly Log[]) {
    if (contractAddress && log.address.toLowerCase() !== contractAddress.toLowerCase()) continue;
    const parsed = creativeAssetInterface.parseLog(log);
    if (parsed?.name === 'AssetMinted') {
      minted.push({ assetId: parsed.args.getValue('assetId') as bigint, tokenId: parsed.args.getValue('tokenId') as bigint });
    } else if (parsed?.name === 'BatchMinted') {
      const firstTokenId = parsed.args.getValue('firstTokenId') as bigint;
      const assetIds = (parsed.args.getValue('assetIds') as bigint[]).map((id) => BigInt(id));
      assetIds.forEach((assetId, index) => minted.push({ assetId, tokenId: firstTokenId + BigInt(index) }));
    }
  }
  return minted;
}

/**
 * The CreativeAsset custom error inside an ethers error (from a send, estimateGas or staticCall),
 * e.g. `{ name: 'AssetAlreadyMinted', args: [assetId, tokenId] }`; null if there is none.
 * Sends surface only the raw revert data, so this decodes it against the contract's ABI.
 */
export function parseCreativeAssetError(error: unknown): { name: string; args: unknown[] } | null {
  const data = (error as { data?: unknown } | null)?.data;
  if (typeof data !== 'string' || !data.startsWith('0x') || data.length < 10) return null;
  const parsed = creativeAssetInterface.parseError(data);
  return parsed ? { name: parsed.name, args: [...parsed.args] } : null;
}

/**
 * Puts batch items in the order `mintBatch` requires (strictly ascending asset id). Build the
 * batch directory from the result, so entry `i` belongs to `assetIds[i]`.
 */
export function sortBatchByAssetId<T extends { assetId: bigint }>(items: readonly T[]): T[] {
  const sorted = [...items].sort((a, b) => (a.assetId < b.assetId ? -1 : a.assetId > b.assetId ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.assetId === sorted[i - 1]!.assetId) throw new Error(`asset ${sorted[i]!.assetId} appears twice in the batch`);
  }
  return sorted;
}
