// `npm run cluster:up | cluster:down | cluster:reset`: the Temporal cluster on PostgreSQL (scripts/lib/cluster.ts)
// in .data/cluster/, on its default ports (PostgreSQL 26543, Temporal 27233, Web UI 28233).
import { Cluster } from './lib/cluster.ts';

const cluster = new Cluster({ dataDir: '.data/cluster' });
const command = process.argv[2];
try {
  if (command === 'up') await cluster.up((line) => console.log(`[cluster] ${line}`));
  else if (command === 'down') await cluster.down((line) => console.log(`[cluster] ${line}`));
  else if (command === 'reset') await cluster.reset((line) => console.log(`[cluster] ${line}`));
  else {
    console.error('usage: tsx scripts/cluster.ts up|down|reset');
    process.exitCode = 2;
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
