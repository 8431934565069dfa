// Dynamic assets: traits that change after the mint, each fed by one source (an event sent through
// the client or the CLI, a Temporal Schedule, or a Transfer read from the chain). Pure code: the
// spec's shape, the mapping from a source's value to what is drawn, and the checks of a change.
import { z } from 'zod';

/** A source's value becomes one option of the trait: exact (`map` key) or the highest threshold reached (`atLeast`). */
export type DynamicMatch = 'exact' | 'atLeast';

export type DynamicSource =
  /** A named event carrying JSON (a game server reports a milestone): the value is `data[field]`. */
  | { kind: 'event'; event: string; field: string }
  /** A Temporal Schedule ticking every `every`: the value is the number of ticks so far (1, 2, ...). */
  | { kind: 'schedule'; every: string }
  /** The token's ERC-721 Transfers, read from the chain: the value is the number of transfers after the mint. */
  | { kind: 'chain'; event: 'Transfer' };

export interface DynamicTrait {
  /** The layer it changes (layers generator) or the trait's name in the metadata (openai: the prompt gains the option's text). */
  name: string;
  source: DynamicSource;
  match: DynamicMatch;
  /** Value (or threshold) -> the layer option drawn, or the text added to the prompt. */
  options: Record<string, string>;
}

export interface DynamicSpec {
  traits: DynamicTrait[];
  /** `manual`: each refresh goes before a person with the asset's approval rule; `auto`: checks only. */
  approval: 'auto' | 'manual';
}

/** One change waiting to be applied, as the asset's dynamic workflow takes it. */
export interface AssetChangeInput {
  /** Idempotency key: the same id twice is one change (a retried delivery, a replayed block). */
  id: string;
  /** The event's name (event source), `schedule:<trait>` or `chain:Transfer`. */
  name: string;
  data: Record<string, unknown>;
  /** Who or what sent it, for the history. */
  by: string;
}

export interface AssetVersion {
  version: number;
  metadataCid: string;
  imageCid: string | null;
  /** The traits drawn for this version (dynamic ones included). */
  traits: Record<string, string>;
  /** What caused it: `mint`, or the change's name and id. */
  cause: { name: string; id: string | null; by: string };
  /** The run that made it: the refresh run, or for version 1 the mint's run. */
  workflowId: string;
  txHash: string | null;
  at: string;
}

export interface ChangeRecord {
  id: string;
  name: string;
  by: string;
  receivedAt: string;
  /** `applied` made a version; `unchanged` mapped to the options already drawn; `failed` says why. */
  outcome: 'queued' | 'applied' | 'unchanged' | 'failed';
  version: number | null;
  detail: string | null;
}

export interface DynamicStatus {
  workflowId: string;
  collectionId: string;
  assetKey: string;
  tokenId: string;
  /** The version whose metadata the token points at. */
  version: number;
  versions: AssetVersion[];
  /** Changes not applied yet, oldest first. */
  queued: ChangeRecord[];
  /** The last 100 changes taken (applied, unchanged or failed). */
  recent: ChangeRecord[];
  /** Number of ticks / transfers counted so far, by trait. */
  counters: Record<string, number>;
}

/** Dynamic-workflow message names that activities use without importing workflow code. */
export const dynamicMessageNames = { change: 'change', status: 'dynamicStatus' } as const;

/** The asset's dynamic workflow: one per asset, started when the asset is minted. */
export const dynamicWorkflowIdOf = (collectionId: string, assetKey: string) => `dynamic:${collectionId}:${assetKey}`;
/** The Schedule that ticks one trait of one asset. */
export const dynamicScheduleIdOf = (collectionId: string, assetKey: string, trait: string) => `dynamic:${collectionId}:${assetKey}:${trait}`;

export const MAX_CHANGE_DATA_BYTES = 4096;
export const MAX_QUEUED_CHANGES = 100;
/** A Schedule ticks at most once a minute and at least once a year: minutes, hours or days, as Temporal reads them. */
const every = z
  .string()
  .regex(/^[1-9][0-9]{0,5}(m|h|d)$/, 'expected a period such as 15m, 4h or 30d')
  .refine((d) => Number(d.slice(0, -1)) * { m: 1, h: 60, d: 1440 }[d.at(-1) as 'm' | 'h' | 'd'] <= 366 * 1440, 'expected at most 366d');
const eventName = z.string().regex(/^[a-z][a-z0-9_.-]{0,62}$/, 'expected an event name: lowercase letters, digits, _ . - (at most 63)');

const sourceSchema = z.discriminatedUnion(
  'kind',
  [
    z.object({ kind: z.literal('event'), event: eventName, field: z.string().min(1).max(64).default('value') }).strict(),
    z.object({ kind: z.literal('schedule'), every }).strict(),
    z.object({ kind: z.literal('chain'), event: z.literal('Transfer', { message: 'expected "Transfer" (the only chain event read so far)' }) }).strict(),
  ],
  { error: () => 'expected source.kind "event", "schedule" or "chain"' },
);

export const dynamicSchema = z
  .object({
    traits: z
      .array(
        z
          .object({
            name: z.string().min(1).max(100),
            source: sourceSchema,
            match: z.enum(['exact', 'atLeast']).default('exact'),
            options: z
              .record(z.string().min(1).max(100), z.string().min(1).max(500))
              .refine((o) => Object.keys(o).length >= 1 && Object.keys(o).length <= 100, {
                message: 'expected 1-100 options',
              }),
          })
          .strict()
          .superRefine((trait, ctx) => {
            if (trait.match === 'atLeast' && Object.keys(trait.options).some((k) => !/^(0|[1-9][0-9]{0,8})$/.test(k)))
              ctx.addIssue({ code: 'custom', path: ['options'], message: '"atLeast" options are keyed by whole numbers (thresholds)' });
          }),
      )
      .min(1)
      .max(10)
      .superRefine((traits, ctx) => {
        const names = traits.map((t) => t.name);
        const repeated = names.find((n, i) => names.indexOf(n) !== i);
        if (repeated) ctx.addIssue({ code: 'custom', message: `trait "${repeated}" is declared twice` });
      }),
    approval: z.enum(['auto', 'manual']).default('auto'),
  })
  .strict();

/**
 * The option a value selects, or undefined when none does: `exact` takes the key equal to the value;
 * `atLeast` the highest numeric key not above it.
 */
export function optionFor(trait: DynamicTrait, value: unknown): string | undefined {
  if (trait.match === 'exact') {
    if (typeof value !== 'string' && typeof value !== 'number') return undefined;
    const key = String(value);
    return Object.hasOwn(trait.options, key) ? trait.options[key] : undefined;
  }
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) return undefined;
  let best: number | undefined;
  for (const key of Object.keys(trait.options)) {
    const threshold = Number(key);
    if (threshold <= n && (best === undefined || threshold > best)) best = threshold;
  }
  return best === undefined ? undefined : trait.options[String(best)];
}

/** Why a change is refused, or undefined: size, shape and names (pure; the workflow's Update validator and the CLI share it). */
export function changeRefusal(dynamic: DynamicSpec, raw: unknown): string | undefined {
  const input = raw as Partial<AssetChangeInput> | null;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'a change must be an object { id, name, data, by }';
  if (typeof input.id !== 'string' || !/^[\w:.@/-]{1,200}$/.test(input.id)) return '"id" must be 1-200 letters, digits or _ : . @ / -';
  if (typeof input.by !== 'string' || !input.by.trim() || input.by.length > 200) return '"by" must name who sends the change (at most 200 characters)';
  if (typeof input.name !== 'string') return '"name" must be a string';
  if (typeof input.data !== 'object' || input.data === null || Array.isArray(input.data)) return '"data" must be a JSON object';
  let size: number;
  try {
    size = JSON.stringify(input.data).length;
  } catch {
    return '"data" must be plain JSON';
  }
  if (size > MAX_CHANGE_DATA_BYTES) return `"data" is ${size} bytes of JSON, over ${MAX_CHANGE_DATA_BYTES}`;
  const traits = traitsFedBy(dynamic, input.name);
  if (traits.length === 0) {
    const known = [...new Set(dynamic.traits.filter((t) => t.source.kind === 'event').map((t) => (t.source as { event: string }).event))];
    return `no dynamic trait listens to "${input.name}" (events: ${known.join(', ') || 'none'})`;
  }
  for (const trait of traits) {
    if (trait.source.kind !== 'event') continue;
    const value = input.data[trait.source.field];
    if (optionFor(trait, value) === undefined)
      return `trait "${trait.name}": ${JSON.stringify(value ?? null)} in "${trait.source.field}" selects no option (${trait.match === 'exact' ? 'one of' : 'at least'} ${Object.keys(trait.options).join(', ')})`;
  }
  return undefined;
}

/** The traits a change's name feeds: an event's listeners, `schedule:<trait>`, or `chain:Transfer`. */
export function traitsFedBy(dynamic: DynamicSpec, name: string): DynamicTrait[] {
  return dynamic.traits.filter((t) =>
    t.source.kind === 'event' ? t.source.event === name : t.source.kind === 'schedule' ? name === `schedule:${t.name}` : name === `chain:${t.source.event}`,
  );
}
