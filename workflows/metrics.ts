// Atelier's own metrics from workflow code, through the SDK's workflow metric meter (exported by the
// worker's runtime: ATELIER_METRICS_ADDRESS, workers/telemetry.ts). A metric is not a command: it
// changes nothing in history, and the SDK drops it while a run is replayed, so each stage change is
// counted once, by the worker that first ran it. The meter adds namespace, taskQueue and workflowType.
import { metricMeter } from '@temporalio/workflow';
import type { Stage } from '../common/asset.ts';

/** Names as the worker exports them (workers/telemetry.ts sets the histograms' buckets by these names). */
export const workflowMetricNames = {
  stageChanges: 'atelier_asset_stage_changes',
  approvalWait: 'atelier_approval_wait',
} as const;

/** One more asset entered `stage` (generating, awaiting_approval, ..., minted, failed). */
export function countStage(stage: Stage): void {
  metricMeter.createCounter(workflowMetricNames.stageChanges, 'assets', 'Asset runs that entered a stage, by stage').add(1, { stage });
}

/** How long a draft waited for a person's decision, from being put up to the decision (workflow time). */
export function recordApprovalWait(waitedMs: number, decision: 'approve' | 'reject'): void {
  metricMeter
    .createHistogram(workflowMetricNames.approvalWait, 'int', 'ms', 'Time from a draft put up for approval to its decision')
    .record(Math.max(0, Math.round(waitedMs)), { decision });
}
