// `npm run tools:build`: find or build temporal, ipfs and anvil, and say where they are.
import { ensureTools } from './lib/tools.ts';

const tools = await ensureTools();
for (const [name, binary] of Object.entries(tools)) console.log(`${name.padEnd(9)} ${binary}`);
