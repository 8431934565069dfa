// `npm run demo`: the main job end to end on the local stack. Brings the stack up, deploys the
// contract, runs a worker and takes six assets of the sample collection from generation to mint.
// `--manual` waits for your approvals instead of the auto policy.
import { parseArgs } from 'node:util';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import type { AssetStatus } from '../common/asset.ts';
import { finalStages } from '../common/asset.ts';
import { loadConfig } from '../common/config.ts';
import { parseAssetSpec } from '../common/spec.ts';
import { AtelierClient } from '../client/atelier.ts';
import { printTable } from '../client/printTable.ts';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createAtelierWorker } from '../workers/worker.ts';
import { ensureDeployment } from './lib/deploy.ts';
import { Stack } from './lib/stack.ts';
import { describeTemporal } from '../common/temporalConnection.ts';

const { values } = parseArgs({
  options: {
    manual: { type: 'boolean', default: false },
    count: { type: 'string', default: '6' },
    collection: { type: 'string' },
  },
});
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1 || count > 500) {
  console.error(`--count expects a whole number from 1 to 500, got "${values.count}"`);
  process.exit(2);
}
// Anvil's second well-known account: a collector's wallet on the local chain.
const demoRecipient = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

const config = loadConfig();
// The demo prints its own progress; the worker speaks up only for warnings and errors.
Runtime.install({ logger: new DefaultLogger('WARN') });
const began = Date.now();
const elapsed = () => `${((Date.now() - began) / 1000).toFixed(1).padStart(5)} s`;

const stack = new Stack(config);
console.log(
  stack.temporalExternal
    ? `Bringing up Kubo and Anvil; Temporal is external: ${describeTemporal(config)} (${config.temporal.externalReason})...`
    : 'Bringing up the local stack (the first run builds temporal and ipfs: minutes)...',
);
await stack.up((line) => console.log(`  ${line}`));
const deployment = await ensureDeployment(config);
console.log(`  contract CreativeAsset at ${deployment.address} on chain ${deployment.chainId}`);

console.log('Starting a worker (bundling the workflow code)...');
const { worker, close: closeWorker } = await createAtelierWorker(config);
const running = worker.run();
const client = await AtelierClient.connect(config);

const collectionId = values.collection ?? `critters-${Date.now().toString(36)}`;
const specs = Array.from({ length: count }, (_, i) =>
  parseAssetSpec({
    collectionId,
    assetKey: String(i + 1),
    name: `Critter #${i + 1}`,
    description: 'A critter from the Atelier demo collection.',
    recipient: demoRecipient,
    generator: { kind: 'layers', layerSet: 'critters', seed: 1000 + i },
    // The quick start takes unsigned decisions; the tokens' metadata says so (approvalSigned: false).
    approval: values.manual ? { policy: 'manual', unsigned: true, remindAfter: '1h', expireAfter: '1d' } : { policy: 'auto' },
  }),
);
const workflowIds = [];
for (const spec of specs) workflowIds.push((await client.start(spec)).workflowId);
console.log(`Started ${specs.length} assets in collection ${collectionId} (${values.manual ? 'manual approval' : 'auto policy'}).`);
console.log(`Watch them in the Temporal Web UI: ${stack.temporalUiUrl}`);

const latest = new Map<string, AssetStatus>();
const prompted = new Set<string>();
for (;;) {
  await Promise.all(
    // Ended runs are not read again: 500 runs polled every 250 ms would load the dev server.
    workflowIds
      .filter((id) => !finalStages.includes(latest.get(id)?.stage ?? 'generating'))
      .map(async (id) => {
        const status = await client.status(id).catch(() => undefined);
        if (!status) return;
        const before = latest.get(id);
        if (before?.stage !== status.stage) console.log(`[${elapsed()}] ${id.padEnd(32)} ${status.stage}`);
        if (status.stage === 'awaiting_approval' && !prompted.has(`${id}#${status.round}`)) {
          prompted.add(`${id}#${status.round}`);
          console.log(`           preview ${config.ATELIER_KUBO_GATEWAY_URL}/ipfs/${status.draftCid}`);
          const seen = `--round ${status.round} --draft ${status.draftCid}`;
          console.log(`           approve: ./bin/atelier approve ${id} ${seen}`);
          console.log(`           reject:  ./bin/atelier reject ${id} ${seen} --reason "..."`);
        }
        latest.set(id, status);
      }),
  );
  if (workflowIds.every((id) => finalStages.includes(latest.get(id)?.stage ?? 'generating'))) break;
  await new Promise((r) => setTimeout(r, 250));
}

const rows = workflowIds.map((id) => {
  const status = latest.get(id)!;
  return [
    id,
    status.stage,
    status.tokenId ?? '-',
    status.txHash ? `${status.txHash.slice(0, 12)}…` : '-',
    status.metadataCid ?? '-',
    status.metadataCid ? `${config.ATELIER_KUBO_GATEWAY_URL}/ipfs/${status.metadataCid}` : '-',
  ];
});
console.log('');
printTable(['asset', 'stage', 'token', 'tx', 'metadata cid', 'gateway url'], rows);
console.log('');
console.log(`stage times of ${workflowIds[0]}: ${await stageTimes(workflowIds[0]!)}`);
console.log(`Temporal Web UI: ${stack.temporalUiUrl}`);
console.log('The stack keeps running for you to look around; `npm run stack:down` stops it.');

worker.shutdown();
await running;
await closeWorker();
await client.close();
const minted = workflowIds.filter((id) => latest.get(id)?.stage === 'minted').length;
console.log(`minted ${minted}/${workflowIds.length} assets in ${((Date.now() - began) / 1000).toFixed(1)} s`);
process.exit(minted === workflowIds.length ? 0 : 1);

/** Each activity's time from scheduled to completed, read from the run's history. */
async function stageTimes(workflowId: string): Promise<string> {
  const history: History = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
  const seconds = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) + (t?.nanos ?? 0) / 1e9;
  const scheduled = new Map<string, { name: string; at: number }>();
  const parts: string[] = [];
  for (const event of history.events ?? []) {
    const at = seconds(event.eventTime);
    if (event.activityTaskScheduledEventAttributes) {
      scheduled.set(String(event.eventId), { name: event.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at });
    }
    const done = event.activityTaskCompletedEventAttributes;
    if (done) {
      const start = scheduled.get(String(done.scheduledEventId));
      if (start) parts.push(`${start.name} ${Math.round((at - start.at) * 1000)} ms`);
    }
  }
  return parts.join(', ');
}
