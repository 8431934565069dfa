// `npm run worker`: polls the Atelier task queue until SIGINT/SIGTERM.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../common/config.ts';
import { redactor } from '../common/redact.ts';
import { prebuiltBundle, prebuiltBundleFile } from './prebuiltBundle.ts';
import { createAtelierWorker, redactProcessOutput, redactingLogger } from './worker.ts';

try {
  const config = loadConfig();
  // No secret or URL credential in the worker's output: the SDK's log lines (an activity failure
  // carries its error) and anything else written to the console are redacted.
  const redact = redactor(config);
  redactProcessOutput(redact);
  Runtime.install({ logger: redactingLogger(new DefaultLogger('INFO'), redact) });
  const prebuilt = prebuiltBundle();
  console.log('bundle' in prebuilt ? `workflow code from ${prebuiltBundleFile}` : `bundling the workflow code: ${prebuilt.reason}`);
  const { worker, close } = await createAtelierWorker(config, 'bundle' in prebuilt ? { workflowBundle: prebuilt.bundle } : {});
  console.log(`worker polling ${config.ATELIER_TASK_QUEUE} on ${config.ATELIER_TEMPORAL_ADDRESS}`);
  await worker.run();
  await close();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
