// Virtual time: Temporal's time-skipping test server (the Java SDK's, prepared by
// scripts/lib/testServer.ts) and workers on it. Time stands still for no one: it runs at wall speed
// while a test drives the workflow, and jumps to the next timer while the test awaits a result
// (`handle.result()`) or `env.sleep(...)`. Activities here are plain functions standing in for the
// real ones; the real-stack tests cover those.
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import proto from '@temporalio/proto';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundle } from '@temporalio/worker';
import { atelierSearchAttributes } from '../../common/searchAttributes.ts';
import { ensureTimeSkippingServer } from '../../scripts/lib/testServer.ts';
import { payloadConverterPath } from '../../workers/worker.ts';
import { workflowBundle } from './harness.ts';
import { imagesTaskQueueOf } from '../../workflows/activityOptions.ts';

/**
 * A fresh time-skipping server (about half a second to start) and its clients, with Atelier's
 * search attributes registered as the stack does: the asset workflow upserts them, and the test
 * server refuses a workflow task that sets an unknown one.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const launcher = await ensureTimeSkippingServer((line) => console.log(`[test-server] ${line}`));
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: launcher } } });
  const { IndexedValueType } = proto.temporal.api.enums.v1;
  const types: Record<string, proto.temporal.api.enums.v1.IndexedValueType> = {
    KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  };
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      atelierSearchAttributes.map((key) => {
        const type = types[key.type];
        if (type === undefined) throw new Error(`search attribute ${key.name}: no indexed value type for ${key.type} here`);
        return [key.name, type];
      }),
    ),
  });
  return env;
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
  // Nobody subscribes to webhooks here: the asset runs ask once at start (workflows/assetLifecycle.ts).
  const activities = { subscribedEvents: async () => [], ...options.activities };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await bundle,
    // As the real worker: undecodable payloads reach handlers as a marker (common/payloadConverter.js).
    dataConverter: { payloadConverterPath },
    activities,
  });
  // Image work runs on its own queue beside the workflow's (workflows/activityOptions.ts).
  const imageWorker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue: imagesTaskQueueOf(taskQueue),
    dataConverter: { payloadConverterPath },
    activities,
  });
  const running = Promise.all([worker.run(), imageWorker.run()]);
  return {
    taskQueue,
    worker,
    async stop() {
      for (const w of [worker, imageWorker]) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
    },
  };
}
