// The cluster suite's settings: a Temporal cluster on PostgreSQL of its own (ports clear of the dev
// stack, the test stacks and `npm run cluster:up`), and Kubo and Anvil on test slot 8's ports.
import { clusterDefaults } from '../../scripts/lib/cluster.ts';

const slotOffset = 8 * 100;
/** 100 above `npm run cluster:up`'s ports: the suite wipes its cluster, never a developer's. */
export const clusterPorts = {
  postgresPort: clusterDefaults.postgresPort + 100,
  frontendPort: clusterDefaults.frontendPort + 100,
  uiPort: clusterDefaults.uiPort + 100,
} as const;

export const clusterSuiteEnv = {
  /** Only the cluster config sets it: the main suite (which also matches test/**) skips this folder. */
  ATELIER_CLUSTER_SUITE: '1',
  ATELIER_DATA_DIR: '.data/cluster-test',
  ATELIER_TEMPORAL_ADDRESS: `127.0.0.1:${clusterPorts.frontendPort}`,
  ATELIER_TEMPORAL_UI_PORT: String(clusterPorts.uiPort),
  ATELIER_TASK_QUEUE: 'atelier-cluster',
  ATELIER_KUBO_API_URL: `http://127.0.0.1:${15001 + slotOffset}`,
  ATELIER_KUBO_GATEWAY_URL: `http://127.0.0.1:${18080 + slotOffset}`,
  ATELIER_ETH_RPC_URL: `http://127.0.0.1:${18545 + slotOffset}`,
} as const;
