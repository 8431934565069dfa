// The test stack runs on its own ports and data folder, beside any dev stack.
export const testEnv = {
  ATELIER_DATA_DIR: '.data/test',
  ATELIER_TEMPORAL_ADDRESS: '127.0.0.1:17233',
  ATELIER_TEMPORAL_UI_PORT: '18233',
  ATELIER_TASK_QUEUE: 'atelier-test',
  ATELIER_KUBO_API_URL: 'http://127.0.0.1:15001',
  ATELIER_KUBO_GATEWAY_URL: 'http://127.0.0.1:18080',
  ATELIER_ETH_RPC_URL: 'http://127.0.0.1:18545',
} as const;
