// `atelier collection ...`: plan, start, watch and steer collections, and read their reports.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { CollectionProgress, ProgressStage } from '../common/collection.ts';
import { assetCodes } from '../common/collection.ts';
import type { Config } from '../common/config.ts';
import { renderContactSheet } from '../activities/contactSheet.ts';
import { composeTraits } from '../activities/generate.ts';
import { traitsOfDna } from '../common/dna.ts';
import { loadLayerSet } from '../common/layerSet.ts';
import { AtelierClient } from './atelier.ts';
import { CollectionClient, CollectionRefused, isSettled, planCollectionFile, rarityPreview, verifyReveal } from './collection.ts';
import { printTable } from './printTable.ts';

export const collectionUsage = `  collection plan <collection.json> [--sheet <file.png>]   dry run: DNA, rarity preview, contact sheet
  collection start <collection.json> [--wait]          start (or join) the collection's run
  collection status <id> [--json]                      progress by stage, failures, rate, ETA
  collection watch <id>                                live progress until it settles
  collection pause|resume <id> [--by <name>]
  collection cancel <id> --reason <text> [--by <name>] assets not yet minting end cancelled
  collection retry-failed <id> [--by <name>]
  collection approve <id> --rest [--by <name>] [--comment <text>]   sample mode: release the rest
  collection report <id> [--json|--csv]                rarity, provenance, tokens
  collection reveal <id> [--by <name>] [--wait]        a collection minted with a placeholder gets its final metadata
  collection verify-reveal <id> | --record <cid>       recompute the reveal's offset and mapping, check every token on chain`;

export class CollectionUsageError extends Error {}

/** Stages in the order an asset passes them (the codes' order). */
const order = Object.keys(assetCodes) as ProgressStage[];

export async function collectionCommand(
  argv: string[],
  config: Config,
  by: string,
  sheetRenderer?: (plan: ReturnType<typeof planCollectionFile>) => Promise<Buffer>,
): Promise<number> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      wait: { type: 'boolean' },
      json: { type: 'boolean' },
      csv: { type: 'boolean' },
      rest: { type: 'boolean' },
      by: { type: 'string' },
      reason: { type: 'string' },
      comment: { type: 'string' },
      sheet: { type: 'string' },
      'history-limit': { type: 'string' },
      record: { type: 'string' },
    },
  });
  const one = (what: string) => {
    if (positionals.length !== 1) throw new CollectionUsageError(`collection ${verb} takes one <${what}> (got ${positionals.length})`);
    return positionals[0]!;
  };
  const who = values.by ?? by;

  if (verb === 'plan') {
    const plan = planCollectionFile(one('collection.json'));
    const rarity = rarityPreview(plan);
    console.log(`collection ${plan.spec.id}: ${plan.dna.length} unique DNA from seed ${plan.spec.seed} (${plan.structure.layers.length} layers)`);
    printTable(
      ['layer', 'option', 'count', 'frequency'],
      rarity.traits.map((t) => [t.layer, t.option, String(t.count), `${(t.frequency * 100).toFixed(2)}%`]),
    );
    if (plan.spec.generator.kind === 'layers') {
      // The first drafts composed here exactly as the worker will (same DNA, same bytes).
      const set = loadLayerSet(plan.spec.generator.layerSet);
      const images = [];
      for (const dna of plan.dna.slice(0, 64)) images.push(await composeTraits(set, plan.spec.generator.layerSet, traitsOfDna(plan.structure, dna)));
      const file = values.sheet ?? `${plan.spec.id}-contact-sheet.png`;
      fs.writeFileSync(file, await renderContactSheet(images));
      console.log(`contact sheet of the first ${images.length} drafts: ${file}`);
    } else console.log('no contact sheet: the openai generator makes images only when the collection runs');
    console.log('nothing started (atelier collection start <file> starts it)');
    return 0;
  }

  if (verb === 'verify-reveal' && values.record !== undefined) return verifyRevealCommand(values.record, config);

  const atelier = await AtelierClient.connect(config);
  const client = new CollectionClient(atelier.temporal, config.ATELIER_TASK_QUEUE);
  try {
    switch (verb) {
      case 'start': {
        const plan = planCollectionFile(one('collection.json'));
        const limit = values['history-limit'];
        if (limit !== undefined && !/^[1-9][0-9]{2,5}$/.test(limit))
          throw new CollectionUsageError(`--history-limit expects a number of events (>= 100), got "${limit}"`);
        const started = await client.start(plan, { historyLimit: limit === undefined ? undefined : Number(limit) });
        console.log(`${started.outcome === 'started' ? 'started' : 'already running'}  ${started.workflowId}  run ${started.runId}`);
        if (!values.wait) return 0;
        const begun = Date.now();
        const last = await client.watch(plan.spec.id, isSettled, progressLine());
        console.log(`collection ${plan.spec.id}: minted ${last.counts.minted}/${last.size} in ${Math.round((Date.now() - begun) / 1000)} s`);
        return last.counts.minted === last.size ? 0 : 1;
      }
      case 'status': {
        const progress = await client.progress(one('id'));
        console.log(values.json ? JSON.stringify(progress, null, 2) : formatProgress(progress));
        return progress.failed > 0 && progress.counts.failed > 0 ? 1 : 0;
      }
      case 'watch': {
        const id = one('id');
        const tty = process.stdout.isTTY;
        const last = await client.watch(id, isSettled, (p) => {
          if (tty) process.stdout.write(`\x1b[H\x1b[2J${formatProgress(p)}\n`);
          else progressLine()(p);
        });
        if (!tty) console.log(formatProgress(last));
        return 0;
      }
      case 'pause':
        await client.pause(one('id'), who);
        console.log(`paused ${positionals[0]}: no new asset starts and nothing is released to mint; running assets go on`);
        return 0;
      case 'resume':
        await client.resume(one('id'), who);
        console.log(`resumed ${positionals[0]}`);
        return 0;
      case 'cancel': {
        const id = one('id');
        if (!values.reason?.trim()) throw new CollectionUsageError('collection cancel needs --reason <text>');
        await client.cancel(id, who, values.reason);
        console.log(`cancelling ${id}: assets not yet minting end cancelled, those minting finish (atelier collection watch ${id})`);
        return 0;
      }
      case 'retry-failed': {
        const count = await client.retryFailed(one('id'), who);
        console.log(`${count} failed asset(s) of ${positionals[0]} start again`);
        return 0;
      }
      case 'approve': {
        const id = one('id');
        if (!values.rest) throw new CollectionUsageError('collection approve needs --rest: it releases the assets after the approved sample');
        const progress = await client.approveRest(id, who, values.comment);
        console.log(`released ${id}: the ${progress.counts.waiting} remaining assets start, approved by ${who} through the sample`);
        return 0;
      }
      case 'report': {
        const id = one('id');
        const progress = await client.progress(id);
        if (!progress.report) throw new CollectionUsageError(`collection ${id} is ${progress.phase}: its report is published when it ends`);
        const cid = values.csv ? progress.report.reportCsvCid : progress.report.reportCid;
        const response = await fetch(`${config.ATELIER_KUBO_GATEWAY_URL}/ipfs/${cid}`);
        if (!response.ok) throw new Error(`the report ${cid} could not be read from the gateway: HTTP ${response.status}`);
        const text = await response.text();
        if (values.json || values.csv) process.stdout.write(text);
        else {
          const report = JSON.parse(text) as {
            provenanceHash: string | null;
            minted: number;
            size: number;
            metadataRootCid: string | null;
            contractURI: string | null;
            tokenOrderMatchesProvenance: boolean;
          };
          console.log(
            [
              `collection ${id}: minted ${report.minted}/${report.size}`,
              `provenance ${report.provenanceHash ?? '-'} (token order ${report.tokenOrderMatchesProvenance ? 'matches' : 'does NOT match'})`,
              `contractURI ${report.contractURI ?? '-'}`,
              `metadata   ipfs://${report.metadataRootCid ?? '-'}/<tokenId>`,
              `report     ipfs://${progress.report.reportCid} (--json), ipfs://${progress.report.reportCsvCid} (--csv)`,
            ].join('\n'),
          );
        }
        return 0;
      }
      case 'reveal': {
        const id = one('id');
        const asked = await client.reveal(id, who);
        console.log(`revealing ${id}: placeholder ${asked.reveal!.placeholderMetadataCid}; the offset comes from the block after the last mint`);
        if (!values.wait) return 0;
        let shownBlock: number | null = null;
        const last = await client.watch(
          id,
          (p) => Boolean(p.reveal?.revealed || p.reveal?.refused || !['awaiting_reveal', 'revealing', 'settled'].includes(p.phase)),
          (p) => {
            if (p.reveal?.waitingForBlock && p.reveal.waitingForBlock !== shownBlock) {
              shownBlock = p.reveal.waitingForBlock;
              console.log(`waiting for block ${shownBlock} (its hash gives the offset)`);
            }
          },
        );
        if (!last.reveal?.revealed) throw new CollectionRefused(last.reveal?.refused ?? `collection ${id} is ${last.phase}: not revealed`);
        console.log(revealLine(id, last.reveal.revealed));
        return 0;
      }
      case 'verify-reveal': {
        const id = one('id');
        const progress = await client.progress(id);
        const revealed = progress.reveal?.revealed;
        if (!revealed) throw new CollectionRefused(`collection ${id} is not revealed${progress.reveal ? '' : ' (it does not reveal later)'}`);
        return verifyRevealCommand(revealed.recordCid, config);
      }
      default:
        throw new CollectionUsageError(`unknown collection command "${verb ?? ''}"`);
    }
  } finally {
    await atelier.close();
  }
}

function revealLine(id: string, r: NonNullable<NonNullable<CollectionProgress['reveal']>['revealed']>): string {
  return `revealed ${id}: ${r.count} tokens, offset ${r.offset} from block ${r.revealBlock.number} (${r.revealBlock.hash}), tx ${r.transactionHash ?? '-'}, record ipfs://${r.recordCid}`;
}

/** Exit 0 when the record holds and every token shows what it predicts, 1 otherwise. */
async function verifyRevealCommand(recordCid: string, config: Config): Promise<number> {
  if (!/^(b[a-z2-7]{20,100}|Qm[1-9A-HJ-NP-Za-km-z]{44})$/.test(recordCid)) throw new CollectionUsageError(`--record expects a CID, got "${recordCid}"`);
  const found = await verifyReveal(recordCid, { rpcUrl: config.ATELIER_ETH_RPC_URL, gatewayUrl: config.ATELIER_KUBO_GATEWAY_URL });
  if (found.record)
    console.log(`record ipfs://${recordCid}: ${found.record.count} tokens, offset ${found.record.offset} from block ${found.record.revealBlock.number}`);
  for (const problem of found.problems.slice(0, 20)) console.log(`  problem: ${problem}`);
  if (found.problems.length > 20) console.log(`  ... and ${found.problems.length - 20} more`);
  console.log(found.problems.length === 0 ? `verified: every one of ${found.tokensChecked} tokens shows the metadata the offset predicts` : 'NOT verified');
  return found.problems.length === 0 ? 0 : 1;
}

/** One line per reading when it changed (logs, CI). */
function progressLine(): (p: CollectionProgress) => void {
  let previous = '';
  return (p) => {
    const c = p.counts;
    const line = `${p.id} ${p.phase}${p.paused ? ' (paused)' : ''}: minted ${c.minted}/${p.size} · minting ${c.minting} · ready ${c.ready} · awaiting ${c.awaiting_approval} · generating ${c.generating} · failed ${c.failed} · ${p.ratePerMinute}/min${p.etaSeconds !== null ? ` · ETA ${p.etaSeconds} s` : ''}`;
    if (line !== previous) console.log(line);
    previous = line;
  };
}

/** A bar per stage with counts, then rate, ETA, failures. */
export function formatProgress(p: CollectionProgress): string {
  const width = 30;
  const lines = [`collection ${p.id} (${p.name})  ${p.phase}${p.paused ? ' · PAUSED' : ''}  run ${p.runs}  window ${p.concurrency}`];
  for (const stage of order) {
    const n = p.counts[stage];
    if (n === 0 && ['held', 'rejected', 'expired', 'cancelled'].includes(stage)) continue;
    const filled = Math.round((n / p.size) * width);
    lines.push(`  ${stage.padEnd(18)} ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${String(n).padStart(6)}/${p.size}`);
  }
  lines.push(`  rate ${p.ratePerMinute} assets/min · elapsed ${p.elapsedSeconds} s${p.etaSeconds !== null ? ` · ETA ${p.etaSeconds} s` : ''}`);
  if (p.sample)
    lines.push(
      `  sample ${p.sample.assetKeys.join(', ')}: ${p.sample.released ? `released by ${p.sample.released.by}` : 'awaiting approval, then `collection approve --rest`'}`,
    );
  if (p.published) lines.push(`  provenance ${p.published.provenanceHash} over ${p.published.count} · contractURI ${p.published.contractURI}`);
  if (p.report) lines.push(`  report ipfs://${p.report.reportCid} · metadata ipfs://${p.report.metadataRootCid}/<tokenId>`);
  if (p.reveal) {
    const r = p.reveal;
    if (r.revealed) lines.push(`  ${revealLine(p.id, r.revealed)}`);
    else if (r.waitingForBlock) lines.push(`  reveal: waiting for block ${r.waitingForBlock} (its hash gives the offset)`);
    else if (r.requested) lines.push(`  reveal: asked by ${r.requested.by} at ${r.requested.at}`);
    else
      lines.push(
        `  reveal: placeholder ${r.placeholderMetadataCid}${r.refused ? ` · last request refused: ${r.refused}` : ' · atelier collection reveal ' + p.id + ' once the mint has ended'}`,
      );
  }
  if (p.failed > 0) {
    lines.push(`  failures (${p.failed}):`);
    for (const f of p.failures.slice(-10)) lines.push(`    #${f.assetKey}: ${f.reason}`);
  }
  if (p.cancelled) lines.push(`  cancelled by ${p.cancelled.by}: ${p.cancelled.reason}`);
  return lines.join('\n');
}
