// The one place that turns configuration into live clients for the activities.
import fs from 'node:fs';
import Arweave from 'arweave';
import type { JWKInterface } from 'arweave/node/lib/wallet.js';
import { JsonRpcProvider, Wallet } from 'ethers';
import { create as createKubo } from 'kubo-rpc-client';
import OpenAI from 'openai';
import { createActivities } from '../activities/index.ts';
import type { Activities } from '../activities/index.ts';
import type { ArweaveArchive } from '../activities/arweave.ts';
import type { ArweaveSettings, Config } from '../common/config.ts';
import { repositoryRootsOf } from '../common/config.ts';
import { contractLocation } from '../common/deployment.ts';
import { loadWebhookSubscriptions } from '../common/webhooks.ts';
import { SlackCollections, slackApiUrl, slackBotToken } from '../common/slack/settings.ts';
import { workerSlackClient } from '../common/slack/webapi.ts';

export function createWorkerActivities(config: Config): { activities: Activities; close: () => void } {
  // The client ignores a client-wide timeout: each Kubo call carries its own 60 s signal (activities/kubo.ts kuboSignal).
  const kubo = createKubo({ url: config.ATELIER_KUBO_API_URL });
  // No response cache: a repeated estimate must see the chain as it is now.
  const provider = new JsonRpcProvider(config.ATELIER_ETH_RPC_URL, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 250 });
  const signer = new Wallet(config.ATELIER_SIGNER_KEY, provider);
  const { address, deploymentBlock } = contractLocation(config);
  const openai = config.ATELIER_OPENAI_API_KEY
    ? {
        // No retries inside the client: Temporal retries the activity (backoff, attempts in history).
        // One request gets 2 of generate's 3 minutes; generate shortens it to fit a shorter attempt.
        client: new OpenAI({ apiKey: config.ATELIER_OPENAI_API_KEY, baseURL: config.ATELIER_OPENAI_BASE_URL, maxRetries: 0, timeout: 120_000 }),
        model: config.ATELIER_OPENAI_MODEL,
        size: config.ATELIER_OPENAI_SIZE,
      }
    : undefined;
  // Slack approvals when a bot token is set: the collections file is read (and checked) at start.
  const slackToken = slackBotToken(config);
  const appKey = config.ATELIER_SLACK_APP_PUBLIC_KEY;
  const collections = slackToken || appKey ? SlackCollections.load(config.ATELIER_SLACK_COLLECTIONS) : undefined;
  const slack = slackToken
    ? {
        client: workerSlackClient(slackToken, slackApiUrl(config)),
        collections: collections!,
        // A public gateway shows previews by URL; without one, drafts are uploaded to Slack.
        previewBaseUrl: config.ATELIER_SLACK_PREVIEW_URL,
      }
    : undefined;
  const activities = createActivities({
    kubo,
    openai,
    gatewayUrl: config.ATELIER_KUBO_GATEWAY_URL,
    slack,
    // Decisions signed by the Slack app are taken only for the users the collections file allows.
    slackTrust: appKey ? { appKey, collections: collections! } : undefined,
    avif: config.ATELIER_AVIF,
    provider,
    signer,
    contractAddress: address,
    deploymentBlock,
    confirmations: config.ATELIER_CONFIRMATIONS,
    // Collections: how many assets run at once, and how many are released to the minter together (one batch).
    collection: { concurrency: config.ATELIER_COLLECTION_CONCURRENCY, mintChunk: config.ATELIER_MINT_BATCH_SIZE },
    repositoryRoots: repositoryRootsOf(config),
    // Permanent copies on Arweave only with ATELIER_ARWEAVE_URL set (the key file is read, and checked, at start).
    arweave: config.arweave ? arweaveArchive(config.arweave) : undefined,
    // Outgoing webhooks: the subscriptions file is read (and checked) at start.
    subscriptions: loadWebhookSubscriptions(config.ATELIER_WEBHOOKS_FILE),
    minter: {
      batchSize: config.ATELIER_MINT_BATCH_SIZE,
      batchWaitMs: config.ATELIER_MINT_BATCH_WAIT_MS,
      replaceAfterMs: config.ATELIER_MINT_REPLACE_AFTER_MS,
      batchesPerRun: config.ATELIER_MINT_BATCHES_PER_RUN,
    },
  });
  return { activities, close: () => provider.destroy() };
}

/** The Arweave client and wallet; a key file that is missing or not an RSA JWK stops the worker (its contents never printed). */
function arweaveArchive(settings: ArweaveSettings): ArweaveArchive {
  let wallet: JWKInterface;
  try {
    wallet = JSON.parse(fs.readFileSync(settings.walletFile, 'utf8')) as JWKInterface;
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? 'not JSON';
    const hint = settings.local ? " (`npm run stack:up` writes the local gateway's dev wallet)" : '';
    throw new Error(`ATELIER_ARWEAVE_WALLET_FILE: cannot read the Arweave key file ${settings.walletFile}: ${why}${hint}`);
  }
  if (wallet?.kty !== 'RSA' || typeof wallet.n !== 'string' || typeof wallet.d !== 'string') {
    throw new Error(`ATELIER_ARWEAVE_WALLET_FILE: ${settings.walletFile} is not an Arweave (RSA JWK) key file`);
  }
  const url = new URL(settings.url);
  const arweave = Arweave.init({
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    protocol: url.protocol.replace(':', ''),
    timeout: 60_000,
  });
  return { arweave, wallet, gatewayUrl: settings.url, mine: settings.local };
}
