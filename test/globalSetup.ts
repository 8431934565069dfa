// Brings the real stack up once per test run, fresh, on test ports; takes it down after. With an
// external Temporal configured (README: "Connecting to Temporal"; e.g. ATELIER_TEMPORAL_EXTERNAL=true
// and TEMPORAL_ADDRESS) only Kubo and Anvil are started, and the search attributes are registered there.
import { loadConfig } from '../common/config.ts';
import { ensureDeployment } from '../scripts/lib/deploy.ts';
import { Stack } from '../scripts/lib/stack.ts';
import { testEnv } from './support/env.ts';

export default async function setup() {
  const config = loadConfig({ ...process.env, ...testEnv });
  const stack = new Stack(config);
  const started = Date.now();
  await stack.reset(() => {});
  await stack.up((line) => console.log(`[stack] ${line}`));
  const deployment = await ensureDeployment(config);
  console.log(`[stack] up in ${((Date.now() - started) / 1000).toFixed(1)} s; contract at ${deployment.address}`);
  return async () => {
    await stack.down(() => {});
  };
}
