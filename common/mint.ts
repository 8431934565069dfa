// The minter's vocabulary, shared by the minter workflow, the asset workflow, the mint activities
// and clients: types only plus names, so workflow code can import it.
import type { MintReceipt } from './asset.ts';

/** Signal names of the minter conversation (the definitions are in workflows/messages.ts). */
export const mintRequestSignalName = 'mintRequest';
export const mintResultSignalName = 'mintResult';

/** What an asset workflow asks for. Ids are decimal strings: bigint does not cross payloads. */
export interface MintRequest {
  assetId: string;
  collectionId: string;
  assetKey: string;
  recipient: string;
  metadataCid: string;
  /** The workflow that gets the `mintResult` signal. */
  replyTo: string;
}

/** The minter's answer: the token, or why there is none (`type` as in ApplicationFailure). */
export type MintOutcome = { ok: true; mint: MintReceipt } | { ok: false; type: string; reason: string };
export type MintAnswer = MintOutcome & { assetId: string };

export interface MinterSettings {
  /** Most requests in one `mintBatch` (at most the contract's MAX_BATCH_SIZE). */
  batchSize: number;
  /** How long the oldest waiting request waits for the batch to fill. */
  batchWaitMs: number;
  /** A transaction not mined after this long is replaced with bumped fees (same nonce). */
  replaceAfterMs: number;
  /** Batches per run before continue-as-new (sooner when Temporal suggests it). */
  batchesPerRun: number;
}

export interface MinterInput {
  chainId: number;
  contract: string;
  signer: string;
  settings: MinterSettings;
  /** Requests carried over continue-as-new. */
  queued?: Queued[];
  /** Batches of earlier runs. */
  batchesBefore?: number;
}

export interface Queued {
  request: Omit<MintRequest, 'replyTo'>;
  replyTo: string[];
  /** Workflow time the request arrived (ms), or came back to the queue. */
  receivedAt: number;
  /** Checked with the asset's run (true), refused and dropped, or not checked yet (undefined). */
  verified?: boolean;
  /** Batches it was taken out of again (a revert that named it), and when it may go in the next. */
  attempts?: number;
  retryAt?: number;
}

export interface MinterStatus {
  queued: number;
  inFlight: { recipient: string; assetIds: string[]; txHashes: string[] } | null;
  batches: number;
  answered: number;
}

/** Whether a mint request comes from an approved asset run that is minting this very metadata. */
export type MintRequestVerdict = { ok: true } | { ok: false; reason: string };
