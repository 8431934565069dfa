// Signals and queries that clients (CLI, scripts, the Slack app) share with the workflow.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AssetStatus, DecisionInput } from '../common/asset.ts';
import type { MintAnswer, MintRequest, MinterStatus } from './minter.ts';

export const approveSignal = defineSignal<[DecisionInput]>('approve');
/** `comment` is the feedback the next round is generated with. */
export const rejectSignal = defineSignal<[DecisionInput]>('reject');
export const statusQuery = defineQuery<AssetStatus>('status');

// The minter (workflows/minter.ts): asset workflows send it requests, it answers each with `mintResult`.
export const mintRequestSignal = defineSignal<[MintRequest]>('mintRequest');
export const mintResultSignal = defineSignal<[MintAnswer]>('mintResult');
export const minterStatusQuery = defineQuery<MinterStatus>('minterStatus');
