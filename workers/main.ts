// `npm run worker`: polls the Atelier task queue until SIGINT/SIGTERM.
import { ConfigError, loadConfig } from '../common/config.ts';
import { createAtelierWorker } from './worker.ts';

try {
  const config = loadConfig();
  const { worker, close } = await createAtelierWorker(config);
  console.log(`worker polling ${config.ATELIER_TASK_QUEUE} on ${config.ATELIER_TEMPORAL_ADDRESS}`);
  await worker.run();
  await close();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
