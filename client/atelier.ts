// The typed client API for scripts, the CLI and the Slack app.
import { Client, Connection, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { AssetResult, AssetSpec, AssetStatus, Stage } from '../common/asset.ts';
import { finalStages, parseAssetRef, workflowIdOf } from '../common/asset.ts';
import type { Config } from '../common/config.ts';
import { temporalConnectOptions } from '../common/temporalConnection.ts';
import type { DecisionInput, DecisionKind, DecisionProof, DecisionRecord } from '../common/decision.ts';
import { signDecision } from '../common/decision.ts';
import { AtelierApprover, AtelierCollection, AtelierContentCid, AtelierStage, AtelierTokenId } from '../common/searchAttributes.ts';
import type { assetLifecycle } from '../workflows/assetLifecycle.ts';
import { startAssetRun } from '../activities/assetRuns.ts';
import type { StartedAsset } from '../activities/assetRuns.ts';

export type { StartedAsset } from '../activities/assetRuns.ts';
import { approveUpdate, assetChangeUpdate, cancelUpdate, dynamicStatusQuery, rejectUpdate, statusQuery } from '../workflows/messages.ts';
import type { ChangeRecord, DynamicStatus } from '../common/dynamic.ts';
import { dynamicWorkflowIdOf } from '../common/dynamic.ts';

/** A decision (or cancel) the run would not take: the person gets the run's reason. */
export class DecisionRefused extends Error {
  override name = 'DecisionRefused';
}
export class AssetNotFound extends Error {
  override name = 'AssetNotFound';
}
/** A change a dynamic asset would not take (unknown event, a value no option matches, not minted yet): the reason. */
export class ChangeRefused extends Error {
  override name = 'ChangeRefused';
}

/** What a person decides; the round and draft default to those the run shows now. */
export type DecisionRequest = Omit<DecisionInput, 'round' | 'draftCid' | 'proof'> & { round?: number; draftCid?: string };

export interface DecideOptions {
  /** Signs the decision: the approver's own secret key (hex), or the Slack app's. */
  sign?: { secretKey: string; signer: DecisionProof['signer'] };
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
    const connection = await Connection.connect(temporalConnectOptions(config));
    return new AtelierClient(new Client({ connection, namespace: config.ATELIER_TEMPORAL_NAMESPACE }), connection, config.ATELIER_TASK_QUEUE);
  }

  async close() {
    await this.connection.close();
  }

  /**
   * Starts the asset's run. A running or minted asset keeps its run (scripts can be re-run safely);
   * one that ended rejected, expired, cancelled or failed starts again, linked to its earlier runs.
   */
  async start(spec: AssetSpec): Promise<StartedAsset> {
    return startAssetRun(this.temporal, this.taskQueue, spec);
  }

  /** The asset's current status: live from a running workflow, or from its result once closed. */
  async status(ref: string): Promise<AssetStatus> {
    const workflowId = parseAssetRef(ref);
    const description = await this.describe(workflowId);
    const handle = this.temporal.workflow.getHandle(workflowId, description.runId);
    switch (description.status.name) {
      case 'RUNNING': {
        const status = await handle.query(statusQuery);
        const waitingFor = retryingActivity(description);
        return waitingFor ? { ...status, waitingFor } : status;
      }
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

  async approve(ref: string, decision: DecisionRequest, options: DecideOptions = {}): Promise<DecisionRecord> {
    return this.decide(ref, 'approve', decision, options);
  }

  /** `decision.comment` is the feedback the next round is generated with. */
  async reject(ref: string, decision: DecisionRequest, options: DecideOptions = {}): Promise<DecisionRecord> {
    return this.decide(ref, 'reject', decision, options);
  }

  /**
   * Sends the decision as an Update: the run's validator accepts it (the answer is the record) or
   * refuses it with the reason (a DecisionRefused), and a refusal leaves nothing in its history.
   * Without a round and draft, the ones the run shows now are used (and signed).
   */
  private async decide(ref: string, kind: DecisionKind, request: DecisionRequest, options: DecideOptions): Promise<DecisionRecord> {
    const workflowId = parseAssetRef(ref);
    let { round, draftCid } = request;
    if (round === undefined || draftCid === undefined) {
      const status = await this.status(workflowId);
      // A named round keeps its meaning: its draft is looked up, never the newer round's.
      if (round !== undefined && round !== status.round) draftCid ??= status.decisions.find((d) => d.round === round)?.draftCid ?? 'unknown';
      else if (status.stage !== 'awaiting_approval' || !status.draftCid) throw new DecisionRefused(notAwaiting(workflowId, status));
      round ??= status.round;
      draftCid ??= status.draftCid!;
    }
    const unsigned: DecisionInput = { ...request, round, draftCid };
    const input = options.sign ? { ...unsigned, proof: signDecision(options.sign.secretKey, options.sign.signer, workflowId, kind, unsigned) } : unsigned;
    const handle = this.temporal.workflow.getHandle<typeof assetLifecycle>(workflowId);
    const update = kind === 'approve' ? approveUpdate : rejectUpdate;
    try {
      // The handler only records the decision, so the Update completes in the workflow task that
      // accepts it: waiting for the result costs no more than waiting for acceptance.
      return await handle.executeUpdate(update, { args: [input] });
    } catch (error) {
      throw await this.refusalOf(workflowId, error);
    }
  }

  /**
   * Sends a change to a minted dynamic asset (`atelier event`): it is queued and applied in order,
   * and the answer is its record. The same `id` again is the same change (a resend changes nothing).
   */
  async sendEvent(ref: string, name: string, data: Record<string, unknown>, { by, id }: { by: string; id: string }): Promise<ChangeRecord> {
    const dynamicId = await this.dynamicWorkflowOf(ref);
    const change = { id, name, data, by };
    try {
      // The workflow takes a repeated id as the change it already has and answers with where it stands now.
      return await this.temporal.workflow.getHandle(dynamicId).executeUpdate(assetChangeUpdate, { args: [change] });
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) throw new ChangeRefused((error.cause as Error | undefined)?.message ?? error.message);
      throw error;
    }
  }

  /** Every version of a dynamic asset's token, its queued changes and the last ones taken. */
  async history(ref: string): Promise<DynamicStatus> {
    return this.temporal.workflow.getHandle(await this.dynamicWorkflowOf(ref)).query(dynamicStatusQuery);
  }

  /** The asset's dynamic workflow, or why there is none: no such asset, not dynamic, not minted yet. */
  private async dynamicWorkflowOf(ref: string): Promise<string> {
    const [, collectionId, assetKey] = parseAssetRef(ref).split(':');
    const workflowId = workflowIdOf(collectionId!, assetKey!);
    const dynamicId = dynamicWorkflowIdOf(collectionId!, assetKey!);
    const found = await this.temporal.workflow
      .getHandle(dynamicId)
      .describe()
      .catch((error: unknown) => {
        if (error instanceof WorkflowNotFoundError) return undefined;
        throw error;
      });
    if (found) return dynamicId;
    const status = await this.status(workflowId);
    if (status.stage !== 'minted') throw new ChangeRefused(`${workflowId} is ${status.stage.replace('_', ' ')}: changes apply once it is minted`);
    throw new ChangeRefused(`${workflowId} is not a dynamic asset (its spec declares no dynamic traits)`);
  }

  /** Ends a run that has not started minting as `cancelled`; the reason is kept in its history. */
  async cancel(ref: string, by: string, reason: string): Promise<AssetStatus> {
    const workflowId = parseAssetRef(ref);
    try {
      return await this.temporal.workflow.getHandle<typeof assetLifecycle>(workflowId).executeUpdate(cancelUpdate, { args: [{ by, reason }] });
    } catch (error) {
      throw await this.refusalOf(workflowId, error);
    }
  }

  /** The run's own reason for a refused Update, or what the run's state says when it has ended. */
  private async refusalOf(workflowId: string, error: unknown): Promise<Error> {
    if (error instanceof WorkflowUpdateFailedError) return new DecisionRefused((error.cause as Error | undefined)?.message ?? error.message);
    if (error instanceof WorkflowNotFoundError || /workflow execution already completed/i.test((error as Error)?.message ?? '')) {
      const status = await this.status(workflowId).catch((e: unknown) => e);
      if (status instanceof Error) return status;
      return new DecisionRefused(notAwaiting(workflowId, status as AssetStatus));
    }
    return error as Error;
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

/** An activity that has failed at least once and is being retried: what the run waits for. */
function retryingActivity(description: WorkflowExecutionDescription): string | undefined {
  const retrying = (description.raw.pendingActivities ?? []).find((a) => (a.attempt ?? 1) > 1 && a.lastFailure?.message);
  if (!retrying) return undefined;
  const messages: string[] = [];
  for (let failure = retrying.lastFailure; failure && messages.length < 4; failure = failure.cause) if (failure.message) messages.push(failure.message);
  const why = messages.join(': ');
  const service = /ECONNREFUSED|ECONNRESET|socket hang up|ETIMEDOUT|fetch failed/.test(why) ? ' (a service is down; retrying until it answers)' : '';
  return `${retrying.activityType?.name} attempt ${retrying.attempt}: ${why}${service}`;
}

/** The words for a run that takes no decision now, matching its state. */
function notAwaiting(workflowId: string, status: AssetStatus): string {
  const last = status.decisions.at(-1);
  switch (status.stage) {
    case 'expired':
      return `${workflowId} expired without a decision; start it again for a new draft`;
    case 'cancelled':
      return `${workflowId} was cancelled${status.cancelled ? ` by ${status.cancelled.by}: ${status.cancelled.reason}` : ''}`;
    case 'failed':
      return `${workflowId} failed${status.error ? ` (${status.error})` : ''}; it takes no decisions`;
    case 'generating':
      return `${workflowId} is generating the draft of round ${status.round}: decide once it is up (atelier status shows it)`;
    default:
      return `${workflowId} is not awaiting a decision (${status.stage.replace('_', ' ')}${last ? `; ${last.kind} by ${last.by} at ${last.at}` : ''})`;
  }
}

function closedWithoutResult(workflowId: string, description: WorkflowExecutionDescription): AssetStatus {
  const attributes = description.typedSearchAttributes;
  const stage = (attributes.get(AtelierStage) as Stage | undefined) ?? 'failed';
  return {
    workflowId,
    recipient: '',
    stage: finalStages.includes(stage) ? stage : 'failed',
    round: 0,
    draftCid: null,
    deadlines: null,
    metadataCid: null,
    imageCid: null,
    tokenId: attributes.get(AtelierTokenId)?.toString() ?? null,
    txHash: null,
    approver: attributes.get(AtelierApprover) ?? null,
    approvers: null,
    reminders: 0,
    decisions: [],
    feedback: [],
    noticeProblem: null,
    earlierRuns: [],
    cancelled: null,
    error: `run ${description.status.name.toLowerCase()}`,
  };
}
