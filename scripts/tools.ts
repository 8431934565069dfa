// `npm run tools:build`: find or build temporal, ipfs and anvil, prepare the time-skipping test
// server (Java, from Maven Central), and say where they are.
import { ensureTools } from './lib/tools.ts';
import { ensureTimeSkippingServer } from './lib/testServer.ts';

const tools = await ensureTools();
const testServer = await ensureTimeSkippingServer();
const all = { ...tools, 'temporal-test-server': testServer };
const width = Math.max(...Object.keys(all).map((name) => name.length)) + 1;
for (const [name, binary] of Object.entries(all)) console.log(`${name.padEnd(width)} ${binary}`);
