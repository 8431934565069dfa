// Every workflow the worker serves.
export { assetLifecycle } from './assetLifecycle.ts';
export { minter } from './minter.ts';
export { collectionRun } from './collectionRun.ts';
export { repositorySync } from './repositorySync.ts';
export { chainWatcher, scheduledChange } from './changeSources.ts';
export { dynamicAsset } from './dynamicAsset.ts';
