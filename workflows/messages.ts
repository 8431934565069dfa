// Signals, queries and Updates that clients (CLI, scripts, the Slack app) share with the workflows.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AssetStatus, ReviseInput } from '../common/asset.ts';
import type { CollectionAssetEvent, CollectionCancelInput, CollectionDecisionInput, CollectionProgress } from '../common/collection.ts';
import type { DecisionInput, DecisionRecord } from '../common/decision.ts';
import type { AssetChangeInput, ChangeRecord, DynamicStatus } from '../common/dynamic.ts';
import { dynamicMessageNames } from '../common/dynamic.ts';
import type { MintAnswer, MintRequest, MinterStatus } from '../common/mint.ts';
import { mintRequestSignalName, mintResultSignalName } from '../common/mint.ts';
import type { RepositorySyncState, SyncRequest } from '../common/repository.ts';
import type { ChainWatcherStatus, WatchTokenInput } from '../common/changeSources.ts';
import { changeSourceMessageNames } from '../common/changeSources.ts';
import { assetMessageNames } from '../common/asset.ts';

/**
 * Decisions as Updates: the validator holds the rule (common/decision.ts), so a refused decision
 * fails with the reason and leaves nothing in history; an accepted one answers with its record.
 */
export const approveUpdate = defineUpdate<DecisionRecord, [DecisionInput]>('approve');
/** `comment` (required) is the feedback the next round is generated with. */
export const rejectUpdate = defineUpdate<DecisionRecord, [DecisionInput]>('reject');
/** The same decisions as signals, for scripts: the same rule; a refusal is logged, not stored. */
export const approveSignal = defineSignal<[DecisionInput]>('approve');
export const rejectSignal = defineSignal<[DecisionInput]>('reject');

export interface CancelInput {
  by: string;
  reason: string;
}
/** Ends the run as `cancelled` (refused once its mint is under way); answers with the status. */
export const cancelUpdate = defineUpdate<AssetStatus, [CancelInput]>(assetMessageNames.cancel);
export const statusQuery = defineQuery<AssetStatus>(assetMessageNames.status);
/** Artwork assets: a new artwork from the repository starts the next round (refused once approved). */
export const reviseUpdate = defineUpdate<{ round: number; changed: boolean }, [ReviseInput]>(assetMessageNames.revise);

// Repository syncs (workflows/repositorySync.ts): pushes in (signal-with-start), state out.
export const pushSignal = defineSignal<[SyncRequest]>('push');
export const repositorySyncQuery = defineQuery<RepositorySyncState>('syncState');
export const knowsDeliveryQuery = defineQuery<boolean, [string]>('knowsDelivery');

// The minter (workflows/minter.ts): asset workflows send it requests, it answers each with `mintResult`.
export const mintRequestSignal = defineSignal<[MintRequest]>(mintRequestSignalName);
export const mintResultSignal = defineSignal<[MintAnswer]>(mintResultSignalName);
export const minterStatusQuery = defineQuery<MinterStatus>('minterStatus');

// Collections (workflows/collectionRun.ts): progress, steering, and the asset runs' reports to it.
export const collectionProgressQuery = defineQuery<CollectionProgress>('progress');
export const pauseCollectionUpdate = defineUpdate<CollectionProgress, [CollectionDecisionInput]>('pause');
export const resumeCollectionUpdate = defineUpdate<CollectionProgress, [CollectionDecisionInput]>('resume');
/** Nothing is left half-minted: assets not yet minting end cancelled, those minting finish. */
export const cancelCollectionUpdate = defineUpdate<CollectionProgress, [CollectionCancelInput]>('cancel');
/** Starts the failed assets again; answers with how many. */
export const retryFailedUpdate = defineUpdate<number, [CollectionDecisionInput]>('retryFailed');
/** Sample mode: a person, having approved the sampled assets, releases the rest. */
export const approveRestUpdate = defineUpdate<CollectionProgress, [CollectionDecisionInput]>('approveRest');
export const collectionAssetSignal = defineSignal<[CollectionAssetEvent]>('collectionAsset');
/** The collection tells an asset run it may mint now (token order follows the collection's order). */
export const mintTurnSignal = defineSignal<[{ index: number }]>('mintTurn');

// Change sources of dynamic assets (workflows/changeSources.ts): assets ask the chain watcher to follow their token.
/** Untrusted: the watcher checks the payload's shape, then the chain (the token must be the asset's). */
export const watchTokenSignal = defineSignal<[WatchTokenInput], typeof changeSourceMessageNames.watchToken>(changeSourceMessageNames.watchToken);
export const chainWatcherStatusQuery = defineQuery<ChainWatcherStatus>(changeSourceMessageNames.chainWatcherStatus);

// Dynamic assets (workflows/dynamicAsset.ts): changes in (events, Schedule ticks, chain Transfers), versions out.
/** A change to a minted dynamic asset: queued and applied in order; the same id twice is one change. */
export const assetChangeUpdate = defineUpdate<ChangeRecord, [AssetChangeInput], typeof dynamicMessageNames.change>(dynamicMessageNames.change);
export const dynamicStatusQuery = defineQuery<DynamicStatus, [], typeof dynamicMessageNames.status>(dynamicMessageNames.status);
