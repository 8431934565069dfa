// `npm run stack:up | stack:down | stack:status | stack:reset`. With an external Temporal (README:
// "Connecting to Temporal") only Kubo and Anvil are started and stopped; Temporal is checked.
import { ConfigError, loadConfig } from '../common/config.ts';
import { describeTemporal } from '../common/temporalConnection.ts';
import { Stack } from './lib/stack.ts';
import { ensureDeployment } from './lib/deploy.ts';

const command = process.argv[2];
const usage = 'usage: tsx scripts/stack.ts up|down|status|reset';

try {
  const config = loadConfig();
  const stack = new Stack(config);
  switch (command) {
    case 'up': {
      const started = Date.now();
      await stack.up();
      const deployment = await ensureDeployment(config);
      console.log(`contract CreativeAsset at ${deployment.address} (chain ${deployment.chainId}, block ${deployment.blockNumber})`);
      console.log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      printLinks(stack);
      break;
    }
    case 'down':
      await stack.down();
      break;
    case 'status': {
      const rows = await stack.status();
      for (const row of rows) {
        console.log(`${row.name.padEnd(9)} ${row.state.padEnd(14)} ${row.address.padEnd(24)} ${row.pid ? `pid ${row.pid}` : row.external ? 'external' : ''}`);
      }
      printLinks(stack);
      if (rows.some((row) => row.state !== 'up')) process.exitCode = 1;
      break;
    }
    case 'reset':
      await stack.reset();
      break;
    default:
      console.error(usage);
      process.exitCode = 2;
  }
} catch (error) {
  console.error(error instanceof ConfigError || error instanceof Error ? error.message : error);
  process.exitCode = 1;
}

function printLinks(stack: Stack) {
  console.log(`Temporal Web UI  ${stack.temporalUiUrl}`);
  if (stack.temporalExternal) console.log(`Temporal         ${describeTemporal(stack.config)}: ${stack.config.temporal.externalReason}`);
  console.log(`IPFS gateway     ${stack.config.ATELIER_KUBO_GATEWAY_URL}/ipfs/<cid>`);
  console.log(`data folder      ${stack.config.dataDir}`);
}
