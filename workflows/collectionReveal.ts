// A collection's fair reveal, as the collection run (workflows/collectionRun.ts) carries it out
// (docs/reveal.md): the placeholder pinned before any asset starts, then, once the mint has ended and
// someone asks (`atelier collection reveal <id>`, the `reveal` Update), the offset from the block
// after the last mint, and one transaction that switches every batch the collection spans.
import { defineUpdate, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { CollectionProgress, CollectionReportRef, CollectionRevealInput, Published } from '../common/collection.ts';
import type { CollectionSpec } from '../common/collectionSpec.ts';
import type { RevealState, RevealSummary } from '../common/reveal.ts';
import { chainWait, pinning } from './activityOptions.ts';

/** Asks a collection that minted with a placeholder to reveal; answers with its progress. */
export const revealCollectionUpdate = defineUpdate<CollectionProgress, [CollectionRevealInput]>('reveal');

const { pinRevealPlaceholder, prepareReveal } = proxyActivities<Activities>({ ...pinning, startToCloseTimeout: '10 minutes' });
// The block after the last mint may be far off (a chain that mines only on transactions): a long
// wait, heartbeating every second, so a dead worker's wait moves on within 10 s.
const { awaitRevealBlock } = proxyActivities<Activities>({ ...chainWait, startToCloseTimeout: '7 days' });
const { revealOnChain } = proxyActivities<Activities>(chainWait);

/** The reveal's starting state: the placeholder metadata, pinned. */
export async function startReveal(spec: CollectionSpec): Promise<RevealState> {
  const { cid } = await pinRevealPlaceholder({ id: spec.id, size: spec.size, reveal: spec.reveal });
  return { placeholderMetadataCid: cid, requested: null, waitingForBlock: null, revealed: null, refused: null };
}

/**
 * Carries out a requested reveal: the tokens from the collection's report, the block, the switch.
 * Answers with the summary, or with the reason it was refused (the state says it; a new request may
 * try again). `state` is updated as it goes, so progress shows the block it waits for.
 */
export async function carryOutReveal(
  spec: CollectionSpec,
  state: RevealState,
  published: Published,
  reportCid: string,
  onChange: () => void,
): Promise<RevealSummary | null> {
  const prepared = await prepareReveal({ provenanceHash: published.provenanceHash, provenanceCount: published.count, reportCid });
  if (!prepared.ok) {
    state.refused = prepared.reason;
    state.requested = null;
    onChange();
    return null;
  }
  const revealBlock = prepared.plan.lastMintBlock + 1;
  state.waitingForBlock = revealBlock;
  onChange();
  const block = await awaitRevealBlock({ number: revealBlock });
  const summary = await revealOnChain({
    collectionId: spec.id,
    provenanceHash: published.provenanceHash,
    placeholderMetadataCid: state.placeholderMetadataCid,
    plan: prepared.plan,
    block,
  });
  state.revealed = summary;
  state.waitingForBlock = null;
  state.refused = null;
  onChange();
  return summary;
}

/** Why a reveal cannot be asked for now, or undefined (the Update's validator: synchronous, writes nothing). */
export function revealRefusal(
  spec: CollectionSpec,
  state: RevealState | undefined,
  phase: CollectionProgress['phase'],
  { cancelled, report }: { cancelled: boolean; report: CollectionReportRef | null },
): string | undefined {
  if (!spec.reveal || !state) return `collection ${spec.id} does not reveal later: its tokens minted with their final metadata`;
  if (state.revealed) return `collection ${spec.id} is already revealed (offset ${state.revealed.offset}, record ipfs://${state.revealed.recordCid})`;
  if (state.requested) return `collection ${spec.id} is being revealed (asked by ${state.requested.by} at ${state.requested.at})`;
  if (cancelled || phase === 'cancelling' || phase === 'cancelled') return `collection ${spec.id} is cancelled: it is not revealed`;
  if (phase !== 'awaiting_reveal' && phase !== 'settled') return `collection ${spec.id} is ${phase}: the reveal comes after the mint has ended`;
  if (report && !report.tokenOrderMatchesProvenance)
    return `collection ${spec.id}'s minted tokens do not match its published provenance (${report.minted} minted): a fair reveal needs every asset it covers minted, in order`;
  return undefined;
}
