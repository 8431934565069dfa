// `npm run webhooks`: the push webhook receiver, until SIGINT/SIGTERM. A signed push to a
// configured repository (ATELIER_GIT_WEBHOOK_REPOSITORIES) asks for a sync of that ref
// (client/repository.ts requestSync); a delivery a sync run already holds is a replay.
// The hook's URL is http://<ATELIER_GIT_WEBHOOK_HOST>:<ATELIER_GIT_WEBHOOK_PORT>/hooks/git, with
// content type application/json and ATELIER_GIT_WEBHOOK_SECRET as the secret.
import { Client, Connection } from '@temporalio/client';
import { ConfigError, loadConfig } from '../../common/config.ts';
import type { Config } from '../../common/config.ts';
import { temporalConnectOptions } from '../../common/temporalConnection.ts';
import { repositoryLocationProblem } from '../../common/repository.ts';
import { requestSync, syncKnowsDelivery } from '../repository.ts';
import { GIT_HOOK_PATH, startGitWebhookServer } from './server.ts';

/** Exit code of a configuration problem (as opposed to 1: something failed at run time). */
const EXIT_CONFIG = 2;

class UsageError extends Error {}

/** ATELIER_GIT_WEBHOOK_REPOSITORIES as a map: owner/name -> location (loadConfig checked the format; each location is checked here). */
function parseWebhookRepositories(value: string): Map<string, string> {
  const repositories = new Map<string, string>();
  const seen = new Set<string>();
  for (const pair of value.split(',')) {
    const at = pair.indexOf('=');
    const name = pair.slice(0, at).trim();
    // The server matches names case-insensitively, as GitHub does.
    if (seen.has(name.toLowerCase())) throw new UsageError(`ATELIER_GIT_WEBHOOK_REPOSITORIES: ${name} is listed twice`);
    seen.add(name.toLowerCase());
    const location = pair.slice(at + 1).trim();
    const problem = repositoryLocationProblem(location);
    if (problem) throw new UsageError(`ATELIER_GIT_WEBHOOK_REPOSITORIES: ${name}: ${problem}`);
    repositories.set(name, location);
  }
  return repositories;
}

/** The settings the receiver cannot start without, or a UsageError naming each missing variable. */
function webhookSettings(config: Config): { secret: string; repositories: Map<string, string> } {
  const problems: string[] = [];
  if (!config.ATELIER_GIT_WEBHOOK_SECRET)
    problems.push('ATELIER_GIT_WEBHOOK_SECRET: missing; every delivery is verified with it (the secret set on the webhook)');
  if (!config.ATELIER_GIT_WEBHOOK_REPOSITORIES) {
    problems.push(
      'ATELIER_GIT_WEBHOOK_REPOSITORIES: missing; which repository each sender stands for (example: studio/critters-art=/srv/git/critters-art.git)',
    );
  }
  if (problems.length > 0) throw new UsageError(`Cannot start the webhook receiver:\n  ${problems.join('\n  ')}`);
  return { secret: config.ATELIER_GIT_WEBHOOK_SECRET!, repositories: parseWebhookRepositories(config.ATELIER_GIT_WEBHOOK_REPOSITORIES!) };
}

async function main() {
  let config: Config;
  let settings: ReturnType<typeof webhookSettings>;
  try {
    config = loadConfig();
    settings = webhookSettings(config);
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof UsageError)) throw error;
    console.error(error.message);
    process.exit(EXIT_CONFIG);
  }
  const connection = await Connection.connect(temporalConnectOptions(config)).catch((error: Error) => {
    throw new Error(`cannot reach Temporal at ${config.ATELIER_TEMPORAL_ADDRESS} (${error.message}); is the stack up?`);
  });
  const client = new Client({ connection, namespace: config.ATELIER_TEMPORAL_NAMESPACE });
  const taskQueue = config.ATELIER_TASK_QUEUE;
  const running = await startGitWebhookServer({
    host: config.ATELIER_GIT_WEBHOOK_HOST,
    port: config.ATELIER_GIT_WEBHOOK_PORT,
    secret: settings.secret,
    repositories: settings.repositories,
    onPush: async ({ repository, ref, commit, deliveryId }) => {
      await requestSync(client, taskQueue, { repository, ref, commit, deliveryId, requestedBy: 'git-webhook' });
    },
    knownDelivery: (repository, deliveryId) => syncKnowsDelivery(client, repository, deliveryId),
  }).catch((error: NodeJS.ErrnoException) => {
    const why = error.code === 'EADDRINUSE' ? 'the port is taken; set ATELIER_GIT_WEBHOOK_PORT' : error.message;
    throw new Error(`cannot listen on ${config.ATELIER_GIT_WEBHOOK_HOST}:${config.ATELIER_GIT_WEBHOOK_PORT}: ${why}`);
  });
  console.log(
    `git webhook receiver on ${running.url}${GIT_HOOK_PATH} for ${[...settings.repositories.keys()].join(', ')} (Temporal ${config.ATELIER_TEMPORAL_ADDRESS}, task queue ${taskQueue})`,
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.close().catch(() => {});
    await connection.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
