// One named set of activity options per kind of stage, shared by the workflows.
import type { ActivityOptions } from '@temporalio/workflow';

/** Bad input fails at once (non-retryable); anything else is an outage that only delays the run. */
const untilBack = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' } as const;

/**
 * CPU-bound image work (generate, format): Kubo or the generator being down only delays it. The
 * activities heartbeat every second, so an attempt the worker never got (or a dead worker's) is
 * retried after 30 s, not after the whole start-to-close timeout.
 */
export const imageWork: ActivityOptions = { startToCloseTimeout: '3 minutes', heartbeatTimeout: '30s', retry: untilBack };

/** Pinning: retried until Kubo answers again; heartbeats like image work. */
export const pinning: ActivityOptions = { startToCloseTimeout: '2 minutes', heartbeatTimeout: '30s', retry: untilBack };

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
