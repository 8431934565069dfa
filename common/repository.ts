// Artwork repositories (docs/artwork.md): the layout Atelier reads, the sync workflow's vocabulary
// and the checks of what arrives (a push, a webhook, a ref). Pure code, so workflow code can import it.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/** `assets/<collection>/<assetKey>/asset.json` beside `artwork.<ext>`; `assets/<collection>/checks.json`. */
export const ASSETS_DIR = 'assets';
export const artworkExtensions = ['png', 'jpg', 'jpeg', 'webp', 'svg'] as const;
export const commitPattern = /^[0-9a-f]{40}$/;
export const artworkPathPattern = /^(?!.*(?:^|\/)\.\.?(?:\/|$))[\w.@+-]+(?:\/[\w.@+-]+){0,15}\.(?:png|jpe?g|webp|svg)$/;
/** A branch, tag or commit as git names it, without the forms that make git read options or reflogs. */
export const refPattern = /^(?!-)(?!.*\.\.)(?!.*@\{)[\w./-]{1,200}$/;
export const MAX_ASSETS_PER_SYNC = 1000;

/** Why a repository location cannot be one (an absolute local path), or undefined. */
export function repositoryLocationProblem(location: string): string | undefined {
  if (typeof location !== 'string' || location.length === 0 || location.length > 1024)
    return 'expected the absolute path of a git repository (at most 1024 characters)';
  if (!location.startsWith('/')) return `expected an absolute path, got "${location.slice(0, 80)}"`;
  if (/[\0\n\r]/.test(location) || /(^|\/)\.\.(\/|$)/.test(location)) return 'expected a plain absolute path (no "..", no control characters)';
  return undefined;
}

/** One sync workflow per repository: `repository:<name>-<8 hex of the location's sha256>`. */
export function repositorySyncWorkflowId(location: string): string {
  const normalised = location.replace(/\/+$/, '');
  const name = (normalised.split('/').pop() ?? 'repo')
    .replace(/\.git$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 40);
  return `repository:${name || 'repo'}-${bytesToHex(sha256(utf8ToBytes(normalised))).slice(0, 8)}`;
}

/** A request to bring the repository's runs in line with a revision (a push, a webhook, `atelier sync`). */
export interface SyncRequest {
  /** Chosen by the requester; answers are found by it. */
  requestId: string;
  /** What to sync: a branch, tag or commit id. */
  ref: string;
  /** The commit the push names, when the sender knows it (webhooks): synced instead of resolving `ref`. */
  commit?: string;
  /** A webhook's delivery id: a delivery seen before starts nothing. */
  deliveryId?: string;
  /** Who asked: `cli:<user>`, `hook`, `webhook:<sender>`. */
  requestedBy: string;
}

export type SyncAction = 'started' | 'restarted' | 'revised' | 'withdrawn' | 'unchanged' | 'kept' | 'invalid';

/** One asset's line in a sync's answer. */
export interface SyncLine {
  collectionId: string;
  assetKey: string;
  workflowId: string;
  action: SyncAction;
  /** The round the new artwork is in (started: 1, revised: the new round). */
  round?: number;
  detail: string;
}

export interface SyncRecord {
  /** The requests this sync answered (pushes that arrived together are synced once, to the latest). */
  requestIds: string[];
  commit: string | null;
  previousCommit: string | null;
  lines: SyncLine[];
  /** Why the revision could not be read (an unknown ref, a repository the worker may not read). */
  error: string | null;
  at: string;
}

export interface RepositorySyncState {
  repository: string;
  lastCommit: string | null;
  /** Requests waiting for the next sync. */
  pending: number;
  /** A sync is under way (its requests are no longer pending, its record not yet kept). */
  syncing: boolean;
  /** The latest syncs, newest last. */
  syncs: SyncRecord[];
}

/** What the sync workflow carries across continue-as-new. */
export interface RepositorySyncInput {
  repository: string;
  lastCommit?: string | null;
  syncs?: SyncRecord[];
  deliveries?: string[];
  /** Requests that arrived and were not synced yet: the latest one's revision, and all their ids. */
  pending?: { target: SyncRequest; requestIds: string[] };
}

/** One asset that differs between two revisions, as read from the repository. */
export interface RepositoryChange {
  collectionId: string;
  assetKey: string;
  kind: 'added' | 'changed' | 'removed';
  /** The asset's spec at the new revision (added, changed), with its artwork as the generator. */
  spec?: unknown;
  /** Why the asset's files cannot make a spec (bad JSON, a field out of range, no artwork). */
  problems?: string[];
}

export interface RepositoryRead {
  commit: string;
  changes: RepositoryChange[];
}

/** The request's fields checked one by one (it arrives from a signal anyone may send); undefined if unusable. */
export function checkSyncRequest(raw: unknown): SyncRequest | undefined {
  const r = raw as Partial<SyncRequest> | null;
  if (typeof r !== 'object' || r === null) return undefined;
  if (typeof r.requestId !== 'string' || !/^[\w.:-]{1,100}$/.test(r.requestId)) return undefined;
  if (typeof r.ref !== 'string' || !refPattern.test(r.ref)) return undefined;
  if (r.commit !== undefined && (typeof r.commit !== 'string' || !commitPattern.test(r.commit))) return undefined;
  if (r.deliveryId !== undefined && (typeof r.deliveryId !== 'string' || !/^[\w.:-]{1,100}$/.test(r.deliveryId))) return undefined;
  const requestedBy = typeof r.requestedBy === 'string' ? r.requestedBy.slice(0, 200) : 'unknown';
  return { requestId: r.requestId, ref: r.ref, commit: r.commit, deliveryId: r.deliveryId, requestedBy };
}
