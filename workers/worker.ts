// Builds the Atelier worker: workflows from workflows/, activities wired from config.
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundle } from '@temporalio/worker';
import type { Config } from '../common/config.ts';
import { createWorkerActivities } from './dependencies.ts';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Loaded by the worker and bundled with the workflows: undecodable payloads reach handlers as a marker. */
export const payloadConverterPath = fileURLToPath(new URL('../common/payloadConverter.js', import.meta.url));

/** The workflow code as one bundle, built once and shared by the workers of a process. */
export function bundleAtelierWorkflows(logger?: Parameters<typeof bundleWorkflowCode>[0]['logger']): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath, payloadConverterPath, logger });
}

export async function createAtelierWorker(config: Config, options: { workflowBundle?: WorkflowBundle } = {}) {
  const connection = await NativeConnection.connect({ address: config.ATELIER_TEMPORAL_ADDRESS });
  const { activities, close } = createWorkerActivities(config);
  const worker = await Worker.create({
    connection,
    namespace: config.ATELIER_TEMPORAL_NAMESPACE,
    taskQueue: config.ATELIER_TASK_QUEUE,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    dataConverter: { payloadConverterPath },
    activities,
    // Not the SDK's 100. Temporal records an activity's start before handing it to a waiting poller
    // and gives that write 1 s (matching's sync-match deadline); a write that lands later has marked
    // the attempt started, yet the task is dropped and no worker runs it until its start-to-close or
    // heartbeat timeout. Bursts of dozens of completions and starts queue the server's writes (the
    // dev server has one history shard and one SQLite connection) past that second; a few slots keep
    // the queue short and let tasks wait in the task queue instead, dispatched with a 10 s deadline.
    maxConcurrentActivityTaskExecutions: config.ATELIER_WORKER_MAX_ACTIVITIES,
  });
  return {
    worker,
    /** Releases the connection and clients once the worker has stopped. */
    async close() {
      close();
      await connection.close();
    },
  };
}
