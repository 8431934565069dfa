// The test stack runs on its own ports and data folder, beside any dev stack. ATELIER_TEST_SLOT
// (0-9) shifts every port by 100 a slot, so several suites can run side by side on one machine.
const slot = Number(process.env.ATELIER_TEST_SLOT ?? 0);
if (!Number.isInteger(slot) || slot < 0 || slot > 9) throw new Error(`ATELIER_TEST_SLOT must be 0-9, got ${process.env.ATELIER_TEST_SLOT}`);
export const testSlotOffset = slot * 100;
const port = (base: number) => String(base + testSlotOffset);

export const testEnv = {
  ATELIER_DATA_DIR: slot === 0 ? '.data/test' : `.data/test-${slot}`,
  ATELIER_TEMPORAL_ADDRESS: `127.0.0.1:${port(17233)}`,
  ATELIER_TEMPORAL_UI_PORT: port(18233),
  ATELIER_TASK_QUEUE: 'atelier-test',
  ATELIER_KUBO_API_URL: `http://127.0.0.1:${port(15001)}`,
  ATELIER_KUBO_GATEWAY_URL: `http://127.0.0.1:${port(18080)}`,
  ATELIER_ETH_RPC_URL: `http://127.0.0.1:${port(18545)}`,
  // A loopback URL: the test stack runs arlocal there, with a funded dev wallet in the data folder.
  ATELIER_ARWEAVE_URL: `http://127.0.0.1:${port(11984)}`,
} as const;
