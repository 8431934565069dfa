// The typed client API for scripts, the CLI and the Slack app.
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { AssetResult, AssetSpec, AssetStatus, DecisionInput, Stage } from '../common/asset.ts';
import { finalStages, parseAssetRef, workflowIdOf } from '../common/asset.ts';
import type { Config } from '../common/config.ts';
import { AtelierApprover, AtelierCollection, AtelierContentCid, AtelierStage, AtelierTokenId } from '../common/searchAttributes.ts';
import type { assetLifecycle } from '../workflows/assetLifecycle.ts';
import { approveSignal, rejectSignal, statusQuery } from '../workflows/messages.ts';

/** A decision the workflow would not take: the person gets this answer instead of a signal. */
export class DecisionRefused extends Error {
  override name = 'DecisionRefused';
}
export class AssetNotFound extends Error {
  override name = 'AssetNotFound';
}

export interface DecideOptions {
  /** A status the caller has just read for its own checks: used instead of reading it again. */
  status?: AssetStatus;
}

export interface StartedAsset {
  workflowId: string;
  runId: string;
  /** False when the asset already had a run: that run is returned, no second one starts. */
  started: boolean;
}

export interface AssetListing {
  workflowId: string;
  status: string;
  stage: Stage | null;
  collection: string | null;
  approver: string | null;
  tokenId: number | null;
  contentCid: string | null;
  startTime: Date;
}

export class AtelierClient {
  private constructor(
    readonly temporal: Client,
    private readonly connection: Connection,
    private readonly taskQueue: string,
  ) {}

  static async connect(config: Config): Promise<AtelierClient> {
    const connection = await Connection.connect({ address: config.ATELIER_TEMPORAL_ADDRESS });
    return new AtelierClient(new Client({ connection, namespace: config.ATELIER_TEMPORAL_NAMESPACE }), connection, config.ATELIER_TASK_QUEUE);
  }

  async close() {
    await this.connection.close();
  }

  /** Starts the asset's run, or returns the one it already has (scripts can be re-run safely). */
  async start(spec: AssetSpec): Promise<StartedAsset> {
    const workflowId = workflowIdOf(spec.collectionId, spec.assetKey);
    const existing = await this.describe(workflowId).catch((error) => {
      if (error instanceof AssetNotFound) return undefined;
      throw error;
    });
    if (existing && existing.status.name !== 'FAILED' && existing.status.name !== 'TERMINATED' && existing.status.name !== 'TIMED_OUT') {
      return { workflowId, runId: existing.runId, started: false };
    }
    const handle = await this.temporal.workflow.start<typeof assetLifecycle>('assetLifecycle', {
      args: [spec],
      workflowId,
      taskQueue: this.taskQueue,
      // A concurrent start of the same asset joins the running one instead of failing.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      typedSearchAttributes: [
        { key: AtelierCollection, value: spec.collectionId },
        { key: AtelierStage, value: 'generating' },
      ],
      staticSummary: `${spec.name} · ${spec.collectionId}/${spec.assetKey}`,
      staticDetails: `Generator: ${spec.generator.kind}; approval: ${spec.approval.policy}; recipient: ${spec.recipient}`,
    });
    return { workflowId, runId: handle.firstExecutionRunId, started: true };
  }

  /** The asset's current status: live from a running workflow, or from its result once closed. */
  async status(ref: string): Promise<AssetStatus> {
    const workflowId = parseAssetRef(ref);
    const description = await this.describe(workflowId);
    const handle = this.temporal.workflow.getHandle(workflowId);
    switch (description.status.name) {
      case 'RUNNING':
        return handle.query(statusQuery);
      case 'COMPLETED':
        return (await handle.result()) as AssetResult;
      default: {
        const failure = await handle.result().then(
          () => undefined,
          (error: Error) => rootCause(error),
        );
        return { ...closedWithoutResult(workflowId, description), error: failure ?? `run ${description.status.name.toLowerCase()}` };
      }
    }
  }

  async result(ref: string): Promise<AssetResult> {
    return this.temporal.workflow.getHandle(parseAssetRef(ref)).result() as Promise<AssetResult>;
  }

  async approve(ref: string, decision: DecisionInput, options: DecideOptions = {}): Promise<AssetStatus> {
    return this.decide(ref, 'approve', decision, options);
  }

  /** `decision.comment` is the feedback the next round is generated with. */
  async reject(ref: string, decision: DecisionInput, options: DecideOptions = {}): Promise<AssetStatus> {
    if (!decision.comment?.trim()) throw new DecisionRefused('a rejection needs a reason: it is the feedback for the next round');
    return this.decide(ref, 'reject', decision, options);
  }

  /** Checks the state first so a person gets an immediate, specific answer; only then signals. */
  private async decide(ref: string, kind: 'approve' | 'reject', decision: DecisionInput, options: DecideOptions): Promise<AssetStatus> {
    if (!decision.by?.trim()) throw new DecisionRefused('a decision needs the name of who decides');
    const workflowId = parseAssetRef(ref);
    const status = options.status ?? (await this.status(workflowId));
    const taken = status.decisions.find((d) => d.outcome === 'accepted' && d.round === status.round);
    if (status.stage !== 'awaiting_approval' && status.stage !== 'generating') {
      const last = [...status.decisions].reverse().find((d) => d.outcome === 'accepted');
      const who = last ? ` by ${last.by} at ${last.at}` : '';
      throw new DecisionRefused(
        status.stage === 'expired' ? `${workflowId} expired without a decision` : `${workflowId} is already decided (${status.stage}${who})`,
      );
    }
    if (status.approvers === null) throw new DecisionRefused(`${workflowId} runs under the auto approval policy`);
    if (taken) throw new DecisionRefused(`round ${status.round} of ${workflowId} is already decided: ${taken.kind} by ${taken.by} at ${taken.at}`);
    if (status.approvers.length > 0 && !status.approvers.includes(decision.by)) {
      throw new DecisionRefused(`${decision.by} may not decide on ${workflowId} (allowed: ${status.approvers.join(', ')})`);
    }
    await this.temporal.workflow.getHandle(workflowId).signal(kind === 'approve' ? approveSignal : rejectSignal, decision);
    return status;
  }

  /** Runs by collection and stage, from Temporal visibility (the same filters work in the Web UI). */
  async list(filter: { collection?: string; stage?: Stage } = {}): Promise<AssetListing[]> {
    const clauses = [`WorkflowType = 'assetLifecycle'`];
    if (filter.collection) clauses.push(`AtelierCollection = '${filter.collection.replace(/'/g, '')}'`);
    if (filter.stage) clauses.push(`AtelierStage = '${filter.stage}'`);
    const rows: AssetListing[] = [];
    for await (const run of this.temporal.workflow.list({ query: clauses.join(' AND ') })) {
      const attributes = run.typedSearchAttributes;
      rows.push({
        workflowId: run.workflowId,
        status: run.status.name,
        stage: (attributes.get(AtelierStage) as Stage | undefined) ?? null,
        collection: attributes.get(AtelierCollection) ?? null,
        approver: attributes.get(AtelierApprover) ?? null,
        tokenId: attributes.get(AtelierTokenId) ?? null,
        contentCid: attributes.get(AtelierContentCid) ?? null,
        startTime: run.startTime,
      });
    }
    return rows;
  }

  private async describe(workflowId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.temporal.workflow.getHandle(workflowId).describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new AssetNotFound(`no asset run ${workflowId}`);
      throw error;
    }
  }
}

/** The innermost message of a failure chain: the activity's own words. */
function rootCause(error: Error): string {
  let current: Error = error;
  while ((current as { cause?: unknown }).cause instanceof Error) current = (current as { cause: Error }).cause;
  return current.message;
}

function closedWithoutResult(workflowId: string, description: WorkflowExecutionDescription): AssetStatus {
  const attributes = description.typedSearchAttributes;
  const stage = (attributes.get(AtelierStage) as Stage | undefined) ?? 'failed';
  return {
    workflowId,
    stage: finalStages.includes(stage) ? stage : 'failed',
    round: 0,
    draftCid: null,
    metadataCid: null,
    imageCid: null,
    tokenId: attributes.get(AtelierTokenId)?.toString() ?? null,
    txHash: null,
    approver: attributes.get(AtelierApprover) ?? null,
    approvers: null,
    reminders: 0,
    decisions: [],
    feedback: [],
    error: `run ${description.status.name.toLowerCase()}`,
  };
}
