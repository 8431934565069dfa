// Signals and queries that clients (CLI, scripts, the Slack app) share with the workflow.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AssetStatus, DecisionInput } from '../common/asset.ts';

export const approveSignal = defineSignal<[DecisionInput]>('approve');
/** `comment` is the feedback the next round is generated with. */
export const rejectSignal = defineSignal<[DecisionInput]>('reject');
export const statusQuery = defineQuery<AssetStatus>('status');
