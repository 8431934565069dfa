// Collections from scripts and the CLI: check a collection spec at the edge, plan it (DNA, rarity),
// start its run, steer it and read its progress and report.
import fs from 'node:fs';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { JsonRpcProvider } from 'ethers';
import type { CollectionInput, CollectionProgress } from '../common/collection.ts';
import { collectionWorkflowIdOf } from '../common/collection.ts';
import type { CollectionSpec } from '../common/collectionSpec.ts';
import { checkCollectionSpec, structureOfOpenAIGenerator } from '../common/collectionSpec.ts';
import type { Dna, TraitStructure } from '../common/dna.ts';
import { deriveDna, rarityOf } from '../common/dna.ts';
import { loadLayerSet, traitStructureOf } from '../common/layerSet.ts';
import type { RevealRecord } from '../common/reveal.ts';
import { checkRevealRecord } from '../common/reveal.ts';
import { AtelierCollection, AtelierStage } from '../common/searchAttributes.ts';
import { SpecError } from '../common/spec.ts';
import { connectCreativeAsset } from '../contracts/index.ts';
import type { collectionRun } from '../workflows/collectionRun.ts';
import { revealCollectionUpdate } from '../workflows/collectionReveal.ts';
import {
  approveRestUpdate,
  cancelCollectionUpdate,
  collectionProgressQuery,
  pauseCollectionUpdate,
  resumeCollectionUpdate,
  retryFailedUpdate,
} from '../workflows/messages.ts';

export class CollectionRefused extends Error {
  override name = 'CollectionRefused';
}
export class CollectionNotFound extends Error {
  override name = 'CollectionNotFound';
}

/** The largest collection.json read. */
const MAX_SPEC_BYTES = 4 * 1024 * 1024;

export interface CollectionPlan {
  spec: CollectionSpec;
  structure: TraitStructure;
  dna: Dna[];
}

/** A collection spec file, checked: every problem named by its field, the layer set read, the DNA derived. */
export function planCollectionFile(file: string): CollectionPlan {
  let text: string;
  try {
    if (fs.statSync(file).size > MAX_SPEC_BYTES) throw new Error(`over ${MAX_SPEC_BYTES} bytes`);
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new SpecError([`cannot read collection spec ${file}: ${(error as Error).message}`], 'collection spec');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SpecError([`${file} is not valid JSON: ${(error as Error).message}`], 'collection spec');
  }
  return planCollection(json);
}

/** The same checks for a spec given as a value. */
export function planCollection(input: unknown): CollectionPlan {
  const checked = checkCollectionSpec(input);
  if (!checked.ok) throw new SpecError(checked.problems, 'collection spec');
  const spec = checked.spec;
  let structure: TraitStructure;
  if (spec.generator.kind === 'openai') structure = structureOfOpenAIGenerator(spec.generator);
  else {
    try {
      structure = traitStructureOf(loadLayerSet(spec.generator.layerSet));
    } catch (error) {
      throw new SpecError([`generator.layerSet: ${(error as Error).message}`], 'collection spec');
    }
  }
  const plan = deriveDna(structure, spec.size, spec.seed);
  if (!plan.ok) throw new SpecError([`size: ${plan.reason}`], 'collection spec');
  return { spec, structure, dna: plan.dna };
}

/** Each layer's options with their expected count and frequency in this collection. */
export function rarityPreview(plan: CollectionPlan) {
  return rarityOf(plan.structure, plan.dna);
}

export interface StartedCollection {
  workflowId: string;
  runId: string;
  outcome: 'started' | 'running';
}

export class CollectionClient {
  constructor(
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  /** Starts the collection's run; a running one is joined, never started twice. */
  async start(plan: CollectionPlan, options: { historyLimit?: number } = {}): Promise<StartedCollection> {
    const workflowId = collectionWorkflowIdOf(plan.spec.id);
    const existing = await this.describeRun(workflowId).catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    });
    if (existing?.status.name === 'RUNNING') return { workflowId, runId: existing.runId, outcome: 'running' };
    const input: CollectionInput = { spec: plan.spec, historyLimit: options.historyLimit };
    const handle = await this.temporal.workflow.start<typeof collectionRun>('collectionRun', {
      taskQueue: this.taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: AtelierCollection, value: plan.spec.id },
        { key: AtelierStage, value: 'preparing' },
      ],
      staticSummary: `Collection ${plan.spec.name}: ${plan.spec.size} assets`,
    });
    return { workflowId, runId: handle.firstExecutionRunId, outcome: 'started' };
  }

  private async describeRun(workflowId: string) {
    return this.temporal.workflow.getHandle(workflowId).describe();
  }

  /** Progress of the collection's latest run (live, or as it ended). */
  async progress(id: string): Promise<CollectionProgress> {
    const handle = this.temporal.workflow.getHandle<typeof collectionRun>(collectionWorkflowIdOf(id));
    try {
      return await handle.query(collectionProgressQuery);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new CollectionNotFound(`no collection "${id}" (atelier collection start <file> starts one)`);
      throw error;
    }
  }

  async pause(id: string, by: string) {
    return this.steer(id, () => this.handle(id).executeUpdate(pauseCollectionUpdate, { args: [{ by }] }));
  }
  async resume(id: string, by: string) {
    return this.steer(id, () => this.handle(id).executeUpdate(resumeCollectionUpdate, { args: [{ by }] }));
  }
  async cancel(id: string, by: string, reason: string) {
    return this.steer(id, () => this.handle(id).executeUpdate(cancelCollectionUpdate, { args: [{ by, reason }] }));
  }
  async retryFailed(id: string, by: string): Promise<number> {
    return this.steer(id, () => this.handle(id).executeUpdate(retryFailedUpdate, { args: [{ by }] }));
  }
  async approveRest(id: string, by: string, comment?: string) {
    return this.steer(id, () => this.handle(id).executeUpdate(approveRestUpdate, { args: [{ by, comment }] }));
  }
  /** Asks a collection that minted with a placeholder to reveal (docs/reveal.md); answers at once, the reveal goes on. */
  async reveal(id: string, by: string): Promise<CollectionProgress> {
    const progress = await this.progress(id);
    if (!progress.reveal) throw new CollectionRefused(`collection ${id} does not reveal later: its tokens minted with their final metadata`);
    if (progress.reveal.revealed)
      throw new CollectionRefused(
        `collection ${id} is already revealed (offset ${progress.reveal.revealed.offset}, record ipfs://${progress.reveal.revealed.recordCid})`,
      );
    return this.steer(id, () => this.handle(id).executeUpdate(revealCollectionUpdate, { args: [{ by }] }));
  }

  /** Polls progress until `until` holds, calling `onProgress` with each reading. */
  async watch(
    id: string,
    until: (p: CollectionProgress) => boolean,
    onProgress: (p: CollectionProgress) => void,
    intervalMs = 1000,
  ): Promise<CollectionProgress> {
    for (;;) {
      const progress = await this.progress(id);
      onProgress(progress);
      if (until(progress)) return progress;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  private handle(id: string) {
    return this.temporal.workflow.getHandle<typeof collectionRun>(collectionWorkflowIdOf(id));
  }

  private async steer<T>(id: string, update: () => Promise<T>): Promise<T> {
    try {
      return await update();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        const ended = await this.describeRun(collectionWorkflowIdOf(id)).catch(() => undefined);
        if (ended) throw new CollectionRefused(`collection ${id} has ended (${ended.status.name.toLowerCase()}); nothing to steer`);
        throw new CollectionNotFound(`no collection "${id}"`);
      }
      if (error instanceof WorkflowUpdateFailedError) throw new CollectionRefused((error.cause as Error | undefined)?.message ?? error.message);
      throw error;
    }
  }
}

/** A phase in which the collection has nothing left to do by itself. */
export const isSettled = (p: CollectionProgress) => ['settled', 'awaiting_reveal', 'completed', 'cancelled'].includes(p.phase);

/** What `verifyReveal` found: each problem named, and how many tokens show what the record predicts. */
export interface RevealVerification {
  record: RevealRecord | null;
  problems: string[];
  tokensChecked: number;
}

/**
 * Checks a published reveal record as anyone can, from the chain and a gateway alone: the record's
 * own arithmetic (common/reveal.ts), the block hash and the last mint's block on chain, and every
 * token's tokenURI content against the metadata the offset predicts.
 */
export async function verifyReveal(recordCid: string, { rpcUrl, gatewayUrl }: { rpcUrl: string; gatewayUrl: string }): Promise<RevealVerification> {
  const get = async (path: string) => {
    const response = await fetch(`${gatewayUrl}/ipfs/${path}`);
    if (!response.ok) throw new Error(`gateway ${path}: HTTP ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  };
  const checked = checkRevealRecord(JSON.parse((await get(recordCid)).toString('utf8')));
  if (!checked.ok) return { record: null, problems: checked.problems, tokensChecked: 0 };
  const record = checked.record;
  const problems: string[] = [];
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  try {
    const block = await provider.getBlock(record.revealBlock.number);
    if (block?.hash !== record.revealBlock.hash)
      problems.push(`block ${record.revealBlock.number} has hash ${block?.hash ?? 'none'} on chain, the record says ${record.revealBlock.hash}`);
    const contract = connectCreativeAsset(record.contract, provider);
    const last = BigInt(record.tokens.at(-1)!);
    const [mint] = await contract.queryFilter(contract.getEvent('Transfer')(undefined, undefined, last));
    if (mint?.blockNumber !== record.lastMintBlock)
      problems.push(`token ${last} was minted in block ${mint?.blockNumber ?? 'none'}, the record says ${record.lastMintBlock}`);
    let tokensChecked = 0;
    for (const { tokenId, metadataCid } of record.mapping) {
      const uri = await contract.tokenURI(BigInt(tokenId));
      const [shown, predicted] = await Promise.all([get(uri.replace(/^ipfs:\/\//, '')), get(metadataCid)]);
      if (!shown.equals(predicted)) problems.push(`token ${tokenId} (${uri}) does not show ${metadataCid}`);
      tokensChecked++;
    }
    return { record, problems, tokensChecked };
  } finally {
    provider.destroy();
  }
}
