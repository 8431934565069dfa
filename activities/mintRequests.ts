// mintRequests: the minter mints only what it can verify was approved. Each request is checked with
// the asset's own run: the ids agree, the run is minting, it was approved, and the recipient and
// metadata are the ones it asks for. A request sent with `temporal workflow signal` by anyone else
// matches no such run and is refused.
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { AssetStatus } from '../common/asset.ts';
import { workflowIdOf } from '../common/asset.ts';
import type { CollectionProgress } from '../common/collection.ts';
import { collectionWorkflowIdOf } from '../common/collection.ts';
import type { MintRequest, MintRequestVerdict } from '../common/mint.ts';
import { assetIdOf } from '../contracts/index.ts';
import { mapInParallel } from './inParallel.ts';

const VERIFY_CONCURRENCY = 8;

export function createMintRequestActivities() {
  return {
    /** Several queries at once: each may replay its asset run on a worker. */
    async verifyMintRequests({ requests }: { requests: MintRequest[] }): Promise<MintRequestVerdict[]> {
      const placeholders = new Map<string, Promise<string | null>>();
      const placeholderOf = (collectionId: string) => {
        if (!placeholders.has(collectionId)) placeholders.set(collectionId, collectionPlaceholder(collectionId));
        return placeholders.get(collectionId)!;
      };
      return mapInParallel(
        requests,
        VERIFY_CONCURRENCY,
        (request) => verify(request, placeholderOf),
        (done) => Context.current().heartbeat(done),
      );
    },
  };
}

/** The placeholder metadata of a collection that reveals later (docs/reveal.md), from its own run; null for any other. */
async function collectionPlaceholder(collectionId: string): Promise<string | null> {
  try {
    const progress = await Context.current().client.workflow.getHandle(collectionWorkflowIdOf(collectionId)).query<CollectionProgress>('progress');
    return progress.reveal?.placeholderMetadataCid ?? null;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}

async function verify(request: MintRequest, placeholderOf: (collectionId: string) => Promise<string | null>): Promise<MintRequestVerdict> {
  const refuse = (reason: string): MintRequestVerdict => ({ ok: false, reason });
  let assetId: bigint;
  try {
    assetId = assetIdOf(request.collectionId, request.assetKey);
  } catch {
    return refuse('the collection and key name no asset');
  }
  if (assetId.toString() !== request.assetId) return refuse(`asset id ${request.assetId} is not ${request.collectionId}/${request.assetKey}'s`);
  if (request.replyTo !== workflowIdOf(request.collectionId, request.assetKey))
    return refuse(`${request.replyTo} is not the run of ${request.collectionId}/${request.assetKey}`);
  let status: AssetStatus;
  try {
    status = await Context.current().client.workflow.getHandle(request.replyTo).query<AssetStatus>('status');
  } catch (error) {
    if (error instanceof WorkflowNotFoundError || /not found|already completed/i.test((error as Error).message))
      return refuse(`no running asset run ${request.replyTo}`);
    throw error; // a busy or stopped worker: asked again on the next attempt
  }
  if (status.stage !== 'minting') return refuse(`${request.replyTo} is ${status.stage}, not minting`);
  if (!status.approver) return refuse(`${request.replyTo} records no approval`);
  // A collection that reveals later mints its placeholder instead of the run's own metadata.
  if (status.metadataCid !== request.metadataCid && request.metadataCid !== (await placeholderOf(request.collectionId)))
    return refuse(`${request.replyTo} mints metadata ${status.metadataCid}, not ${request.metadataCid}`);
  if (status.recipient?.toLowerCase() !== request.recipient.toLowerCase())
    return refuse(`${request.replyTo} mints to ${status.recipient}, not ${request.recipient}`);
  return { ok: true };
}
