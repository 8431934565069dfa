// Starting an asset's run, shared by the typed client (client/atelier.ts) and the repository sync's
// activity: one rule for what a start means when the asset already has a run.
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import type { AssetResult, AssetSpec, Stage } from '../common/asset.ts';
import { finalStages, restartableStages, workflowIdOf } from '../common/asset.ts';
import { AtelierCollection, AtelierStage } from '../common/searchAttributes.ts';

export interface StartedAsset {
  workflowId: string;
  runId: string;
  /**
   * `started`: a new run; `restarted`: a new run after one that ended without a token (`previous`);
   * `running`: the asset's run is still going; `minted`: it already has its token. Nothing starts twice.
   */
  outcome: 'started' | 'restarted' | 'running' | 'minted';
  previous?: { runId: string; stage: Stage };
}

/**
 * Starts the asset's run. A running or minted asset keeps its run (scripts can be re-run safely);
 * one that ended rejected, expired, cancelled or failed starts again, linked to its earlier runs.
 */
export async function startAssetRun(temporal: Client, taskQueue: string, spec: AssetSpec): Promise<StartedAsset> {
  const workflowId = workflowIdOf(spec.collectionId, spec.assetKey);
  const existing = await temporal.workflow
    .getHandle(workflowId)
    .describe()
    .catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    });
  let earlierRuns: string[] = [];
  let previous: StartedAsset['previous'];
  if (existing) {
    if (existing.status.name === 'RUNNING') return { workflowId, runId: existing.runId, outcome: 'running' };
    const ended = await endedRun(temporal, workflowId, existing);
    if (!restartableStages.includes(ended.stage)) return { workflowId, runId: existing.runId, outcome: 'minted' };
    previous = { runId: existing.runId, stage: ended.stage };
    earlierRuns = [...ended.earlierRuns, existing.runId];
  }
  const handle = await temporal.workflow.start('assetLifecycle', {
    args: [spec, { earlierRuns }],
    workflowId,
    taskQueue,
    // A concurrent start of the same asset joins the running one instead of starting a second.
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [
      { key: AtelierCollection, value: spec.collectionId },
      { key: AtelierStage, value: 'generating' },
    ],
    staticSummary: `${spec.name} · ${spec.collectionId}/${spec.assetKey}`,
    staticDetails:
      `Generator: ${spec.generator.kind}; approval: ${spec.approval.policy}; recipient: ${spec.recipient}` +
      (earlierRuns.length ? `; earlier runs: ${earlierRuns.join(', ')}` : ''),
  });
  const joined = previous && handle.firstExecutionRunId === previous.runId;
  return { workflowId, runId: handle.firstExecutionRunId, outcome: previous ? (joined ? 'running' : 'restarted') : 'started', previous };
}

/**
 * A closed run's final stage and earlier runs: from its result; a run without one (failed,
 * terminated) by its last stage, so a run terminated after its mint still counts as minted.
 */
async function endedRun(temporal: Client, workflowId: string, run: WorkflowExecutionDescription): Promise<{ stage: Stage; earlierRuns: string[] }> {
  if (run.status.name !== 'COMPLETED') {
    const stage = run.typedSearchAttributes.get(AtelierStage) as Stage | undefined;
    return { stage: stage && finalStages.includes(stage) ? stage : 'failed', earlierRuns: [] };
  }
  const result = (await temporal.workflow.getHandle(workflowId, run.runId).result()) as AssetResult;
  return { stage: result.stage, earlierRuns: result.earlierRuns ?? [] };
}
