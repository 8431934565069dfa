// Batch minting for the minter workflow: ask the minter, prepare a batch, send (or replace) its
// `mintBatch` transaction, wait for it. The workflow decides; these act. Exactly once: the contract
// refuses a second token for an asset, every round starts from its record (`tokenOfAsset`), and a
// retried send finds the transaction it signed in its heartbeat details and sends those bytes again.
import { ApplicationFailure, Context, heartbeat, log, sleep } from '@temporalio/activity';
import { keccak256 } from 'ethers';
import type { JsonRpcProvider, Wallet } from 'ethers';
import type { KuboRPCClient } from 'kubo-rpc-client';
import { CID } from 'multiformats/cid';
import type { MintReceipt } from '../common/asset.ts';
import {
  MAX_BATCH_SIZE,
  assetIdOf,
  connectCreativeAsset,
  directoryDigestFromCid,
  mintedTokensFromReceipt,
  parseCreativeAssetError,
  pinBatchDirectory,
  sortBatchByAssetId,
} from '../contracts/index.ts';
import { heartbeatWhile } from './heartbeat.ts';
import { kuboSignal } from './kubo.ts';
import { existingMint } from './mint.ts';
import { recordMintGas } from './metrics.ts';
import { mintRequestSignalName } from '../common/mint.ts';
import type { MintRequest, MinterInput, MinterSettings } from '../common/mint.ts';

export interface MintBatchDependencies {
  provider: JsonRpcProvider;
  signer: Wallet;
  contractAddress: string;
  deploymentBlock: number;
  confirmations: number;
  kubo: KuboRPCClient;
  minter: MinterSettings;
}

/** The minter of a (chain, contract, signer): the only sender of that signer's transactions. */
export const minterIdOf = (chainId: number, contract: string, signer: string) => `minter:${chainId}:${contract.toLowerCase()}:${signer.toLowerCase()}`;

/** A signed `mintBatch` transaction; amounts as decimal strings. */
export interface SentTx {
  hash: string;
  nonce: number;
  gasLimit: string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
}

export interface BatchToMint {
  recipient: string;
  /** Strictly ascending; entry `i` of the directory `rootCid` is the metadata of `assetIds[i]`. */
  assetIds: string[];
  rootCid: string;
}

export interface PreparedBatch {
  /** Assets the contract already has a token for. */
  minted: { assetId: string; mint: MintReceipt }[];
  /** Requests that can never be minted, with the reason. */
  rejected: { assetId: string; reason: string }[];
  batch: BatchToMint | null;
}

export type SendOutcome =
  | { status: 'sent'; tx: SentTx }
  /** The node refused it for good (a revert in estimateGas); `assetId` when the error names one. */
  | { status: 'rejected'; reason: string; assetId?: string }
  /** A replacement that was not needed: the nonce is already used. */
  | { status: 'superseded' };

export type BatchOutcome =
  | { status: 'mined'; txHash: string; minted: { assetId: string; mint: MintReceipt }[] }
  | { status: 'reverted'; txHash: string }
  | { status: 'dropped'; reason: string }
  | { status: 'pending' }
  | Exclude<SendOutcome, { status: 'sent' }>;

/** Kept in heartbeat details before broadcast: a retry sends these same bytes, never a new transaction. */
interface SendProgress {
  tx: SentTx;
  raw: string;
}

/** Fees of a replacement: at least this much above the last one (nodes ask for +10%). */
const FEE_BUMP_PERCENT = 25n;

export function createMintBatchActivities({ provider, signer, contractAddress, deploymentBlock, confirmations, kubo, minter }: MintBatchDependencies) {
  const contract = connectCreativeAsset(contractAddress, signer);
  const onChain = { contract, provider, contractAddress, deploymentBlock };
  const chainId = async () => Number((await provider.getNetwork()).chainId);

  async function broadcast(raw: string): Promise<void> {
    try {
      await provider.broadcastTransaction(raw);
    } catch (error) {
      const { code, message } = error as { code?: string; message?: string };
      // Already in the pool, or its nonce is used (by it or another): the wait decides which.
      if (code === 'NONCE_EXPIRED' || /already known|already imported|known transaction|nonce too low/i.test(message ?? '')) return;
      throw error;
    }
  }

  async function sendOnce(
    { signer: expected, recipient, assetIds, rootCid, replaces }: BatchToMint & { signer: string; replaces?: SentTx },
    progress: { current?: SendProgress },
  ): Promise<SendOutcome> {
    if (expected.toLowerCase() !== signer.address.toLowerCase()) {
      // A worker configured with another key: another worker of the right signer will take it.
      throw ApplicationFailure.retryable(`this worker signs as ${signer.address}; the minter sends as ${expected}`, 'WrongSigner');
    }
    const earlier = progress.current;
    if (earlier?.raw) {
      log.info('sending the transaction an earlier attempt signed', { txHash: earlier.tx.hash });
      await broadcast(earlier.raw);
      return { status: 'sent', tx: earlier.tx };
    }
    if (replaces && (await provider.getTransactionCount(signer.address, 'latest')) > replaces.nonce) return { status: 'superseded' };

    const args = [recipient, assetIds.map(BigInt), directoryDigestFromCid(rootCid)] as const;
    let gasLimit: bigint;
    let nonce: number;
    if (replaces) {
      gasLimit = BigInt(replaces.gasLimit);
      nonce = replaces.nonce;
    } else {
      try {
        gasLimit = ((await contract.mintBatch.estimateGas(...args)) * 12n) / 10n;
      } catch (error) {
        const reverted = parseCreativeAssetError(error);
        if (!reverted && (error as { code?: string }).code !== 'CALL_EXCEPTION') throw error;
        const reason = reverted ? `${reverted.name}(${reverted.args.join(', ')})` : (error as Error).message;
        log.warn('mintBatch would revert', { reason });
        return {
          status: 'rejected',
          reason: `mintBatch reverts: ${reason}`,
          assetId: reverted?.name === 'AssetAlreadyMinted' ? String(reverted.args[0]) : undefined,
        };
      }
      nonce = await provider.getTransactionCount(signer.address, 'pending');
    }
    const fees = await provider.getFeeData();
    let maxPriorityFeePerGas = fees.maxPriorityFeePerGas ?? 1_000_000_000n;
    let maxFeePerGas = fees.maxFeePerGas ?? maxPriorityFeePerGas * 2n;
    if (replaces) {
      maxPriorityFeePerGas = max(maxPriorityFeePerGas, bump(replaces.maxPriorityFeePerGas));
      maxFeePerGas = max(maxFeePerGas, bump(replaces.maxFeePerGas), maxPriorityFeePerGas);
    }
    const raw = await signer.signTransaction({
      type: 2,
      chainId: await chainId(),
      to: contractAddress,
      data: contract.interface.encodeFunctionData('mintBatch', args),
      nonce,
      gasLimit,
      maxFeePerGas,
      maxPriorityFeePerGas,
    });
    const tx: SentTx = {
      hash: keccak256(raw),
      nonce,
      gasLimit: gasLimit.toString(),
      maxFeePerGas: maxFeePerGas.toString(),
      maxPriorityFeePerGas: maxPriorityFeePerGas.toString(),
    };
    // Recorded before it is sent: a crash after sending still finds this transaction.
    progress.current = { tx, raw };
    heartbeat(progress.current);
    await broadcast(raw);
    log.info(replaces ? 'mintBatch replacement sent' : 'mintBatch sent', { txHash: tx.hash, nonce, tokens: assetIds.length });
    return { status: 'sent', tx };
  }

  /** Whether Kubo holds the block; false only when it says so (an unreachable Kubo throws, and is retried). */
  async function onNode(cid: string): Promise<boolean> {
    try {
      await kubo.block.stat(CID.parse(cid), { signal: kuboSignal() });
      return true;
    } catch (error) {
      if (/not found/i.test((error as Error).message)) return false;
      throw error;
    }
  }

  return {
    /** The asset workflow's request: answered at once when the asset is on chain, else handed to the minter. */
    async requestMint(request: Omit<MintRequest, 'assetId'>): Promise<{ assetId: string; minterId: string | null; found: MintReceipt | null }> {
      const assetId = assetIdOf(request.collectionId, request.assetKey);
      const found = await existingMint(onChain, assetId);
      if (found) return { assetId: assetId.toString(), minterId: null, found };
      const input: MinterInput = { chainId: await chainId(), contract: contractAddress, signer: signer.address, settings: minter };
      const minterId = minterIdOf(input.chainId, input.contract, input.signer);
      const { client, info } = Context.current();
      await client.workflow.signalWithStart('minter', {
        workflowId: minterId,
        taskQueue: info.taskQueue,
        args: [input],
        signal: mintRequestSignalName,
        signalArgs: [{ ...request, assetId: assetId.toString() }],
        staticSummary: `Batch minter · chain ${input.chainId} · ${input.contract} · signer ${input.signer}`,
      });
      return { assetId: assetId.toString(), minterId, found: null };
    },

    /** Reads the chain's record of each asset, then pins the directory of the rest in ascending asset id order. */
    async prepareMintBatch({ items }: { items: Omit<MintRequest, 'replyTo'>[] }): Promise<PreparedBatch> {
      if (items.length > MAX_BATCH_SIZE)
        throw ApplicationFailure.nonRetryable(`${items.length} items; a batch holds at most ${MAX_BATCH_SIZE}`, 'InvalidBatch');
      const prepared: PreparedBatch = { minted: [], rejected: [], batch: null };
      const toMint: (Omit<MintRequest, 'replyTo'> & { id: bigint })[] = [];
      // Heartbeats every second throughout (a short heartbeat timeout: a killed worker's attempt is
      // taken over in seconds, and a slow read under load is not mistaken for a dead worker).
      let reading = 0;
      await heartbeatWhile(
        async () => {
          for (const item of items) {
            reading++;
            const found = await existingMint(onChain, BigInt(item.assetId));
            if (found) prepared.minted.push({ assetId: item.assetId, mint: found });
            else if (!isCid(item.metadataCid)) prepared.rejected.push({ assetId: item.assetId, reason: `metadata CID ${item.metadataCid} is not a CID` });
            else if (!(await onNode(item.metadataCid))) {
              // No retry brings it back, and waiting for it would hold every later batch.
              prepared.rejected.push({ assetId: item.assetId, reason: `metadata ${item.metadataCid} is not on the IPFS node; pin it and mint again` });
            } else toMint.push({ ...item, id: BigInt(item.assetId) });
          }
        },
        () => ({ reading, of: items.length }),
      );
      if (toMint.length === 0) return prepared;
      const sorted = sortBatchByAssetId(toMint.map((item) => ({ ...item, assetId: item.id }))).map((item) => ({ ...item, assetId: item.assetId.toString() }));
      const { cid } = await heartbeatWhile(
        () =>
          pinBatchDirectory(
            kubo,
            sorted.map((item) => item.metadataCid),
            { signal: kuboSignal() },
          ),
        () => ({ pinning: sorted.length }),
      );
      prepared.batch = { recipient: sorted[0]!.recipient, assetIds: sorted.map((item) => item.assetId), rootCid: cid.toString() };
      return prepared;
    },

    /**
     * Signs and sends `mintBatch`, or its replacement (same nonce, bumped fees) when `replaces` is
     * given. Heartbeats every second throughout, always with the transaction it signed, if any.
     */
    async sendMintBatch(input: BatchToMint & { signer: string; replaces?: SentTx }): Promise<SendOutcome> {
      const progress: { current?: SendProgress } = { current: Context.current().info.heartbeatDetails as SendProgress | undefined };
      return heartbeatWhile(
        () => sendOnce(input, progress),
        () => progress.current,
      );
    },

    /**
     * Waits up to `waitMs` for one of the batch's transactions (the first and its replacements, all
     * one nonce) to be mined and confirmed. `pending` when none is mined yet: the workflow replaces it.
     */
    async awaitMintBatch({
      txHashes,
      nonce,
      assetIds,
      waitMs,
    }: {
      txHashes: string[];
      nonce: number;
      assetIds: string[];
      waitMs: number;
    }): Promise<BatchOutcome> {
      const deadline = Date.now() + waitMs;
      for (;;) {
        heartbeat({ txHashes });
        for (const hash of txHashes) {
          const receipt = await provider.getTransactionReceipt(hash);
          if (!receipt) continue;
          if (receipt.status !== 1) return { status: 'reverted', txHash: hash };
          while ((await provider.getBlockNumber()) - receipt.blockNumber + 1 < confirmations) {
            heartbeat({ txHashes });
            await sleep(1_000);
          }
          const confirmed = await provider.getTransactionReceipt(hash);
          if (!confirmed || confirmed.blockHash !== receipt.blockHash) break; // reorganised: look again
          const wanted = new Set(assetIds);
          const id = await chainId();
          const minted = mintedTokensFromReceipt(confirmed, contractAddress)
            .filter((m) => wanted.has(m.assetId.toString()))
            .map((m) => ({
              assetId: m.assetId.toString(),
              mint: {
                tokenId: m.tokenId.toString(),
                txHash: hash,
                blockNumber: confirmed.blockNumber,
                contract: contractAddress,
                chainId: id,
                alreadyMinted: false,
              },
            }));
          recordMintGas(confirmed.gasUsed, minted.length, 'batch');
          return { status: 'mined', txHash: hash, minted };
        }
        if ((await provider.getTransactionCount(signer.address, 'latest')) > nonce) {
          // Mined between the receipt reads and now, or the nonce went to another transaction.
          if ((await Promise.all(txHashes.map((h) => provider.getTransactionReceipt(h)))).some(Boolean)) continue;
          return { status: 'dropped', reason: `nonce ${nonce} was used by a transaction that is not this batch's` };
        }
        if ((await Promise.all(txHashes.map((h) => provider.getTransaction(h)))).every((tx) => tx === null)) {
          return { status: 'dropped', reason: 'the node no longer knows the transaction' };
        }
        if (Date.now() >= deadline) return { status: 'pending' };
        await sleep(500);
      }
    },
  };
}

function isCid(value: string): boolean {
  try {
    CID.parse(value);
    return true;
  } catch {
    return false;
  }
}

const bump = (amount: string) => (BigInt(amount) * (100n + FEE_BUMP_PERCENT) + 99n) / 100n;
const max = (...values: bigint[]) => values.reduce((a, b) => (a > b ? a : b));
