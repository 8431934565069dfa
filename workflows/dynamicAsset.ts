// A dynamic asset after its mint: takes changes (an event sent through the client or the CLI, a
// Schedule's tick, a Transfer read from the chain), queues them and applies them in order, one at a
// time. A change that selects other options is one refresh run (assetLifecycle with `refresh`): draw,
// checks, approval if the spec asks for one, format, pin, then `updateContent` on chain. Versions
// are kept here and in each version's metadata (version number, earlier metadata CIDs).
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  executeChild,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { AssetResult, AssetSpec, DynamicAssetInput, DynamicState } from '../common/asset.ts';
import type { AssetChangeInput, ChangeRecord, DynamicSpec, DynamicStatus, DynamicTrait } from '../common/dynamic.ts';
import { changeRefusal, MAX_QUEUED_CHANGES, optionFor, traitsFedBy } from '../common/dynamic.ts';
import { checkSpec } from '../common/specSchema.ts';
import type { Activities } from '../activities/index.ts';
import { quickCalls } from './activityOptions.ts';
import { failureMessage } from './failures.ts';
import type { RefreshOptions } from './assetLifecycle.ts';
import { assetChangeUpdate, dynamicStatusQuery } from './messages.ts';

const { registerChangeSources } = proxyActivities<Activities>(quickCalls);

/** Changes kept in `recent`, and change ids remembered to take a repeated one once. */
const RECENT_CHANGES = 100;
/** Versions whose metadata CIDs a new version lists. */
const PREVIOUS_LISTED = 50;
/** Changes taken before the workflow continues as new (its history stays small whatever the server suggests). */
const CHANGES_PER_RUN = 200;

export async function dynamicAsset(input: DynamicAssetInput): Promise<void> {
  const checked = checkSpec(input.spec);
  if (!checked.ok || !checked.spec.dynamic) throw ApplicationFailure.nonRetryable('not a dynamic asset spec', 'InvalidSpec');
  const spec = checked.spec;
  const dynamic = spec.dynamic!;
  const { collectionId, assetKey } = spec;
  const state: DynamicState = input.state ?? firstState(input, dynamic);
  let taken = 0;

  const knownRecord = (id: string) => state.queue.find((q) => q.change.id === id)?.record ?? state.recent.find((r) => r.id === id);
  const status = (): DynamicStatus => ({
    workflowId: workflowInfo().workflowId,
    collectionId,
    assetKey,
    tokenId: input.tokenId,
    version: state.versions.at(-1)!.version,
    versions: state.versions,
    queued: state.queue.map((q) => q.record),
    recent: state.recent,
    counters: state.counters,
  });
  const showDetails = () => {
    const now = status();
    setCurrentDetails(
      [
        `**${spec.name}** · ${collectionId}/${assetKey} · token ${input.tokenId}`,
        `Version **${now.version}** · metadata \`${state.versions.at(-1)!.metadataCid}\``,
        `Queued changes: ${now.queued.length}${now.queued.length ? ` (next: ${now.queued[0]!.name})` : ''}`,
      ].join('\n\n'),
    );
  };

  setHandler(dynamicStatusQuery, status);
  setHandler(
    assetChangeUpdate,
    (change: AssetChangeInput): ChangeRecord => {
      // The same id again (a retried delivery, a replayed block) is the change already taken.
      const known = knownRecord(change.id);
      if (known) return known;
      const record: ChangeRecord = {
        id: change.id,
        name: change.name,
        by: change.by,
        receivedAt: new Date().toISOString(),
        outcome: 'queued',
        version: null,
        detail: null,
      };
      state.queue.push({ change: { id: change.id, name: change.name, data: change.data, by: change.by }, record });
      showDetails();
      return record;
    },
    {
      validator: (raw: unknown) => {
        const why = changeRefusal(dynamic, raw);
        if (why) throw new Error(why);
        if (state.queue.length >= MAX_QUEUED_CHANGES && !knownRecord((raw as AssetChangeInput).id))
          throw new Error(`${MAX_QUEUED_CHANGES} changes are already queued for ${collectionId}/${assetKey}: try again once some are applied`);
      },
    },
  );
  showDetails();

  // Schedules and the chain watcher feed this workflow; set up once, on the first run.
  if (!input.state && dynamic.traits.some((t) => t.source.kind !== 'event')) {
    await registerChangeSources.executeWithOptions({ ...quickCalls, summary: 'Schedules and the chain watcher for the dynamic traits' }, [
      { collectionId, assetKey, tokenId: input.tokenId, dynamic, taskQueue: workflowInfo().taskQueue },
    ]);
  }

  for (;;) {
    await condition(() => state.queue.length > 0 || taken >= CHANGES_PER_RUN || workflowInfo().continueAsNewSuggested);
    if (state.queue.length === 0 || taken >= CHANGES_PER_RUN || workflowInfo().continueAsNewSuggested) break;
    const { change, record } = state.queue[0]!;
    await apply(change, record);
    state.queue.shift();
    state.recent = [...state.recent, record].slice(-RECENT_CHANGES);
    taken++;
    showDetails();
  }
  // Changes that arrive meanwhile are queued in state and carried over.
  await condition(allHandlersFinished);
  await continueAsNew<typeof dynamicAsset>({ ...input, state });

  async function apply(change: AssetChangeInput, record: ChangeRecord): Promise<void> {
    const next = { ...state.current };
    for (const trait of traitsFedBy(dynamic, change.name)) {
      const option = optionFor(trait, valueOf(trait, change));
      if (option !== undefined) next[trait.name] = option;
    }
    if (dynamic.traits.every((t) => next[t.name] === state.current[t.name])) {
      record.outcome = 'unchanged';
      record.detail = 'the traits it selects are drawn already';
      return;
    }
    const last = state.versions.at(-1)!;
    const version = last.version + 1;
    const refresh: RefreshOptions = {
      tokenId: input.tokenId,
      version,
      previous: state.versions
        .map((v) => v.metadataCid)
        .reverse()
        .slice(0, PREVIOUS_LISTED),
      cause: change.name,
    };
    const workflowId = `refresh:${collectionId}:${assetKey}:${version}`;
    try {
      const result = await executeChild<(spec: AssetSpec, options: { refresh: RefreshOptions }) => Promise<AssetResult>>('assetLifecycle', {
        workflowId,
        args: [refreshSpec(spec, dynamic, input.drawn, next), { refresh }],
        staticSummary: `${collectionId}/${assetKey} version ${version} (${change.name})`,
      });
      if (result.stage !== 'updated' || !result.metadataCid) {
        record.outcome = 'failed';
        record.detail = `the refresh ${workflowId} ended ${result.stage}${result.error ? `: ${result.error}` : ''}`;
        return;
      }
      state.versions.push({
        version,
        metadataCid: result.metadataCid,
        imageCid: result.imageCid,
        traits: next,
        cause: { name: change.name, id: change.id, by: change.by },
        workflowId,
        txHash: result.txHash,
        at: new Date().toISOString(),
      });
      state.current = next;
      record.outcome = 'applied';
      record.version = version;
    } catch (error) {
      record.outcome = 'failed';
      record.detail = `the refresh ${workflowId} failed: ${failureMessage(error)}`;
      log.warn('refresh failed', { change: change.id, error: record.detail });
    }
  }

  /** Events carry their value; a Schedule's tick and a transfer count (the first one is 1). */
  function valueOf(trait: DynamicTrait, change: AssetChangeInput): unknown {
    if (trait.source.kind === 'event') return change.data[trait.source.field];
    state.counters[trait.name] = (state.counters[trait.name] ?? 0) + 1;
    return state.counters[trait.name];
  }
}

function firstState(input: DynamicAssetInput, dynamic: DynamicSpec): DynamicState {
  const current = Object.fromEntries(dynamic.traits.filter((t) => input.drawn[t.name] !== undefined).map((t) => [t.name, input.drawn[t.name]!]));
  return {
    versions: [
      {
        version: 1,
        metadataCid: input.metadataCid,
        imageCid: input.imageCid,
        traits: current,
        cause: { name: 'mint', id: null, by: input.mintWorkflowId },
        workflowId: input.mintWorkflowId,
        txHash: input.txHash,
        at: new Date().toISOString(),
      },
    ],
    counters: {},
    queue: [],
    recent: [],
    current,
  };
}

/**
 * The spec a refresh draws: the same asset with the dynamic traits' options. Layers keep every
 * other option version 1 drew; a prompt gains each option's text; approval is the spec's rule when
 * `dynamic.approval` is manual, else the checks alone.
 */
function refreshSpec(spec: AssetSpec, dynamic: DynamicSpec, drawn: Record<string, string>, options: Record<string, string>): AssetSpec {
  const { dynamic: _dynamic, ...rest } = spec;
  const approval = dynamic.approval === 'manual' ? spec.approval : ({ policy: 'auto' } as const);
  const chosen = dynamic.traits.filter((t) => options[t.name] !== undefined);
  if (spec.generator.kind === 'layers') {
    return { ...rest, approval, generator: { ...spec.generator, traits: { ...spec.generator.traits, ...drawn, ...options } } };
  }
  if (spec.generator.kind === 'openai') {
    const additions = chosen.map((t) => options[t.name]!).join('. ');
    const attributes = [
      ...spec.attributes.filter((a) => !chosen.some((t) => t.name === a.trait_type)),
      ...chosen.map((t) => ({ trait_type: t.name, value: options[t.name]! })),
    ];
    return {
      ...rest,
      approval,
      attributes,
      generator: { ...spec.generator, prompt: additions ? `${spec.generator.prompt}. ${additions}` : spec.generator.prompt },
    };
  }
  return { ...rest, approval };
}
