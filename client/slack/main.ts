// `npm run slack`: the Slack app, until SIGINT/SIGTERM. HTTP receiver by default (Slack posts to
// <public URL>/slack/events), Socket Mode with ATELIER_SLACK_SOCKET_MODE=true. See docs/slack.md.
import { loadConfig } from '../../common/config.ts';
import { AtelierClient } from '../atelier.ts';
import { startSlackApp } from './app.ts';
import { SlackCollections, slackAppSecrets } from '../../common/slack/settings.ts';

try {
  const config = loadConfig();
  slackAppSecrets(config); // there and well-formed, before anything connects
  const collections = SlackCollections.load(config.ATELIER_SLACK_COLLECTIONS);
  const atelier = await AtelierClient.connect(config).catch((error: Error) => {
    throw new Error(`cannot reach Temporal at ${config.ATELIER_TEMPORAL_ADDRESS} (${error.message}); is the stack up?`);
  });
  const running = await startSlackApp({ config, atelier, collections });
  console.log(
    running.url
      ? `slack app listening on ${running.url} (Temporal ${config.ATELIER_TEMPORAL_ADDRESS}, collections ${collections.file})`
      : `slack app connected in Socket Mode (Temporal ${config.ATELIER_TEMPORAL_ADDRESS}, collections ${collections.file})`,
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.stop().catch(() => {});
    await atelier.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
