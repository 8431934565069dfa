// The two change sources that are not a person: Temporal Schedules (a trait that ticks) and the chain
// watcher (a token's ERC-721 Transfers). Shared by workflows/changeSources.ts, its activities and the
// tests: ids, message names, the watcher's state, and the change each source delivers. Pure code, safe
// in the workflow sandbox.
import { assetKeyPattern, slugPattern, tokenIdPattern } from './asset.ts';
import type { AssetChangeInput } from './dynamic.ts';

/** One chain watcher per (chain, contract): it reads the Transfers of every dynamic token of that contract. */
export const chainWatcherIdOf = (chainId: number, contract: string) => `chain-watcher:${chainId}:${contract.toLowerCase()}`;

export const changeSourceMessageNames = { watchToken: 'watchToken', chainWatcherStatus: 'chainWatcherStatus' } as const;

/** An asset asks the watcher to follow its token (signal-with-start from registerChangeSources). */
export interface WatchTokenInput {
  /** Decimal token id. */
  tokenId: string;
  collectionId: string;
  assetKey: string;
}

/** A block the watcher has read, to notice when the chain replaced it. */
export interface BlockRef {
  number: number;
  hash: string;
}

/** Where the watcher reads next, and the hashes of the last blocks it read (ascending; the last one is `next - 1`). */
export interface ChainCursor {
  next: number;
  seen: BlockRef[];
}

/** One ERC-721 Transfer of a watched token (mints from the zero address are not reported). */
export interface ChainTransfer {
  tokenId: string;
  from: string;
  to: string;
  txHash: string;
  blockNumber: number;
  logIndex: number;
}

/** A change waiting to be delivered to an asset's dynamic workflow. */
export interface PendingChange {
  collectionId: string;
  assetKey: string;
  change: AssetChangeInput;
}

/** The watcher's whole state: its input, carried over continue-as-new. */
export interface ChainWatcherInput {
  chainId: number;
  contract: string;
  /** Admitted tokens (checked on chain: the token is the asset's). */
  tokens?: WatchTokenInput[];
  /** Tokens asked for and not yet checked. */
  joining?: WatchTokenInput[];
  /** null until the first token is admitted. */
  cursor?: ChainCursor | null;
  pending?: PendingChange[];
  /** Ids of the changes delivered lately, newest last: a Transfer read twice (a reorg, a retried read) is delivered once. */
  recent?: string[];
  /** Totals over all runs. */
  totals?: { reads: number; delivered: number; skipped: number; reorgs: number };
  run?: number;
  /** Tuning, mostly for tests: how long a read waits for a Transfer (1 s - 3 min), reads per run before continue-as-new (1-1000). */
  settings?: { readWaitMs?: number; readsPerRun?: number };
}

export interface ChainWatcherStatus {
  chainId: number;
  contract: string;
  tokens: WatchTokenInput[];
  joining: number;
  cursor: ChainCursor | null;
  pending: PendingChange[];
  recent: string[];
  totals: { reads: number; delivered: number; skipped: number; reorgs: number };
  /** The last reorganisation noticed in this run: blocks from `from` on were read again. */
  lastReorg: { from: number; depth: number } | null;
  /** Runs so far (continue-as-new), the first one being 1. */
  run: number;
}

/** Blocks whose hashes the watcher keeps: a reorganisation deeper than this is read again from further back. */
export const SEEN_BLOCKS = 64;
/** Tokens one watcher follows (its state is carried over continue-as-new). */
export const MAX_WATCHED_TOKENS = 5_000;
const MAX_TOKEN_ID = (1n << 256n) - 1n;

/** Why a watchToken payload is refused, or undefined (untrusted input: anyone can signal the watcher). */
export function watchTokenRefusal(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'expected { tokenId, collectionId, assetKey }';
  const input = raw as Record<string, unknown>;
  const extra = Object.keys(input).filter((k) => !['tokenId', 'collectionId', 'assetKey'].includes(k));
  if (extra.length) return `unexpected fields ${extra.slice(0, 3).join(', ')}`;
  if (typeof input.tokenId !== 'string' || !tokenIdPattern.test(input.tokenId) || BigInt(input.tokenId) > MAX_TOKEN_ID)
    return 'tokenId must be a decimal uint256 above 0';
  if (typeof input.collectionId !== 'string' || !slugPattern.test(input.collectionId)) return 'collectionId must be a slug';
  if (typeof input.assetKey !== 'string' || !assetKeyPattern.test(input.assetKey)) return 'assetKey is not an asset key';
  return undefined;
}

/** The change a Transfer makes: its id names the transaction and token, not the block, so a replayed block is one change. */
export function transferChangeOf(transfer: ChainTransfer): AssetChangeInput {
  const { tokenId, from, to, txHash, blockNumber } = transfer;
  return { id: `chain:Transfer:${txHash}:${tokenId}`, name: 'chain:Transfer', data: { from, to, tokenId, txHash, blockNumber }, by: 'chain' };
}

/**
 * The change a Schedule's tick makes: one id per (trait, scheduled time), so a retried delivery or a
 * re-run of the tick is one change. Characters a change id does not allow are replaced, with a short
 * digest of the trait's name when that happened (two traits cannot share an id).
 */
export function scheduleChangeOf(trait: string, scheduledAt: Date): AssetChangeInput {
  const safe = trait.replace(/[^\w.@/-]/g, '_').slice(0, 100);
  const name = safe === trait ? safe : `${safe}~${fnv1a(trait)}`;
  return {
    id: `schedule:${name}:${scheduledAt.toISOString()}`,
    name: `schedule:${trait}`,
    data: { trait, scheduledAt: scheduledAt.toISOString() },
    by: 'schedule',
  };
}

/** The tick's scheduled time from a Schedule-started workflow's id (`<action workflow id>-<RFC 3339 time>`), or undefined. */
export function scheduledTimeFromWorkflowId(workflowId: string): Date | undefined {
  const match = /-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$/.exec(workflowId);
  const at = match ? new Date(match[1]!) : undefined;
  return at && !Number.isNaN(at.getTime()) ? at : undefined;
}

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
