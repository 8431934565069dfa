// `npm run worker`: polls the Atelier task queue until SIGINT/SIGTERM.
import { Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../common/config.ts';
import { redactor } from '../common/redact.ts';
import { prebuiltBundle, prebuiltBundleFile } from './prebuiltBundle.ts';
import { createLogger, createTracing, runtimeOptions } from './telemetry.ts';
import { createAtelierWorker, redactProcessOutput } from './worker.ts';

try {
  const config = loadConfig();
  // No secret or URL credential in the worker's output: the SDK's log lines (an activity failure
  // carries its error) and anything else written to the console are redacted.
  const redact = redactor(config);
  redactProcessOutput(redact);
  // Text for a person, or JSON lines with workflowId, runId and activity (ATELIER_LOG_FORMAT), and
  // the SDK's and Atelier's metrics on ATELIER_METRICS_ADDRESS (workers/telemetry.ts).
  const { logger, announce } = createLogger(config, redact);
  Runtime.install(runtimeOptions(config, logger));
  // ATELIER_OTEL=console: spans of client calls, workflows and activities. The worker then bundles the
  // workflow code itself, with the tracing interceptor modules (a prebuilt bundle has none).
  const tracing = createTracing(config);
  const prebuilt = tracing ? { reason: 'tracing is on (ATELIER_OTEL): bundled with its workflow interceptors' } : prebuiltBundle();
  announce('bundle' in prebuilt ? `workflow code from ${prebuiltBundleFile}` : `bundling the workflow code: ${prebuilt.reason}`);
  const { worker, close } = await createAtelierWorker(config, {
    ...('bundle' in prebuilt ? { workflowBundle: prebuilt.bundle } : {}),
    ...(tracing ? { plugins: tracing.workerPlugins } : {}),
  });
  announce(`worker polling ${config.ATELIER_TASK_QUEUE} on ${config.ATELIER_TEMPORAL_ADDRESS}`, {
    taskQueue: config.ATELIER_TASK_QUEUE,
    ...(config.ATELIER_METRICS_ADDRESS ? { metrics: `http://${config.ATELIER_METRICS_ADDRESS}/metrics` } : {}),
  });
  await worker.run();
  await close();
  await tracing?.shutdown();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
