// One named set of activity options per kind of stage, shared by the workflows.
import { inWorkflowContext, workflowInfo } from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';

/**
 * The task queue of CPU-bound image work, beside the workflow's own: `<task queue>-images`. Workers
 * (workers/worker.ts, ATELIER_WORKER_QUEUES) serve it apart from chain and IO work, so sharp never
 * takes the slots a mint or a pin is waiting for, and image workers can scale on their own.
 */
export const imagesTaskQueueOf = (taskQueue: string) => `${taskQueue}-images`;

/**
 * Options whose task queue is the images queue of the running workflow. A workflow cannot read the
 * environment, so the name comes from workflowInfo().taskQueue, read each time an activity is
 * scheduled (the getter runs when proxyActivities, executeWithOptions or a spread copies the options,
 * which is inside the workflow; proxies are made at module load, where there is no workflow yet).
 * Replay-safe: a command's task queue is not compared with the recorded event's, so histories whose
 * image activities ran on the main queue replay unchanged (test/replay.test.ts); those attempts, and
 * any that old code still schedules there, are served because every worker of the main queue
 * registers every activity.
 */
function onImagesQueue(options: ActivityOptions): ActivityOptions {
  return Object.defineProperty({ ...options }, 'taskQueue', {
    enumerable: true,
    get: () => (inWorkflowContext() ? imagesTaskQueueOf(workflowInfo().taskQueue) : undefined),
  });
}

/** Bad input fails at once (non-retryable); anything else is an outage that only delays the run. */
export const untilBack = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' } as const;

/**
 * CPU-bound image work (generate, format, checks), on the images task queue: Kubo or the generator being down only delays it. The
 * activities heartbeat every second, so an attempt the worker never got (or a dead worker's) is
 * retried after 30 s, not after the whole start-to-close timeout.
 */
export const imageWork: ActivityOptions = onImagesQueue({ startToCloseTimeout: '3 minutes', heartbeatTimeout: '30s', retry: untilBack });

/** Pinning: retried until Kubo answers again; heartbeats like image work. */
export const pinning: ActivityOptions = { startToCloseTimeout: '2 minutes', heartbeatTimeout: '30s', retry: untilBack };

/** A collection's publication (the contact sheet, then pins), once per collection: on the images queue. */
export const collectionPublishing: ActivityOptions = onImagesQueue({ ...pinning, startToCloseTimeout: '30 minutes' });

/** The chain: a short heartbeat, so that after a worker crash the next attempt starts soon. */
export const chainWork: ActivityOptions = { startToCloseTimeout: '10 minutes', heartbeatTimeout: '10s', retry: untilBack };

/**
 * Notices to people (Slack): bounded, because they never hold the run; one that keeps failing is
 * shown in `status` and the Web UI instead (five tries).
 */
export const notices: ActivityOptions = {
  // A request's post, upload and image update take seconds, more on a loaded machine: an attempt
  // cut short would post or upload again in its retry.
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
};

/** Reading the worker's configuration: quick, retried until a worker answers. */
export const configLookup: ActivityOptions = { startToCloseTimeout: '10s', retry: untilBack };

/**
 * A batch's chain steps (prepare, send): heartbeating every second, so a killed worker's attempt is
 * taken over after 10 s (it holds every later batch); retried until the node and Kubo answer.
 */
export const batchChainWork: ActivityOptions = { startToCloseTimeout: '2 minutes', heartbeatTimeout: '10s', retry: untilBack };

/** Waiting for a transaction: long, heartbeating every second, so a dead worker's wait moves on within 10 s. */
export const chainWait: ActivityOptions = { startToCloseTimeout: '1 hour', heartbeatTimeout: '10s', retry: untilBack };

/** Quick, idempotent calls (a request to the minter, reads of asset runs): a slow attempt is retried. */
export const quickCalls: ActivityOptions = { startToCloseTimeout: '30s', retry: untilBack };

/** Reading a repository and bringing its asset runs in line: git and Temporal calls, heartbeating. */
export const repositoryWork: ActivityOptions = { startToCloseTimeout: '10 minutes', heartbeatTimeout: '30s', retry: untilBack };

/**
 * Outgoing webhooks: retried with backoff for about an hour, every attempt with the same event id
 * (receivers keep the first); one that never lands shows in `status` and stops no run.
 */
export const webhookDelivery: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 16 },
};
