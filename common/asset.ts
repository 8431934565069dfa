// The asset's vocabulary, shared by the workflow, activities and clients. Types only plus
// small pure helpers, so workflow code can import it.
import type { CheckOutcome, ChecksSpec } from './checks.ts';
import type { DecisionRecord } from './decision.ts';
import type { AssetChangeInput, AssetVersion, ChangeRecord, DynamicSpec } from './dynamic.ts';

export type { DecisionInput, DecisionRecord } from './decision.ts';

export const stages = [
  'generating',
  'awaiting_approval',
  'awaiting_revision',
  'formatting',
  'pinning',
  'awaiting_mint',
  'minting',
  'minted',
  // A dynamic asset's refresh (common/dynamic.ts): the token is pointed at the new version.
  'updating',
  'updated',
  'rejected',
  'expired',
  'cancelled',
  'failed',
] as const;
export type Stage = (typeof stages)[number];
export const finalStages: readonly Stage[] = ['minted', 'updated', 'rejected', 'expired', 'cancelled', 'failed'];
/** Ended without a token: such an asset may be started again as a new run. */
export const restartableStages: readonly Stage[] = ['rejected', 'expired', 'cancelled', 'failed'];

export const renditionNames = ['original', 'webp-1024', 'webp-512', 'thumb-256', 'avif-1024'] as const;
export type RenditionName = (typeof renditionNames)[number];

export interface Trait {
  trait_type: string;
  value: string | number;
}

export type GeneratorSpec =
  | {
      kind: 'layers';
      /** A folder under the layer sets directory holding collection.json and the layer files. */
      layerSet: string;
      /** Chosen option per layer; layers left out are drawn from the seed. */
      traits: Record<string, string>;
      seed: number;
    }
  | {
      kind: 'openai';
      prompt: string;
      seed: number;
    }
  | ArtworkSource;

/** A designer's own file in a git repository at one commit (docs/artwork.md). */
export interface ArtworkSource {
  kind: 'artwork';
  /** The repository as the worker reads it: an absolute path within ATELIER_REPOSITORIES. */
  repository: string;
  /** The full commit id the file is read at. */
  commit: string;
  /** The file's path in the repository (PNG, JPEG, WebP or SVG). */
  path: string;
  /** sha256 of the file's bytes: the artwork's identity (the same bytes never make a second round). */
  sha256: string;
  /** The size an SVG is rasterised at (its longer side, in pixels). */
  svgSize: number;
}

export type ApprovalPolicy =
  | {
      policy: 'manual';
      /** Who may decide (approver names, Slack user ids); empty: anyone whose decision checks out. */
      approvers: string[];
      /** Approver name -> ed25519 public key (hex), for decisions signed with `atelier approve --key`. */
      keys: Record<string, string>;
      /** Take unsigned decisions too (the quick start); the token's metadata then says so. */
      unsigned: boolean;
      /** Durations as Temporal reads them: '90s', '4h', '2d'. */
      remindAfter: string;
      expireAfter: string;
      maxRounds: number;
    }
  | { policy: 'auto' };

export interface AssetSpec {
  collectionId: string;
  assetKey: string;
  name: string;
  description: string;
  attributes: Trait[];
  generator: GeneratorSpec;
  renditions: RenditionName[];
  /** Checksummed address that receives the token. */
  recipient: string;
  approval: ApprovalPolicy;
  /** `direct`: one `mint` transaction of its own (the default). `batch`: through the minter workflow. */
  mint?: { mode: MintMode };
  /** Automated checks each draft passes before a person looks (common/checks.ts). */
  checks?: ChecksSpec;
  /** Traits that change after the mint (common/dynamic.ts): the token is refreshed on each change. */
  dynamic?: DynamicSpec;
}

export type MintMode = 'direct' | 'batch';

/** A blob in Kubo, referenced by CIDv1; the bytes never enter workflow history. */
export interface ContentRef {
  cid: string;
  sha256: string;
  bytes: number;
}

export interface Draft extends ContentRef {
  width: number;
  height: number;
  /** The traits or prompt that made it: provenance for the metadata. */
  inputs: Record<string, unknown>;
}

export interface Rendition extends ContentRef {
  name: RenditionName;
  mimeType: string;
  width: number;
  height: number;
}

export interface FormattedAsset {
  renditions: Rendition[];
  metadata: ContentRef;
  /** Permanent copies on Arweave (when the worker has ATELIER_ARWEAVE_URL): transaction ids and gateway URLs only. */
  arweave?: { metadata: ArweaveLocation; renditions: ArweaveLocation[] };
}

export interface ArweaveLocation {
  cid: string;
  sha256: string;
  txId: string;
  url: string;
}

export interface MintReceipt {
  tokenId: string;
  txHash: string;
  blockNumber: number;
  contract: string;
  chainId: number;
  /** True when the token already existed (a retry after a crash found it). */
  alreadyMinted: boolean;
}

export interface AssetStatus {
  workflowId: string;
  /** Who receives the token (from the spec). */
  recipient: string;
  stage: Stage;
  round: number;
  draftCid: string | null;
  /** Deadlines of the round awaiting a decision (ISO times), counted from when it was put up. */
  deadlines: { remindAt: string; expireAt: string } | null;
  metadataCid: string | null;
  imageCid: string | null;
  tokenId: string | null;
  txHash: string | null;
  approver: string | null;
  /** Who may decide (empty: anyone); null under the auto policy. */
  approvers: string[] | null;
  reminders: number;
  /** The decisions the run took, oldest first (refused ones are answered, not kept). */
  decisions: DecisionRecord[];
  feedback: string[];
  /** The last notice (Slack message, reminder) that could not be delivered, while it stays so. */
  noticeProblem: string | null;
  /** Earlier runs of this asset (ended rejected, expired, cancelled or failed), oldest first. */
  earlierRuns: string[];
  /** The metadata's permanent copy, when the worker writes to Arweave. */
  arweave?: { metadataTxId: string; metadataUrl: string };
  cancelled: { by: string; reason: string; at: string } | null;
  error: string | null;
  /** The automated checks of the latest checked round (when the spec has checks). */
  checks?: ({ round: number } & Omit<CheckOutcome, 'perceptualHash'>) | null;
  /** New artwork pushed while the run waited (artwork assets): each started a round. */
  revisions?: { round: number; commit: string; sha256: string; by: string; at: string }[];
  /**
   * What a running stage waits for (an activity retrying through an outage: its attempt and last
   * error); filled in by the client from the run's description, not kept by the workflow.
   */
  waitingFor?: string;
}

export interface AssetResult extends AssetStatus {
  renditions: Rendition[];
  mint: MintReceipt | null;
}

/** A collection id (a slug): lowercase letters, digits and dashes, at most 63. */
export const slugPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
/**
 * One canonical form per key: `7` and `0007` would name the same token on chain, so numbers have
 * no leading zeros (and at most 18 digits); other keys carry a letter, `_` or `-`.
 */
export const assetKeyPattern = /^(?:0|[1-9][0-9]{0,17}|(?=[0-9]*[A-Za-z_-])[A-Za-z0-9_-]{1,64})$/;
/** A token id as decimal text: above 0 and at most 78 digits (the uint256 bound is checked apart where it matters). */
export const tokenIdPattern = /^[1-9][0-9]{0,77}$/;
/** A CIDv1 in base32, as Kubo gives them here (metadata and placeholder CIDs a workflow passes on). */
export const cidV1Pattern = /^b[a-z2-7]{20,100}$/;

/** Durations in specs: a whole number and a unit, as Temporal reads them ('90s', '4h', '2d'). */
export const durationPattern = /^(\d+)(ms|s|m|h|d)$/;
const unitMs = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 } as const;

/** Milliseconds of a spec duration, or undefined when it is not one. */
export function durationMs(duration: string): number | undefined {
  const match = durationPattern.exec(duration);
  return match ? Number(match[1]) * unitMs[match[2] as keyof typeof unitMs] : undefined;
}

/** A new artwork for an asset run that waits for a decision or a revision (`atelier sync`). */
export interface ReviseInput {
  /** The asset's spec at the new commit: its artwork and descriptive fields replace the run's; approval stays. */
  spec: AssetSpec;
  by: string;
}
/** Asset-run message names that activities use without importing workflow code. */
export const assetMessageNames = { status: 'status', cancel: 'cancel', revise: 'revise' } as const;

export const workflowIdOf = (collectionId: string, assetKey: string) => `asset:${collectionId}:${assetKey}`;

/** `asset:<collection>:<key>` or `<collection>:<key>` -> the workflow id. */
export function parseAssetRef(ref: string): string {
  const parts = ref.split(':');
  if (parts.length === 3 && parts[0] === 'asset' && parts[1] && parts[2]) return ref;
  if (parts.length === 2 && parts[0] && parts[1]) return workflowIdOf(parts[0], parts[1]);
  // A dynamic asset's refresh run (its version), which may wait for a decision like any round.
  if (parts.length === 4 && parts[0] === 'refresh' && parts[1] && parts[2] && /^[1-9][0-9]{0,8}$/.test(parts[3]!)) return ref;
  throw new Error(`"${ref}" is not an asset reference: expected <collection>:<key>, asset:<collection>:<key> or refresh:<collection>:<key>:<version>`);
}

/** What the asset's run hands its dynamic workflow when it has minted (version 1). */
export interface DynamicAssetInput {
  /** The spec the run minted (its `dynamic` section says what changes). */
  spec: AssetSpec;
  tokenId: string;
  mintWorkflowId: string;
  metadataCid: string;
  imageCid: string | null;
  txHash: string;
  /** Every layer's option as version 1 drew it (layers generator), so a refresh changes only the dynamic ones. */
  drawn: Record<string, string>;
  /** Carried over continue-as-new. */
  state?: DynamicState;
}

/** The workflow's state that continue-as-new carries. */
export interface DynamicState {
  versions: AssetVersion[];
  counters: Record<string, number>;
  queue: { change: AssetChangeInput; record: ChangeRecord }[];
  recent: ChangeRecord[];
  /** Dynamic traits' current options. */
  current: Record<string, string>;
}
