// A collection run's vocabulary, shared by the collectionRun workflow, its activities and clients.
// Types and small pure helpers only, so workflow code can import it.
import type { Stage } from './asset.ts';
import type { CollectionSpec } from './collectionSpec.ts';
import type { TraitStructure } from './dna.ts';
import type { RevealState } from './reveal.ts';

export const collectionWorkflowIdOf = (collectionId: string) => `collection:${collectionId}`;

/**
 * Each asset's place in the run, one character per asset (a 10,000-asset run carries 10 KB across
 * continue-as-new): `.` not started, `h` held until the sample is approved, `g` generating to
 * pinning, `a` awaiting approval, `r` pinned and waiting for its mint turn, `m` given its turn, `q`
 * its request with the minter (both count as minting), then the
 * ends: `M` minted, `x` rejected, `e` expired, `c` cancelled, `f` failed.
 */
export const assetCodes = {
  waiting: '.',
  held: 'h',
  generating: 'g',
  awaiting_approval: 'a',
  ready: 'r',
  minting: 'm',
  minted: 'M',
  rejected: 'x',
  expired: 'e',
  cancelled: 'c',
  failed: 'f',
} as const;
export type AssetCode = (typeof assetCodes)[keyof typeof assetCodes];
export type ProgressStage = keyof typeof assetCodes;
export const endedCodes: readonly string[] = ['M', 'x', 'e', 'c', 'f'];
/** Started and not yet pinned: what the sliding window counts. */
export const preparingCodes: readonly string[] = ['g', 'a'];

/** The code an asset run's final stage gives. */
export function codeOfFinalStage(stage: Stage): AssetCode | undefined {
  return ({ minted: 'M', rejected: 'x', expired: 'e', cancelled: 'c', failed: 'f' } as Partial<Record<Stage, AssetCode>>)[stage];
}

/** What an asset run (started by the collection) tells its collection. */
export interface CollectionAssetEvent {
  index: number;
  event: 'awaiting_approval' | 'ready' | 'requested' | 'ended';
  /** With `ended`: the run's final stage. */
  stage?: Stage;
  /** With `ended` as failed: why. */
  error?: string;
}

/** `awaiting_reveal` and `revealing` only for a collection with a `reveal` section (docs/reveal.md). */
export type CollectionPhase = 'preparing' | 'publishing' | 'minting' | 'settled' | 'awaiting_reveal' | 'revealing' | 'cancelling' | 'completed' | 'cancelled';

export interface Published {
  provenanceHash: string;
  /** Assets the hash covers, in token order (their collection index order). */
  count: number;
  collectionMetadataCid: string;
  contactSheetCid: string | null;
  contractURI: string;
  at: string;
}

export interface CollectionReportRef {
  reportCid: string;
  reportCsvCid: string;
  /** A UnixFS directory: entry `<tokenId>` is that token's metadata. */
  metadataRootCid: string | null;
  minted: number;
  /** The hash recomputed from the minted tokens' images in token-id order equals the published one. */
  tokenOrderMatchesProvenance: boolean;
  /** Asset runs still going that the collection had counted as ended (a forged report): it goes on for them. */
  stillRunning: { index: number; stage: string | null }[];
}

export interface CollectionProgress {
  workflowId: string;
  id: string;
  name: string;
  size: number;
  phase: CollectionPhase;
  paused: boolean;
  counts: Record<ProgressStage, number>;
  /** Failed assets with the reason (the latest 100), and how many failed in all. */
  failures: { assetKey: string; reason: string }[];
  failed: number;
  /** Sample mode: the sampled asset keys, and the release of the rest once a person approved it. */
  sample: { assetKeys: string[]; released: { by: string; at: string; comment: string } | null } | null;
  /** Assets that reached their end (minted or not) per minute, since the run began. */
  ratePerMinute: number;
  /** Seconds until every asset has ended at that rate; null before one has. */
  etaSeconds: number | null;
  startedAt: string;
  elapsedSeconds: number;
  published: Published | null;
  report: CollectionReportRef | null;
  cancelled: { by: string; reason: string; at: string } | null;
  /** Runs of this workflow so far (continue-as-new keeps the history bounded). */
  runs: number;
  concurrency: number;
  /** A collection that reveals later: its placeholder and the reveal's progress (absent otherwise). */
  reveal?: RevealState | null;
}

/** What one run hands the next across continue-as-new. */
export interface CarriedCollectionState {
  structure: TraitStructure;
  settings: CollectionSettings;
  codes: string;
  failures: { index: number; reason: string }[];
  failed: number;
  published: Published | null;
  released: { by: string; at: string; comment: string } | null;
  cancelled: { by: string; reason: string; at: string } | null;
  paused: boolean;
  startedAt: number;
  runs: number;
  reveal?: RevealState;
}

export interface CollectionSettings {
  concurrency: number;
  /** Assets released to the minter at once: one batch. */
  mintChunk: number;
}

export interface CollectionInput {
  spec: CollectionSpec;
  state?: CarriedCollectionState;
  /** Continue-as-new once history passes this many events (tests force it low); default 10,000. */
  historyLimit?: number;
}

export interface CollectionResult {
  phase: 'completed' | 'cancelled';
  minted: number;
  size: number;
  published: Published | null;
  report: CollectionReportRef | null;
  reveal?: RevealState;
}

export interface CollectionDecisionInput {
  by: string;
  comment?: string;
}
export interface CollectionCancelInput {
  by: string;
  reason: string;
}
export type CollectionRevealInput = CollectionDecisionInput;

/** Counts per progress stage from the codes. */
export function countCodes(codes: ArrayLike<string>): Record<ProgressStage, number> {
  const byCode: Record<string, number> = {};
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i] === 'q' ? 'm' : codes[i]!;
    byCode[code] = (byCode[code] ?? 0) + 1;
  }
  const counts = {} as Record<ProgressStage, number>;
  for (const [stage, code] of Object.entries(assetCodes) as [ProgressStage, string][]) counts[stage] = byCode[code] ?? 0;
  return counts;
}
