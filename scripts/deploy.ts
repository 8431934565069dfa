// `npm run deploy`: make sure the configured chain holds the current CreativeAsset build.
import { loadConfig } from '../common/config.ts';
import { ensureDeployment } from './lib/deploy.ts';

try {
  const deployment = await ensureDeployment(loadConfig());
  console.log(`CreativeAsset at ${deployment.address} (chain ${deployment.chainId}, block ${deployment.blockNumber})`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
