// The cluster suite's stack, fresh every run: the Temporal cluster on PostgreSQL (scripts/lib/cluster.ts),
// and Kubo and Anvil from the local stack (scripts/lib/stack.ts), whose own Temporal is never started.
import fs from 'node:fs';
import { loadConfig } from '../../common/config.ts';
import { Cluster } from '../../scripts/lib/cluster.ts';
import { ensureDeployment } from '../../scripts/lib/deploy.ts';
import { Stack } from '../../scripts/lib/stack.ts';
import { clusterPorts, clusterSuiteEnv } from './env.ts';

export default async function setup() {
  const config = loadConfig({ ...process.env, ...clusterSuiteEnv });
  const cluster = new Cluster({ dataDir: config.dataDir, ...clusterPorts });
  const stack = new Stack(config);
  const log = (line: string) => console.log(`[cluster] ${line}`);
  const started = Date.now();
  await stack.down(() => {});
  await cluster.down(() => {});
  fs.rmSync(config.dataDir, { recursive: true, force: true });
  await cluster.up(log);
  await stack.start('kubo', (line) => console.log(`[stack] ${line}`));
  await stack.start('anvil', (line) => console.log(`[stack] ${line}`));
  const deployment = await ensureDeployment(config);
  console.log(`[cluster] everything up in ${((Date.now() - started) / 1000).toFixed(1)} s; contract at ${deployment.address}; Web UI ${cluster.uiUrl}`);
  return async () => {
    await stack.down(() => {});
    await cluster.down(() => {});
  };
}
