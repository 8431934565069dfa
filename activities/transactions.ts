// Sending a contract call from the worker's key, as every single-transaction activity does (mint,
// updateContent, reveal): one nonce at a time per signer in this process, and the transaction's hash
// recorded in heartbeat details before it is broadcast, so a crash after sending still finds it.
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { keccak256 } from 'ethers';
import type { ContractTransaction, JsonRpcProvider, Signer, TransactionReceipt } from 'ethers';
import { parseCreativeAssetError } from '../contracts/index.ts';

/** Heartbeat details of an activity that sends one transaction. */
export interface SentProgress {
  txHash: string;
}

/** The last send of each signer in this process: the next one waits for it (concurrent sends would pick the same nonce). */
const lanes = new WeakMap<Signer, Promise<unknown>>();

/**
 * Signs `call`, records its hash in `progress` and the heartbeat, then broadcasts it; returns the
 * hash. Sends of one signer go one at a time, whichever activity makes them.
 */
export async function sendRecorded(
  signer: Signer,
  provider: JsonRpcProvider,
  call: ContractTransaction,
  progress: { current?: SentProgress },
): Promise<string> {
  const send = async () => {
    const signed = await signer.signTransaction(await signer.populateTransaction(call));
    const hash = keccak256(signed);
    progress.current = { txHash: hash };
    heartbeat(progress.current);
    await provider.broadcastTransaction(signed);
    return hash;
  };
  const previous = lanes.get(signer) ?? Promise.resolve();
  const run = previous.then(send, send);
  lanes.set(
    signer,
    run.catch(() => undefined),
  );
  return run;
}

/**
 * A send the contract refused (its custom error, or a call that reverts in estimation) as a
 * non-retryable failure naming `what`; undefined for anything else (an outage: retried).
 */
export function revertFailure(error: unknown, what: string, type: string): ApplicationFailure | undefined {
  const reverted = parseCreativeAssetError(error);
  if (!reverted && (error as { code?: string }).code !== 'CALL_EXCEPTION') return undefined;
  return ApplicationFailure.nonRetryable(`${what} reverted: ${reverted ? `${reverted.name}(${reverted.args.join(', ')})` : (error as Error).message}`, type);
}

/**
 * The transaction's receipt once it is mined, or null once it is gone from the pool (never mined,
 * dropped): the caller may send again. Stops when the activity is cancelled.
 */
export async function awaitReceipt(provider: JsonRpcProvider, txHash: string): Promise<TransactionReceipt | null> {
  for (;;) {
    const receipt = await provider.waitForTransaction(txHash, 1, 5_000).catch((error: Error) => {
      if (/timeout/i.test(error.message)) return undefined;
      throw error;
    });
    if (receipt) return receipt;
    if (!(await provider.getTransaction(txHash))) return null;
    if (Context.current().cancellationSignal.aborted) throw new Error(`cancelled while waiting for transaction ${txHash}`);
  }
}
