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
