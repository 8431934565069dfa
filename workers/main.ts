// `npm run worker`: polls the Atelier task queue until SIGINT/SIGTERM.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../common/config.ts';
import { redactor } from '../common/redact.ts';
import { createAtelierWorker, redactProcessOutput, redactingLogger } from './worker.ts';

try {
  const config = loadConfig();
  // No secret or URL credential in the worker's output: the SDK's log lines (an activity failure
  // carries its error) and anything else written to the console are redacted.
  const redact = redactor(config);
  redactProcessOutput(redact);
  Runtime.install({ logger: redactingLogger(new DefaultLogger('INFO'), redact) });
  const { worker, close } = await createAtelierWorker(config);
  console.log(`worker polling ${config.ATELIER_TASK_QUEUE} on ${config.ATELIER_TEMPORAL_ADDRESS}`);
  await worker.run();
  await close();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
