// `atelier`: start, approve, reject, inspect and list asset runs.
// Exit codes: 0 done, 1 failure (server, run failed), 2 bad input, 3 decision refused, 4 not found.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { AssetStatus, Stage } from '../common/asset.ts';
import { stages } from '../common/asset.ts';
import { ConfigError, loadConfig } from '../common/config.ts';
import { isHexKey, newDecisionKey, publicKeyOf } from '../common/decision.ts';
import { MAX_CHANGE_DATA_BYTES } from '../common/dynamic.ts';
import { SpecError, parseAssetSpec } from '../common/spec.ts';
import { AssetNotFound, AtelierClient, ChangeRefused, DecisionRefused } from './atelier.ts';
import { CollectionNotFound, CollectionRefused } from './collection.ts';
import { importHashLips } from './hashlips.ts';
import { CollectionUsageError, collectionCommand, collectionUsage } from './collectionCli.ts';
import { printTable } from './printTable.ts';
import { RepositoryUsageError, repositoryCommand, repositoryUsage } from './repositoryCli.ts';
import { RepositoryRefused } from './repository.ts';

const usage = `usage: atelier <command> [options]

  start --spec <file.json>                 start the asset(s) in a spec file (one spec or an array)
  start --collection <id> --key <key> --name <name> --recipient <0x...>
        [--seed <n>] [--trait layer=option]... [--layer-set <dir>] [--prompt <text>]
        [--description <text>] [--auto] [--approver <name>]... [--remind <dur>] [--expire <dur>]
        [--max-rounds <n>] [--avif]
        [--approver <name>=<public key>]... [--unsigned]
  approve <asset> [--by <name>] [--key <key file>] [--round <n> --draft <cid>] [--comment <text>]
  reject <asset> --reason <text> [--by <name>] [--key <key file>] [--round <n> --draft <cid>]
  cancel <asset> --reason <text> [--by <name>]
  status <asset> [--json]
  list [--collection <id>] [--stage <stage>] [--json]
  event <asset> <name> <json> [--id <id>] [--by <name>]
                                           a change for a minted dynamic asset (e.g. a game milestone);
                                           the same --id again is the same change
  history <asset> [--json]                 a dynamic asset's versions and its queued changes
  keys new <name> [--out <file>]           make an approver key pair; prints the public key for specs
${collectionUsage}
${repositoryUsage}
  layers import-hashlips <folder> --name <set> --order <Layer,Layer,...> [--size <px>] [--overwrite]
                                           a HashLips layers folder (<Layer>/<Trait>#<weight>.png) as a layer set

<asset> is <collection>:<key> or asset:<collection>:<key>. Durations: 90s, 15m, 4h, 2d.
A decision is for the round and draft you name (--round, --draft: what you looked at), or else for
the ones the run shows now, which are read, printed, sent and signed with it; with --key it is signed
by the approver's key, which the spec names under approval.keys.`;

class UsageError extends Error {}

const exit = { ok: 0, failed: 1, badInput: 2, refused: 3, notFound: 4 } as const;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    console.log(usage);
    return command ? exit.ok : exit.badInput;
  }
  if (command === 'collection') return collectionCommand(rest, loadConfig(), process.env.ATELIER_USER ?? os.userInfo().username);
  if (command === 'layers') return importLayers(rest);
  if (command === 'sync' || command === 'repo') return repositoryCommand(command, rest, loadConfig(), process.env.ATELIER_USER ?? os.userInfo().username);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      spec: { type: 'string' },
      collection: { type: 'string' },
      key: { type: 'string' },
      name: { type: 'string' },
      description: { type: 'string' },
      recipient: { type: 'string' },
      seed: { type: 'string' },
      trait: { type: 'string', multiple: true },
      'layer-set': { type: 'string' },
      prompt: { type: 'string' },
      auto: { type: 'boolean' },
      approver: { type: 'string', multiple: true },
      remind: { type: 'string' },
      expire: { type: 'string' },
      'max-rounds': { type: 'string' },
      avif: { type: 'boolean' },
      by: { type: 'string' },
      round: { type: 'string' },
      draft: { type: 'string' },
      out: { type: 'string' },
      unsigned: { type: 'boolean' },
      comment: { type: 'string' },
      reason: { type: 'string' },
      stage: { type: 'string' },
      json: { type: 'boolean' },
      id: { type: 'string' },
    },
  });
  const config = loadConfig();
  const asset = () => {
    if (positionals.length !== 1) throw new UsageError(`${command} takes one <asset> (got ${positionals.length})`);
    return positionals[0]!;
  };
  const by = values.by ?? process.env.ATELIER_USER ?? os.userInfo().username;

  if (command === 'start') {
    const specs = values.spec ? readSpecFile(values.spec) : [specFromFlags(values)];
    const parsed = specs.map((spec, i) => {
      try {
        return parseAssetSpec(spec);
      } catch (error) {
        if (error instanceof SpecError && specs.length > 1) throw new SpecError(error.problems.map((p) => `[${i}] ${p}`));
        throw error;
      }
    });
    const client = await AtelierClient.connect(config);
    try {
      for (const spec of parsed) {
        const started = await client.start(spec);
        const words = {
          started: 'started',
          restarted: `started again (the earlier run ${started.previous?.runId} ended ${started.previous?.stage})`,
          running: 'already running',
          minted: 'already minted (nothing started)',
        }[started.outcome];
        console.log(`${words}  ${started.workflowId}  run ${started.runId}`);
      }
    } finally {
      await client.close();
    }
    return exit.ok;
  }

  if (command === 'keys') return newKeyFile(positionals, values.out);

  // `--key` is the asset key for `start` and the approver's key file for decisions.
  const signer = values.key && ['approve', 'reject'].includes(command) ? readKeyFile(values.key) : undefined;
  const decider = signer?.name ?? by;
  if (signer && values.by && values.by !== signer.name) throw new UsageError(`--by ${values.by} does not match the key file's approver (${signer.name})`);
  const sign = signer ? { secretKey: signer.secretKey, signer: 'approver' as const } : undefined;
  if (values.round !== undefined && !/^[1-9][0-9]{0,3}$/.test(values.round)) throw new UsageError(`--round expects a round number, got "${values.round}"`);
  const seen = { round: values.round === undefined ? undefined : Number(values.round), draftCid: values.draft };
  const client = await AtelierClient.connect(config);
  try {
    switch (command) {
      case 'approve': {
        const ref = asset();
        const taken = await client.approve(ref, { by: decider, via: 'cli', comment: values.comment, ...seen }, { sign });
        console.log(`approved ${ref} round ${taken.round} (draft ${taken.draftCid}) as ${decider}${taken.proof ? ', signed' : ''}`);
        return exit.ok;
      }
      case 'reject': {
        const ref = asset();
        if (!values.reason) throw new UsageError('reject needs --reason <text>: it is the feedback for the next round');
        const taken = await client.reject(ref, { by: decider, via: 'cli', comment: values.reason, ...seen }, { sign });
        console.log(`rejected ${ref} round ${taken.round} as ${decider}${taken.proof ? ', signed' : ''}: ${values.reason}`);
        return exit.ok;
      }
      case 'cancel': {
        const ref = asset();
        if (!values.reason?.trim()) throw new UsageError("cancel needs --reason <text>: it is kept in the run's history");
        const status = await client.cancel(ref, by, values.reason);
        console.log(`cancelling ${status.workflowId} (it was ${status.stage.replace('_', ' ')}); \`atelier status ${ref}\` shows when it has ended`);
        return exit.ok;
      }
      case 'status': {
        const status = await client.status(asset());
        console.log(values.json ? JSON.stringify(status, null, 2) : formatStatus(status));
        return status.stage === 'failed' ? exit.failed : exit.ok;
      }
      case 'event': {
        const [target, name, json, ...extra] = positionals;
        if (!target || !name || json === undefined || extra.length > 0) throw new UsageError('usage: atelier event <asset> <name> <json>');
        if (json.length > MAX_CHANGE_DATA_BYTES) throw new UsageError(`the event's JSON is ${json.length} bytes, over ${MAX_CHANGE_DATA_BYTES}`);
        let data: unknown;
        try {
          data = JSON.parse(json);
        } catch (error) {
          throw new UsageError(`the event's data is not JSON: ${(error as Error).message}`);
        }
        if (typeof data !== 'object' || data === null || Array.isArray(data))
          throw new UsageError('the event\'s data must be a JSON object, e.g. \'{"value":"gold"}\'');
        const id = values.id ?? `event:${name}:${randomUUID()}`;
        const record = await client.sendEvent(target, name, data as Record<string, unknown>, { by, id });
        console.log(
          `${record.outcome === 'queued' ? 'queued' : `already taken (${record.outcome})`}  ${record.id}  for ${target}; \`atelier history ${target}\` shows the versions`,
        );
        return exit.ok;
      }
      case 'history': {
        const history = await client.history(asset());
        if (values.json) console.log(JSON.stringify(history, null, 2));
        else {
          console.log(`${history.collectionId}/${history.assetKey}  token ${history.tokenId}  version ${history.version}`);
          printTable(
            ['version', 'metadata', 'traits', 'cause', 'tx', 'at'],
            history.versions.map((v) => [
              String(v.version),
              v.metadataCid,
              Object.entries(v.traits)
                .map(([k, o]) => `${k}=${o}`)
                .join(', '),
              v.cause.name,
              v.txHash ?? '',
              v.at,
            ]),
          );
          for (const q of history.queued) console.log(`queued  ${q.name}  ${q.id}  by ${q.by}`);
          for (const r of history.recent.filter((c) => c.outcome === 'failed')) console.log(`failed  ${r.name}  ${r.id}: ${r.detail}`);
        }
        return exit.ok;
      }
      case 'list': {
        if (values.stage && !stages.includes(values.stage as Stage)) throw new UsageError(`--stage must be one of ${stages.join(', ')}`);
        const rows = await client.list({ collection: values.collection, stage: values.stage as Stage | undefined });
        if (values.json) console.log(JSON.stringify(rows, null, 2));
        else
          printTable(
            ['asset', 'stage', 'approver', 'token', 'content cid', 'started'],
            rows.map((r) => [
              r.workflowId,
              r.stage ?? r.status.toLowerCase(),
              r.approver ?? '',
              r.tokenId?.toString() ?? '',
              r.contentCid ?? '',
              r.startTime.toISOString(),
            ]),
          );
        return exit.ok;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    await client.close();
  }
}

/** `layers import-hashlips <folder> --name <set> --order A,B,C [--size N] [--overwrite]`. */
async function importLayers(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, order: { type: 'string' }, size: { type: 'string' }, overwrite: { type: 'boolean' } },
  });
  const [verb, folder, extra] = positionals;
  if (verb !== 'import-hashlips' || !folder || extra !== undefined)
    throw new UsageError('usage: atelier layers import-hashlips <folder> --name <set> --order A,B,C');
  if (!values.name) throw new UsageError('layers import-hashlips needs --name <set>: the layer set folder it creates');
  const order = (values.order ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (order.length === 0) throw new UsageError("layers import-hashlips needs --order <Layer,Layer,...>: the layers bottom first, as in HashLips' layersOrder");
  if (values.size !== undefined && !/^[1-9][0-9]{1,3}$/.test(values.size)) throw new UsageError(`--size expects pixels (64-4096), got "${values.size}"`);
  try {
    const imported = await importHashLips({
      from: folder,
      name: values.name,
      order,
      size: values.size === undefined ? undefined : Number(values.size),
      overwrite: values.overwrite === true,
    });
    console.log(`imported ${imported.layers} layers, ${imported.options} options (${imported.combinations} combinations) into ${imported.dir}`);
  } catch (error) {
    throw new UsageError(`layers import-hashlips: ${(error as Error).message}`);
  }
  return exit.ok;
}

/** An approver key file as `atelier keys new` writes it. */
interface KeyFile {
  name: string;
  publicKey: string;
  secretKey: string;
}

function newKeyFile(positionals: string[], out: string | undefined): number {
  const [verb, name, extra] = positionals;
  if (verb !== 'new' || !name || extra !== undefined) throw new UsageError('usage: atelier keys new <name> [--out <file>]');
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name)) throw new UsageError(`"${name}" is not an approver name (letters, digits, . _ @ -)`);
  const file = out ?? path.join(os.homedir(), '.atelier', 'keys', `${name}.json`);
  if (fs.existsSync(file)) throw new UsageError(`${file} exists; choose another --out (a key is never overwritten)`);
  const pair = newDecisionKey();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, JSON.stringify({ name, publicKey: pair.publicKey, secretKey: pair.secretKey }, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  console.log(`key of ${name} written to ${file} (keep it private)`);
  console.log(`public key: ${pair.publicKey}`);
  console.log(`in a spec:  "approval": { "policy": "manual", "approvers": ["${name}"], "keys": { "${name}": "${pair.publicKey}" } }`);
  return exit.ok;
}

function readKeyFile(file: string): KeyFile {
  let parsed: Partial<KeyFile>;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<KeyFile>;
  } catch (error) {
    // Not the parser's message: it quotes the text around the error, which may be the secret.
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read key file ${file}: ${code ?? 'not valid JSON'}`);
  }
  // The secret is never echoed, not even when malformed.
  if (typeof parsed.name !== 'string' || !isHexKey(parsed.secretKey, 32))
    throw new UsageError(`${file} is not an approver key file (atelier keys new <name> makes one)`);
  if (parsed.publicKey !== publicKeyOf(parsed.secretKey)) throw new UsageError(`${file}: its public key does not belong to its secret key`);
  return { name: parsed.name, publicKey: parsed.publicKey, secretKey: parsed.secretKey };
}

function readSpecFile(file: string): unknown[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read spec file ${file}: ${(error as Error).message}`);
  }
  try {
    const json = JSON.parse(text);
    return Array.isArray(json) ? json : [json];
  } catch (error) {
    throw new UsageError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function specFromFlags(values: Record<string, string | boolean | string[] | undefined>): unknown {
  const get = (name: string) => values[name] as string | undefined;
  const number = (name: string) => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} expects a whole number, got "${raw}"`);
    return Number(raw);
  };
  const traits: Record<string, string> = {};
  for (const pair of (values.trait as string[] | undefined) ?? []) {
    const [layer, option, extra] = pair.split('=');
    if (!layer || !option || extra !== undefined) throw new UsageError(`--trait expects layer=option, got "${pair}"`);
    traits[layer] = option;
  }
  const prompt = get('prompt');
  return {
    collectionId: get('collection'),
    assetKey: get('key'),
    name: get('name'),
    description: get('description'),
    recipient: get('recipient'),
    generator: prompt ? { kind: 'openai', prompt, seed: number('seed') } : { kind: 'layers', layerSet: get('layer-set'), traits, seed: number('seed') ?? 0 },
    renditions: values.avif ? ['original', 'webp-1024', 'webp-512', 'thumb-256', 'avif-1024'] : undefined,
    approval: values.auto
      ? { policy: 'auto' }
      : {
          policy: 'manual',
          ...approversFromFlags(values.approver as string[] | undefined),
          unsigned: values.unsigned === true ? true : undefined,
          remindAfter: get('remind'),
          expireAfter: get('expire'),
          maxRounds: number('max-rounds'),
        },
  };
}

/** `--approver maria` names an approver; `--approver maria=<public key>` also names their key. */
function approversFromFlags(flags: string[] | undefined): { approvers?: string[]; keys?: Record<string, string> } {
  if (!flags) return {};
  const keys: Record<string, string> = {};
  const approvers = flags.map((flag) => {
    const [name, key, extra] = flag.split('=');
    if (!name || extra !== undefined || key === '') throw new UsageError(`--approver expects <name> or <name>=<public key>, got "${flag}"`);
    if (key !== undefined) keys[name] = key;
    return name;
  });
  return { approvers, keys };
}

export function formatStatus(status: AssetStatus): string {
  const lines = [
    `asset      ${status.workflowId}`,
    `stage      ${status.stage}${status.error ? ` (${status.error})` : ''}`,
    `round      ${status.round}`,
    `draft      ${status.draftCid ?? '-'}`,
    `metadata   ${status.metadataCid ?? '-'}`,
    `token      ${status.tokenId ?? '-'}${status.txHash ? `  tx ${status.txHash}` : ''}`,
    `approver   ${status.approver ?? '-'}`,
  ];
  if (status.deadlines) lines.push(`deadlines  reminder ${status.deadlines.remindAt}, expires ${status.deadlines.expireAt}`);
  if (status.waitingFor) lines.push(`waiting    ${status.waitingFor}`);
  if (status.noticeProblem) lines.push(`notice     ${status.noticeProblem}`);
  if (status.cancelled) lines.push(`cancelled  by ${status.cancelled.by} at ${status.cancelled.at}: ${status.cancelled.reason}`);
  if (status.earlierRuns.length > 0) lines.push(`earlier    ${status.earlierRuns.join(', ')}`);
  if (status.decisions.length > 0) {
    lines.push('decisions');
    for (const d of status.decisions) {
      lines.push(
        `  round ${d.round}  ${d.kind.padEnd(7)} by ${d.by} via ${d.via} at ${d.at}${d.proof ? ' (signed)' : ''}${d.comment ? ` — "${d.comment}"` : ''}`,
      );
    }
  }
  return lines.join('\n');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof CollectionUsageError || error instanceof RepositoryUsageError)
      console.error(`atelier: ${error.message}\n\n${usage}`);
    else console.error(`atelier: ${error instanceof Error ? error.message : String(error)}`);
    const code =
      error instanceof UsageError ||
      error instanceof CollectionUsageError ||
      error instanceof RepositoryUsageError ||
      error instanceof RepositoryRefused ||
      error instanceof SpecError ||
      error instanceof ConfigError ||
      (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? exit.badInput
        : error instanceof DecisionRefused || error instanceof CollectionRefused || error instanceof ChangeRefused
          ? exit.refused
          : error instanceof AssetNotFound || error instanceof CollectionNotFound
            ? exit.notFound
            : exit.failed;
    process.exit(code);
  },
);
