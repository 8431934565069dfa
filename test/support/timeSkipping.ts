// Virtual time: Temporal's time-skipping test server (the Java SDK's, prepared by
// scripts/lib/testServer.ts) and workers on it. Time stands still for no one: it runs at wall speed
// while a test drives the workflow, and jumps to the next timer while the test awaits a result
// (`handle.result()`) or `env.sleep(...)`. Activities here are plain functions standing in for the
// real ones; the real-stack tests cover those.
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundle } from '@temporalio/worker';
import { ensureTimeSkippingServer } from '../../scripts/lib/testServer.ts';
import { payloadConverterPath } from '../../workers/worker.ts';
import { workflowBundle } from './harness.ts';

/** A fresh time-skipping server (about half a second to start) and its clients. */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const launcher = await ensureTimeSkippingServer((line) => console.log(`[test-server] ${line}`));
  return TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: launcher } } });
}

const extraBundles = new Map<string, Promise<WorkflowBundle>>();

function quietLogger() {
  const noop = () => {};
  return { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => console.error(m), log: noop };
}

/**
 * A worker in this process on the environment's server, until `stop()`. It runs the project's
 * workflows (the shared bundle) unless `workflowsPath` names another workflow file (a test's own),
 * with the real worker's payload converter on both sides (activities and the workflow bundle).
 */
export async function startTimeSkippingWorker(
  env: TestWorkflowEnvironment,
  options: { activities?: Record<string, (...args: never[]) => Promise<unknown>>; workflowsPath?: string; taskQueue?: string } = {},
) {
  const taskQueue = options.taskQueue ?? `timeskip-${randomUUID().slice(0, 8)}`;
  let bundle: Promise<WorkflowBundle> = workflowBundle();
  if (options.workflowsPath) {
    const workflowsPath = options.workflowsPath;
    if (!extraBundles.has(workflowsPath)) extraBundles.set(workflowsPath, bundleWorkflowCode({ workflowsPath, payloadConverterPath, logger: quietLogger() }));
    bundle = extraBundles.get(workflowsPath)!;
  }
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await bundle,
    // As the real worker: undecodable payloads reach handlers as a marker (common/payloadConverter.js).
    dataConverter: { payloadConverterPath },
    activities: options.activities ?? {},
  });
  const running = worker.run();
  return {
    taskQueue,
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
