// mint: one token per asset, through ethers v6. Exactly once: the contract refuses a second
// token for an asset, and a retry first looks for the token and for the transaction it sent.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { JsonRpcProvider, TransactionReceipt, Wallet } from 'ethers';
import type { MintReceipt } from '../common/asset.ts';
import { tokenIdPattern } from '../common/asset.ts';
import type { CreativeAssetContract } from '../contracts/index.ts';
import { assetIdOf, connectCreativeAsset, metadataDigestFromCid, mintedTokensFromReceipt, parseCreativeAssetError } from '../contracts/index.ts';
import { heartbeatWhile } from './heartbeat.ts';
import { recordMintGas } from './metrics.ts';
import { awaitReceipt, revertFailure, sendRecorded } from './transactions.ts';
import type { SentProgress } from './transactions.ts';

export interface MintDependencies {
  provider: JsonRpcProvider;
  signer: Wallet;
  contractAddress: string;
  /** Where to start looking for mint events. */
  deploymentBlock: number;
  confirmations: number;
}

export interface MintInput {
  collectionId: string;
  assetKey: string;
  recipient: string;
  metadataCid: string;
}

export interface UpdateContentInput {
  tokenId: string;
  metadataCid: string;
}

export interface ContentUpdate {
  tokenId: string;
  metadataCid: string;
  /** The `updateContent` transaction; null when the token already pointed at this metadata and no attempt of ours sent one. */
  txHash: string | null;
  blockNumber: number | null;
}

/** Kept in heartbeat details: the next attempt after a crash looks for this transaction first. */
type MintProgress = SentProgress;

/**
 * The token the contract already holds for an asset, with the transaction that minted it, or
 * undefined. Shared by the direct mint and the minter: both start from the chain's record.
 */
export async function existingMint(
  {
    contract,
    provider,
    contractAddress,
    deploymentBlock,
  }: { contract: CreativeAssetContract; provider: JsonRpcProvider; contractAddress: string; deploymentBlock: number },
  assetId: bigint,
): Promise<MintReceipt | undefined> {
  const tokenId = await contract.tokenOfAsset(assetId);
  if (tokenId === 0n) return undefined;
  // Every token has its Transfer from the zero address, indexed by token id: one getLogs call.
  const [transfer] = await contract.queryFilter(contract.getEvent('Transfer')(undefined, undefined, tokenId), deploymentBlock);
  const { chainId } = await provider.getNetwork();
  return {
    tokenId: tokenId.toString(),
    txHash: transfer?.transactionHash ?? '',
    blockNumber: transfer?.blockNumber ?? 0,
    contract: contractAddress,
    chainId: Number(chainId),
    alreadyMinted: true,
  };
}

export function createMintActivities({ provider, signer, contractAddress, deploymentBlock }: MintDependencies) {
  const contract = connectCreativeAsset(contractAddress, signer);
  const onChain = { contract, provider, contractAddress, deploymentBlock };

  async function toMintReceipt(receipt: TransactionReceipt, assetId: bigint, alreadyMinted: boolean): Promise<MintReceipt> {
    const minted = mintedTokensFromReceipt(receipt, contractAddress).find((m) => m.assetId === assetId);
    if (!minted) throw new Error(`transaction ${receipt.hash} minted no token for asset ${assetId}`);
    recordMintGas(receipt.gasUsed, 1, 'single');
    return {
      tokenId: minted.tokenId.toString(),
      txHash: receipt.hash,
      blockNumber: receipt.blockNumber,
      contract: contractAddress,
      chainId: Number((await provider.getNetwork()).chainId),
      alreadyMinted,
    };
  }

  return {
    /**
     * Heartbeats every second throughout (10 s heartbeat timeout: reads, the queue for a nonce and the
     * receipt can each take longer under load), always with the transaction it knows of, if any.
     */
    async mintAsset(input: MintInput): Promise<MintReceipt> {
      const progress: { current?: MintProgress } = { current: Context.current().info.heartbeatDetails as MintProgress | undefined };
      return heartbeatWhile(
        () => mintOnce(input, progress),
        () => progress.current,
      );
    },

    /**
     * Points a minted token at new metadata (`updateContent`, which emits ERC-4906 MetadataUpdate).
     * Once: the chain is read first (a token already pointing there needs nothing), and a retry waits
     * for the transaction an earlier attempt sent (heartbeat details) before it sends another.
     */
    async updateTokenContent(input: UpdateContentInput): Promise<ContentUpdate> {
      const progress: { current?: MintProgress } = { current: Context.current().info.heartbeatDetails as MintProgress | undefined };
      return heartbeatWhile(
        () => updateOnce(input, progress),
        () => progress.current,
      );
    },
  };

  async function updateOnce({ tokenId, metadataCid }: UpdateContentInput, progress: { current?: MintProgress }): Promise<ContentUpdate> {
    if (!tokenIdPattern.test(tokenId)) throw ApplicationFailure.nonRetryable(`"${tokenId}" is not a token id`, 'InvalidToken');
    let digest: string;
    try {
      digest = metadataDigestFromCid(metadataCid);
    } catch (error) {
      throw ApplicationFailure.nonRetryable(`metadata CID ${metadataCid} cannot go on chain: ${(error as Error).message}`, 'InvalidContent');
    }
    const pointsThere = async () => {
      const [current, isDirectory] = await contract.contentOf(BigInt(tokenId));
      return !isDirectory && current.toLowerCase() === digest.toLowerCase();
    };
    const previous = progress.current?.txHash;
    if (previous) {
      const receipt = await awaitReceipt(provider, previous);
      if (receipt?.status === 1 && (await pointsThere())) return { tokenId, metadataCid, txHash: previous, blockNumber: receipt.blockNumber };
    }
    if (await pointsThere()) return { tokenId, metadataCid, txHash: previous ?? null, blockNumber: null };
    let txHash: string;
    try {
      txHash = await sendRecorded(signer, provider, await contract.updateContent.populateTransaction(BigInt(tokenId), digest), progress);
    } catch (error) {
      throw revertFailure(error, `updateContent of token ${tokenId}`, 'UpdateReverted') ?? error;
    }
    log.info('updateContent transaction sent', { txHash, tokenId });
    const receipt = await awaitReceipt(provider, txHash);
    if (receipt?.status === 1) return { tokenId, metadataCid, txHash, blockNumber: receipt.blockNumber };
    if (receipt === null) throw new Error(`updateContent transaction ${txHash} disappeared from the pool before it was mined; sending again`);
    throw ApplicationFailure.nonRetryable(`updateContent transaction ${txHash} reverted on chain`, 'UpdateReverted');
  }

  async function mintOnce({ collectionId, assetKey, recipient, metadataCid }: MintInput, progress: { current?: MintProgress }): Promise<MintReceipt> {
    const assetId = assetIdOf(collectionId, assetKey);
    const found = await existingMint(onChain, assetId);
    if (found) {
      log.info('asset already minted; returning its token', { assetId: assetId.toString(), tokenId: found.tokenId });
      return found;
    }

    const previous = progress.current?.txHash;
    if (previous) {
      log.info('looking for the transaction an earlier attempt sent', { txHash: previous });
      const receipt = await awaitReceipt(provider, previous);
      if (receipt?.status === 1) return toMintReceipt(receipt, assetId, true);
      const raced = await existingMint(onChain, assetId);
      if (raced) return raced;
    }

    let digest: string;
    try {
      digest = metadataDigestFromCid(metadataCid);
    } catch (error) {
      throw ApplicationFailure.nonRetryable(`metadata CID ${metadataCid} cannot go on chain: ${(error as Error).message}`, 'InvalidContent');
    }

    let txHash: string;
    try {
      // Recorded before it is sent: a crash after sending still finds this transaction.
      txHash = await sendRecorded(signer, provider, await contract.mint.populateTransaction(recipient, assetId, digest), progress);
    } catch (error) {
      if (parseCreativeAssetError(error)?.name === 'AssetAlreadyMinted') {
        const raced = await existingMint(onChain, assetId);
        if (raced) return raced;
        // Minted only in the pending block: a transaction sent before a crash (whose hash never
        // reached the server) is about to mint it. The next attempt finds its token.
        throw ApplicationFailure.retryable(`asset ${assetId} is being minted by a pending transaction; waiting for it`, 'MintPending');
      }
      throw revertFailure(error, `mint of asset ${assetId}`, 'MintReverted') ?? error;
    }
    log.info('mint transaction sent', { txHash, assetId: assetId.toString() });

    // The receipt is enough here: the asset run reads the token back at the configured depth (confirmMint).
    const receipt = await awaitReceipt(provider, txHash);
    if (receipt?.status === 1) return toMintReceipt(receipt, assetId, false);
    const raced = await existingMint(onChain, assetId);
    if (raced) return raced;
    if (receipt === null) throw new Error(`mint transaction ${txHash} disappeared from the pool before it was mined; sending again`);
    throw ApplicationFailure.nonRetryable(`mint transaction ${txHash} reverted on chain`, 'MintReverted');
  }
}
