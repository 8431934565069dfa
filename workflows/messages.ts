// Signals and queries that clients (CLI, scripts, the Slack app) share with the workflow.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AssetStatus, DecisionInput } from '../common/asset.ts';
import type { MintAnswer, MintRequest, MinterStatus } from '../common/mint.ts';
import { mintRequestSignalName, mintResultSignalName } from '../common/mint.ts';

export const approveSignal = defineSignal<[DecisionInput]>('approve');
/** `comment` is the feedback the next round is generated with. */
export const rejectSignal = defineSignal<[DecisionInput]>('reject');
export const statusQuery = defineQuery<AssetStatus>('status');

// The minter (workflows/minter.ts): asset workflows send it requests, it answers each with `mintResult`.
export const mintRequestSignal = defineSignal<[MintRequest]>(mintRequestSignalName);
export const mintResultSignal = defineSignal<[MintAnswer]>(mintResultSignalName);
export const minterStatusQuery = defineQuery<MinterStatus>('minterStatus');
