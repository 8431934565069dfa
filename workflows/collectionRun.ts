// A collection: N unique assets from one spec. It plans the DNA, runs the asset workflows as
// children through a sliding window, publishes the provenance hash once every image is final, then
// lets the assets mint in collection order, one minter batch at a time. See docs/collections.md.
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { workflowIdOf } from '../common/asset.ts';
import type {
  CarriedCollectionState,
  CollectionAssetEvent,
  CollectionInput,
  CollectionPhase,
  CollectionProgress,
  CollectionReportRef,
  CollectionResult,
  Published,
} from '../common/collection.ts';
import { codeOfFinalStage, countCodes, endedCodes, preparingCodes } from '../common/collection.ts';
import { assetSpecOf, checkCollectionSpec } from '../common/collectionSpec.ts';
import { deriveDna, sampleIndices, traitsOfDna } from '../common/dna.ts';
import { AtelierCollection, AtelierStage } from '../common/searchAttributes.ts';
import type { Activities } from '../activities/index.ts';
import { assetLifecycle } from './assetLifecycle.ts';
import { carryOutReveal, revealCollectionUpdate, revealRefusal, startReveal } from './collectionReveal.ts';
import { collectionPublishing, configLookup, pinning } from './activityOptions.ts';
import {
  approveRestUpdate,
  cancelCollectionUpdate,
  collectionAssetSignal,
  collectionProgressQuery,
  mintTurnSignal,
  pauseCollectionUpdate,
  resumeCollectionUpdate,
  retryFailedUpdate,
} from './messages.ts';

const { collectionSettings, collectionStructure } = proxyActivities<Activities>(configLookup);
// The contact sheet is image work: it runs on the images queue (workflows/activityOptions.ts).
const { publishCollection } = proxyActivities<Activities>(collectionPublishing);
const { collectionReport } = proxyActivities<Activities>({ ...pinning, startToCloseTimeout: '30 minutes' });

/** Continue-as-new past this many history events (Temporal's limit is 51,200). */
const DEFAULT_HISTORY_LIMIT = 10_000;
/** A settled collection with failed assets waits this long for `retryFailed` before it completes. */
const SETTLED_WAIT = '7 days';
const MAX_FAILURES_KEPT = 100;

export async function collectionRun(input: CollectionInput): Promise<CollectionResult> {
  const checked = checkCollectionSpec(input?.spec);
  if (!checked.ok) throw ApplicationFailure.nonRetryable(`invalid collection spec: ${checked.problems.join('; ')}`, 'InvalidCollectionSpec');
  const spec = checked.spec;
  const info = workflowInfo();
  const carried = input.state;
  const historyLimit = Math.max(200, Math.min(DEFAULT_HISTORY_LIMIT * 4, input.historyLimit ?? DEFAULT_HISTORY_LIMIT));

  // Answered from the first moment (the plan below reads the layer set first).
  const begun = carried?.startedAt ?? Date.now();
  setHandler(collectionProgressQuery, () => planningProgress(spec, info.workflowId, begun, carried?.runs ?? 1));
  const structure = carried?.structure ?? (await collectionStructure({ generator: spec.generator }));
  // The same seed and structure give the same DNA in every run: it is derived, never carried.
  const plan = deriveDna(structure, spec.size, spec.seed);
  if (!plan.ok) throw ApplicationFailure.nonRetryable(`collection ${spec.id} cannot be made: ${plan.reason}`, 'ImpossibleCollection');
  const dna = plan.dna;
  const settings = carried?.settings ?? (await collectionSettings());
  const concurrency = spec.concurrency ?? settings.concurrency;
  const samples = spec.approval.mode === 'sample' ? sampleIndices(spec.size, spec.approval.sampleSize, spec.seed) : [];
  const sampled = new Set(samples);

  const codes: string[] = carried ? carried.codes.split('') : Array.from({ length: spec.size }, (_, i) => (samples.length && !sampled.has(i) ? 'h' : '.'));
  const state: Omit<CarriedCollectionState, 'codes' | 'structure' | 'settings'> = carried
    ? { ...carried }
    : { failures: [], failed: 0, published: null, released: null, cancelled: null, paused: false, startedAt: begun, runs: 1 };
  let phase: CollectionPhase = 'preparing';
  let report: CollectionReportRef | null = null;
  /** Indices released to mint and not yet ended: the current minter batch. */
  let changed = true;
  const touch = () => {
    changed = true;
  };

  const keyOf = (index: number) => String(index + 1);
  const progress = (): CollectionProgress => {
    const counts = countCodes(codes);
    const ended = counts.minted + counts.rejected + counts.expired + counts.cancelled + counts.failed;
    const elapsedSeconds = Math.max(0, (Date.now() - state.startedAt) / 1000);
    const ratePerMinute = elapsedSeconds > 0 ? (ended / elapsedSeconds) * 60 : 0;
    return {
      workflowId: info.workflowId,
      id: spec.id,
      name: spec.name,
      size: spec.size,
      phase,
      paused: state.paused,
      counts,
      failures: state.failures.map((f) => ({ assetKey: keyOf(f.index), reason: f.reason })),
      failed: state.failed,
      sample: samples.length ? { assetKeys: samples.map(keyOf), released: state.released } : null,
      ratePerMinute: Math.round(ratePerMinute * 100) / 100,
      etaSeconds: ended > 0 && ratePerMinute > 0 ? Math.round(((spec.size - ended) / ratePerMinute) * 60) : null,
      startedAt: new Date(state.startedAt).toISOString(),
      elapsedSeconds: Math.round(elapsedSeconds),
      published: state.published,
      report,
      cancelled: state.cancelled,
      runs: state.runs,
      concurrency,
      reveal: state.reveal ?? null,
    };
  };
  const showProgress = () => setCurrentDetails(detailsOf(progress()));

  setHandler(collectionProgressQuery, progress);
  setHandler(collectionAssetSignal, (raw: unknown) => {
    const event = assetEventShape(raw, spec.size);
    if (typeof event === 'string') return void log.warn('collection asset event ignored', { reason: event });
    const code = codes[event.index]!;
    if (endedCodes.includes(code) || code === '.' || code === 'h') {
      // Reports of a run the collection has not started (or already counted as ended) change nothing.
      return void log.warn('collection asset event for an asset not running here ignored', { index: event.index, code, event: event.event });
    }
    if (event.event === 'awaiting_approval') codes[event.index] = 'a';
    else if (event.event === 'ready') codes[event.index] = code === 'm' || code === 'q' ? code : 'r';
    else if (event.event === 'requested') codes[event.index] = code === 'm' ? 'q' : code;
    else {
      const ended = codeOfFinalStage(event.stage!)!;
      codes[event.index] = ended;
      if (ended === 'f') {
        state.failed++;
        state.failures = [...state.failures.slice(-(MAX_FAILURES_KEPT - 1)), { index: event.index, reason: (event.error ?? 'failed').slice(0, 500) }];
      }
    }
    touch();
  });
  const decisionRefusal = (raw: unknown) => {
    const problem = decisionShape(raw);
    if (problem) throw new Error(problem);
  };
  const settledOrCancelling = () => ['cancelling', 'completed', 'cancelled'].includes(phase);
  setHandler(
    pauseCollectionUpdate,
    () => {
      state.paused = true;
      touch();
      return progress();
    },
    {
      validator: (raw: unknown) => {
        decisionRefusal(raw);
        if (settledOrCancelling()) throw new Error(`collection ${spec.id} is ${phase}`);
        if (state.paused) throw new Error(`collection ${spec.id} is already paused`);
      },
    },
  );
  setHandler(
    resumeCollectionUpdate,
    () => {
      state.paused = false;
      touch();
      return progress();
    },
    {
      validator: (raw: unknown) => {
        decisionRefusal(raw);
        if (!state.paused) throw new Error(`collection ${spec.id} is not paused`);
      },
    },
  );
  setHandler(
    cancelCollectionUpdate,
    (raw) => {
      state.cancelled = { by: raw.by, reason: raw.reason, at: new Date().toISOString() };
      touch();
      return progress();
    },
    {
      validator: (raw: unknown) => {
        const r = raw as { by?: unknown; reason?: unknown } | null;
        decisionRefusal(raw);
        if (typeof r?.reason !== 'string' || !r.reason.trim() || r.reason.length > 2000) throw new Error('"reason" must say why (1-2000 characters)');
        if (state.cancelled) throw new Error(`collection ${spec.id} is already cancelled`);
        if (phase === 'completed' || phase === 'cancelled') throw new Error(`collection ${spec.id} has ended (${phase})`);
        if (phase === 'revealing') throw new Error(`collection ${spec.id} is being revealed: its transaction is under way`);
      },
    },
  );
  setHandler(
    retryFailedUpdate,
    () => {
      let retried = 0;
      codes.forEach((c, i) => {
        if (c === 'f') {
          codes[i] = '.';
          retried++;
        }
      });
      state.failures = [];
      touch();
      return retried;
    },
    {
      validator: (raw: unknown) => {
        decisionRefusal(raw);
        if (settledOrCancelling() || state.cancelled) throw new Error(`collection ${spec.id} is ${state.cancelled ? 'cancelled' : phase}`);
        if (!codes.includes('f')) throw new Error(`collection ${spec.id} has no failed asset`);
      },
    },
  );
  setHandler(
    approveRestUpdate,
    (raw) => {
      state.released = { by: raw.by, at: new Date().toISOString(), comment: raw.comment ?? '' };
      codes.forEach((c, i) => {
        if (c === 'h') codes[i] = '.';
      });
      touch();
      return progress();
    },
    { validator: (raw: unknown) => releaseRefusal(raw) },
  );
  setHandler(
    revealCollectionUpdate,
    (raw) => {
      state.reveal!.requested = { by: raw.by, at: new Date().toISOString() };
      state.reveal!.refused = null;
      touch();
      return progress();
    },
    {
      validator: (raw: unknown) => {
        decisionRefusal(raw);
        const refusal = revealRefusal(spec, state.reveal, phase, { cancelled: Boolean(state.cancelled), report });
        if (refusal) throw new Error(refusal);
      },
    },
  );

  function releaseRefusal(raw: unknown): void {
    decisionRefusal(raw);
    if (spec.approval.mode !== 'sample')
      throw new Error(`collection ${spec.id} approves ${spec.approval.mode === 'auto' ? 'automatically' : 'each asset'}, not by sample`);
    if (state.released) throw new Error(`collection ${spec.id} was already released by ${state.released.by}`);
    if (state.cancelled) throw new Error(`collection ${spec.id} is cancelled`);
    const by = (raw as { by: string }).by;
    const approvers = spec.approval.approvers;
    if (approvers.length > 0 && !approvers.includes(by)) throw new Error(`${by} may not release collection ${spec.id} (approvers: ${approvers.join(', ')})`);
    const undecided = samples.filter((i) => !['r', 'm', 'q', 'M'].includes(codes[i]!));
    if (undecided.length > 0) {
      const described = undecided.slice(0, 10).map((i) => `#${keyOf(i)} ${describeCode(codes[i]!)}`);
      throw new Error(`the sample is not approved yet: ${described.join(', ')}${undecided.length > 10 ? ` and ${undecided.length - 10} more` : ''}`);
    }
  }

  upsertSearchAttributes([
    { key: AtelierCollection, value: spec.id },
    { key: AtelierStage, value: phase },
  ]);
  // A collection that reveals later mints every token with one placeholder, pinned before any asset starts.
  if (spec.reveal && !state.reveal) state.reveal = await startReveal(spec);
  try {
    await run();
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // Cancelled through Temporal (not the Update): the same orderly end.
    state.cancelled ??= { by: 'temporal', reason: 'cancel requested', at: new Date().toISOString() };
    await CancellationScope.nonCancellable(() => cancelAll());
  }
  return { phase: state.cancelled ? 'cancelled' : 'completed', minted: countCodes(codes).minted, size: spec.size, published: state.published, report };

  async function run(): Promise<void> {
    for (;;) {
      if (state.cancelled) return cancelAll();
      await startChildren();
      if (!state.published && nothingPreparing() && codes.includes('r')) {
        await publish();
        continue;
      }
      if (state.published && !state.paused) await releaseNextChunk();
      if (allEnded()) {
        if (state.failed > 0 && codes.includes('f')) {
          setPhase('settled');
          // Failed assets may be retried; a collection nobody retries completes after SETTLED_WAIT (or
          // when asked to reveal: that ends the wait for retries).
          const woken = () => !codes.every(isEnded) || Boolean(state.cancelled);
          if ((await condition(() => woken() || Boolean(state.reveal?.requested), SETTLED_WAIT)) && woken()) continue;
        }
        if (await finish('completed')) return;
        continue;
      }
      setPhase(state.published ? 'minting' : 'preparing');
      if (workflowInfo().historyLength > historyLimit || workflowInfo().continueAsNewSuggested) return carryOn();
      changed = false;
      showProgress();
      await condition(() => changed);
    }
  }

  /** Starts assets while the window has room (not while paused or cancelling). */
  async function startChildren(): Promise<void> {
    if (state.paused || state.cancelled) return;
    const room = concurrency - codes.filter((c) => preparingCodes.includes(c)).length;
    if (room <= 0) return;
    const next: number[] = [];
    for (let i = 0; i < codes.length && next.length < room; i++) if (codes[i] === '.') next.push(i);
    if (next.length === 0) return;
    for (const i of next) codes[i] = 'g';
    await Promise.all(next.map((i) => startAsset(i)));
    showProgress();
  }

  async function startAsset(index: number): Promise<void> {
    const traits = traitsOfDna(structure, dna[index]!);
    const assetSpec = assetSpecOf(spec, index, traits, { sampled: sampled.has(index) });
    try {
      await startChild(assetLifecycle, {
        workflowId: workflowIdOf(spec.id, keyOf(index)),
        args: [
          assetSpec,
          {
            collection: {
              workflowId: info.workflowId,
              index,
              ...(state.reveal ? { placeholderMetadataCid: state.reveal.placeholderMetadataCid } : {}),
            },
          },
        ],
        // The collection continues-as-new and may be cancelled: its assets live on and report back.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        typedSearchAttributes: [
          { key: AtelierCollection, value: spec.id },
          { key: AtelierStage, value: 'generating' },
        ],
        staticSummary: `${spec.name} #${keyOf(index)}`,
      });
    } catch (error) {
      codes[index] = 'f';
      state.failed++;
      state.failures = [...state.failures.slice(-(MAX_FAILURES_KEPT - 1)), { index, reason: `not started: ${(error as Error).message}` }];
    }
  }

  /** Every image is final: the provenance hash and the collection's metadata go out before any mint. */
  async function publish(): Promise<void> {
    setPhase('publishing');
    const ready = codes.flatMap((c, i) => (c === 'r' ? [i] : []));
    const published = await publishCollection({ spec, indices: ready });
    if (published.notReady.length > 0) {
      // A report the run itself contradicts: believe the run, and wait for it.
      for (const { index } of published.notReady) codes[index] = 'g';
      log.warn('assets reported ready are not: publication waits for them', { indices: published.notReady.slice(0, 20) });
      return;
    }
    state.published = published.published;
    touch();
  }

  /**
   * The next minter batch, in collection order, once the minter holds every request of the last one:
   * those are ahead of these in its queue, so its batches cut along the same lines.
   */
  async function releaseNextChunk(): Promise<void> {
    // Some asset given its turn has not yet said the minter holds its request.
    if (codes.includes('m')) return;
    // At most two batches with the minter at once: it checks each request with its asset run, and a
    // queue of thousands (10,000 assets given turns as fast as they asked) never got through that check.
    if (patched('bounded-mint-turns') && codes.filter((c) => c === 'm' || c === 'q').length > settings.mintChunk) return;
    const chunk: number[] = [];
    let recipient: string | undefined;
    for (let i = 0; i < codes.length && chunk.length < settings.mintChunk; i++) {
      if (codes[i] !== 'r') continue;
      // One recipient per batch: a per-asset recipient list mints in runs of the same address.
      const to = Array.isArray(spec.recipient) ? spec.recipient[i]! : spec.recipient;
      if (recipient !== undefined && to !== recipient) break;
      recipient = to;
      chunk.push(i);
    }
    if (chunk.length === 0) return;
    for (const i of chunk) codes[i] = 'm';
    await Promise.all(
      chunk.map(async (index) => {
        try {
          await getExternalWorkflowHandle(workflowIdOf(spec.id, keyOf(index))).signal(mintTurnSignal, { index });
        } catch (error) {
          codes[index] = 'f';
          state.failed++;
          state.failures = [...state.failures.slice(-(MAX_FAILURES_KEPT - 1)), { index, reason: `no run to mint: ${(error as Error).message}` }];
        }
      }),
    );
    showProgress();
  }

  /** Assets not yet minting end cancelled; those minting finish. Then the report. */
  async function cancelAll(): Promise<void> {
    setPhase('cancelling');
    codes.forEach((c, i) => {
      if (c === '.' || c === 'h') codes[i] = 'c';
    });
    const open = codes.flatMap((c, i) => (['g', 'a', 'r'].includes(c) ? [i] : []));
    await Promise.all(
      open.map(async (index) => {
        try {
          await getExternalWorkflowHandle(workflowIdOf(spec.id, keyOf(index))).cancel();
        } catch (error) {
          // Already ended: its own report says how.
          log.info('asset run not cancelled', { index, error: (error as Error).message });
        }
      }),
    );
    showProgress();
    await condition(() => codes.every(isEnded));
    if (!(await finish('cancelled'))) return cancelAll();
  }

  /** The report, read from the runs; false (and the counts corrected) when some run the collection counted as ended is still going. */
  async function finish(end: 'completed' | 'cancelled'): Promise<boolean> {
    report = await collectionReport({ spec, structure, published: state.published });
    // Reports made before this check (in older histories) carry no list.
    const stillRunning = report.stillRunning ?? [];
    if (stillRunning.length > 0) {
      log.warn('asset runs counted as ended are still going: the collection waits for them', { assets: stillRunning.slice(0, 20) });
      for (const { index, stage } of stillRunning)
        codes[index] = stage === 'awaiting_mint' ? 'r' : stage === 'minting' ? 'q' : stage === 'awaiting_approval' ? 'a' : 'g';
      report = null;
      return false;
    }
    if (end === 'completed' && state.reveal && !state.reveal.revealed && state.published && report.minted > 0 && !(await reveal())) return false;
    setPhase(end);
    await condition(allHandlersFinished);
    return true;
  }

  /**
   * After the mint: waits for `reveal`, then carries it out (a refused one waits for the next
   * request). False when the collection has something else to do first (cancelled, a run going again).
   */
  async function reveal(): Promise<boolean> {
    const revealState = state.reveal!;
    for (;;) {
      setPhase('awaiting_reveal');
      await condition(() => Boolean(revealState.requested) || Boolean(state.cancelled) || !allEnded());
      if (!revealState.requested || state.cancelled || !allEnded()) {
        report = null;
        return false;
      }
      setPhase('revealing');
      if (await carryOutReveal(spec, revealState, state.published!, report!.reportCid, showProgress)) return true;
    }
  }

  async function carryOn(): Promise<never> {
    await condition(allHandlersFinished);
    const next: CollectionInput = {
      spec,
      historyLimit: input.historyLimit,
      state: { ...state, structure, settings, codes: codes.join(''), runs: state.runs + 1 },
    };
    return continueAsNew<typeof collectionRun>(next);
  }

  function setPhase(next: CollectionPhase) {
    if (phase !== next) {
      phase = next;
      upsertSearchAttributes([{ key: AtelierStage, value: next }]);
    }
    showProgress();
  }

  function nothingPreparing(): boolean {
    return !codes.some((c) => c === '.' || c === 'h' || c === 'g' || c === 'a');
  }
  function allEnded(): boolean {
    return codes.every(isEnded);
  }
}

/** Progress before the plan is made: every asset waiting. */
function planningProgress(spec: CollectionInput['spec'], workflowId: string, startedAt: number, runs: number): CollectionProgress {
  return {
    workflowId,
    id: spec.id,
    name: spec.name,
    size: spec.size,
    phase: 'preparing',
    paused: false,
    counts: { ...countCodes(''), waiting: spec.size },
    failures: [],
    failed: 0,
    sample: null,
    ratePerMinute: 0,
    etaSeconds: null,
    startedAt: new Date(startedAt).toISOString(),
    elapsedSeconds: Math.round((Date.now() - startedAt) / 1000),
    published: null,
    report: null,
    cancelled: null,
    runs,
    concurrency: spec.concurrency ?? 0,
  };
}

function isEnded(code: string): boolean {
  return endedCodes.includes(code);
}

function describeCode(code: string): string {
  return (
    {
      '.': 'not started',
      h: 'held',
      g: 'generating',
      a: 'awaiting approval',
      r: 'approved',
      m: 'minting',
      M: 'minted',
      x: 'rejected',
      e: 'expired',
      c: 'cancelled',
      f: 'failed',
    }[code] ?? code
  );
}

/** An asset event as the signal brought it, checked; a string says why it is ignored. */
function assetEventShape(raw: unknown, size: number): CollectionAssetEvent | string {
  if (typeof raw !== 'object' || raw === null) return 'an event must be an object';
  const r = raw as Record<string, unknown>;
  if (typeof r.index !== 'number' || !Number.isInteger(r.index) || r.index < 0 || r.index >= size) return '"index" must be an asset index of the collection';
  if (!['awaiting_approval', 'ready', 'requested', 'ended'].includes(r.event as string)) return '"event" must be awaiting_approval, ready, requested or ended';
  if (r.event === 'ended' && (typeof r.stage !== 'string' || !codeOfFinalStage(r.stage as never))) return 'an ended event names a final stage';
  return {
    index: r.index,
    event: r.event as CollectionAssetEvent['event'],
    stage: r.stage as CollectionAssetEvent['stage'],
    error: typeof r.error === 'string' ? r.error : undefined,
  };
}

function decisionShape(raw: unknown): string | undefined {
  const r = raw as { by?: unknown; comment?: unknown } | null;
  if (typeof r !== 'object' || r === null) return 'expected an object { by, ... }';
  if (typeof r.by !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(r.by)) return '"by" must name who acts (letters, digits, . _ @ -, at most 64)';
  if (r.comment !== undefined && (typeof r.comment !== 'string' || r.comment.length > 2000)) return '"comment" must be text of at most 2000 characters';
  return undefined;
}

/** What the Web UI shows under "Current details" (Markdown). */
function detailsOf(p: CollectionProgress): string {
  const c = p.counts;
  const lines = [
    `**${p.name}** · collection ${p.id} · ${p.size} assets`,
    `Phase: **${p.phase}**${p.paused ? ' (paused)' : ''} · run ${p.runs} · window ${p.concurrency}`,
    `minted ${c.minted} · minting ${c.minting} · ready ${c.ready} · awaiting approval ${c.awaiting_approval} · generating ${c.generating} · waiting ${c.waiting + c.held}`,
    `rejected ${c.rejected} · expired ${c.expired} · cancelled ${c.cancelled} · failed ${c.failed}`,
    `${p.ratePerMinute} assets/min${p.etaSeconds !== null ? ` · ETA ${p.etaSeconds} s` : ''}`,
  ];
  if (p.published) lines.push(`Provenance: \`${p.published.provenanceHash}\` over ${p.published.count} assets · contractURI ${p.published.contractURI}`);
  if (p.report) lines.push(`Report: \`${p.report.reportCid}\` · metadata root \`${p.report.metadataRootCid}\``);
  if (p.reveal?.revealed)
    lines.push(`Revealed: offset ${p.reveal.revealed.offset} from block ${p.reveal.revealed.revealBlock.number} · record \`${p.reveal.revealed.recordCid}\``);
  else if (p.reveal)
    lines.push(
      `Reveal: placeholder \`${p.reveal.placeholderMetadataCid}\`${p.reveal.waitingForBlock ? ` · waiting for block ${p.reveal.waitingForBlock}` : ''}`,
    );
  if (p.failures.length) lines.push(`Latest failure: #${p.failures.at(-1)!.assetKey}: ${p.failures.at(-1)!.reason}`);
  if (p.cancelled) lines.push(`Cancelled by ${p.cancelled.by}: ${p.cancelled.reason}`);
  return lines.join('\n\n');
}
