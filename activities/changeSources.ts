// Change sources of dynamic assets (docs/dynamic-sources.md): the Schedules and the chain watcher an
// asset registers when it is minted, reading the chain's Transfers safely across reorganisations, and
// delivering each change to the asset's dynamic workflow as one Update (its id is the change's id).
import { ApplicationFailure, Context, log, sleep } from '@temporalio/activity';
import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy, WorkflowNotFoundError } from '@temporalio/client';
import type { ScheduleOptions, WorkflowClientInterceptor } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { WorkflowUpdateStage } from '@temporalio/client';
import { Interface, ZeroAddress, dataSlice, getAddress, toBeHex, zeroPadValue } from 'ethers';
import type { JsonRpcProvider, Log } from 'ethers';
import type { ChainCursor, ChainTransfer, ChainWatcherInput, WatchTokenInput } from '../common/changeSources.ts';
import { SEEN_BLOCKS, chainWatcherIdOf, changeSourceMessageNames } from '../common/changeSources.ts';
import type { AssetChangeInput, ChangeRecord, DynamicSpec } from '../common/dynamic.ts';
import { dynamicMessageNames, dynamicScheduleIdOf, dynamicWorkflowIdOf } from '../common/dynamic.ts';
import { assetIdOf, connectCreativeAsset, creativeAssetAbi } from '../contracts/index.ts';
import { heartbeatWhile } from './heartbeat.ts';

export interface ChangeSourceDependencies {
  provider: JsonRpcProvider;
  contractAddress: string;
  deploymentBlock: number;
  /** Blocks on top of a Transfer's (itself included) before the watcher reads it (ATELIER_CONFIRMATIONS; 1: at the head). */
  confirmations?: number;
}

export interface RegisterChangeSourcesInput {
  collectionId: string;
  assetKey: string;
  tokenId: string;
  dynamic: DynamicSpec;
  taskQueue: string;
}

export interface DeliverChangeInput {
  collectionId: string;
  assetKey: string;
  change: AssetChangeInput;
}

export interface ReadTransfersInput {
  tokenIds: string[];
  cursor: ChainCursor;
  /** How long to wait for new blocks holding a watched token's Transfer before answering with none. */
  waitMs: number;
  /** Blocks read by one getLogs call. */
  maxBlocks?: number;
}

export interface ReadTransfersResult {
  cursor: ChainCursor;
  transfers: ChainTransfer[];
  /** Set when blocks read before were replaced: reading went back to the last block both chains share. */
  reorg: { from: number; depth: number } | null;
}

export interface AdmitTokensResult {
  admitted: WatchTokenInput[];
  refused: { token: WatchTokenInput; reason: string }[];
  /** Transfers of admitted tokens from their mint up to the watcher's cursor (or the head, for a new watcher). */
  transfers: ChainTransfer[];
  /** For a watcher with no cursor yet: where to go on from (the head read, and its hash). */
  start: ChainCursor | null;
}

/** The Update of workflows/messages.ts, by the name both take from common/dynamic.ts (activities import no workflow code). */
const changeUpdateName = dynamicMessageNames.change;
const transferEvent = new Interface(creativeAssetAbi).getEvent('Transfer')!;
const tokenTopic = (tokenId: string) => zeroPadValue(toBeHex(BigInt(tokenId)), 32);
/** Token ids per getLogs call (an OR of topics). */
const TOKENS_PER_QUERY = 200;
/** Blocks per getLogs call: hosted RPC providers refuse wide ranges. */
const BLOCKS_PER_QUERY = 2_000;
const POLL_MS = 500;

export function createChangeSourceActivities({ provider, contractAddress, deploymentBlock, confirmations = 1 }: ChangeSourceDependencies) {
  /** The newest block deep enough to read. */
  const readableHead = async () => (await provider.getBlockNumber()) - (Math.max(1, confirmations) - 1);
  const contract = connectCreativeAsset(contractAddress, provider);
  const chainId = async () => Number((await provider.getNetwork()).chainId);
  const hashOf = async (blockNumber: number) => (await provider.getBlock(blockNumber))?.hash ?? null;

  /** Transfers (not mints) of `tokenIds` in [fromBlock, toBlock], each log checked against its block's current hash. */
  async function transfersIn(tokenIds: string[], fromBlock: number, toBlock: number): Promise<ChainTransfer[] | 'reorganised'> {
    const logs: Log[] = [];
    for (let start = fromBlock; start <= toBlock; start += BLOCKS_PER_QUERY) {
      const end = Math.min(toBlock, start + BLOCKS_PER_QUERY - 1);
      for (let i = 0; i < tokenIds.length; i += TOKENS_PER_QUERY) {
        const topics = [transferEvent.topicHash, null, null, tokenIds.slice(i, i + TOKENS_PER_QUERY).map(tokenTopic)];
        logs.push(...(await provider.getLogs({ address: contractAddress, topics, fromBlock: start, toBlock: end })));
      }
    }
    const hashes = new Map<number, string | null>();
    const transfers: ChainTransfer[] = [];
    for (const entry of logs) {
      if (entry.removed) return 'reorganised';
      if (!hashes.has(entry.blockNumber)) hashes.set(entry.blockNumber, await hashOf(entry.blockNumber));
      // A log from a block the chain has since replaced: the caller reads the range again.
      if (hashes.get(entry.blockNumber) !== entry.blockHash) return 'reorganised';
      const parsed = {
        from: getAddress(dataSlice(entry.topics[1]!, 12)),
        to: getAddress(dataSlice(entry.topics[2]!, 12)),
        tokenId: BigInt(entry.topics[3]!).toString(),
      };
      if (parsed.from === ZeroAddress) continue;
      transfers.push({ ...parsed, txHash: entry.transactionHash, blockNumber: entry.blockNumber, logIndex: entry.index });
    }
    return transfers.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
  }

  /** Whether the last block the cursor read is still the chain's. */
  async function stillTheChains(cursor: ChainCursor): Promise<boolean> {
    const last = cursor.seen.at(-1);
    return !last || (await hashOf(last.number)) === last.hash;
  }

  /** The cursor after checking that the last block read is still the chain's; walks back to the last block both share. */
  async function rewoundIfReorganised(cursor: ChainCursor): Promise<{ cursor: ChainCursor; reorg: ReadTransfersResult['reorg'] }> {
    if (await stillTheChains(cursor)) return { cursor, reorg: null };
    const seen = [...cursor.seen];
    while (seen.length > 0) {
      const ref = seen.at(-1)!;
      if ((await hashOf(ref.number)) === ref.hash) break;
      seen.pop();
    }
    const next = seen.length > 0 ? seen.at(-1)!.number + 1 : Math.max(deploymentBlock, cursor.seen[0]!.number - SEEN_BLOCKS);
    log.warn('the chain replaced blocks the watcher had read: reading again from the last block both share', { from: next, was: cursor.next });
    return { cursor: { next, seen }, reorg: { from: next, depth: cursor.next - next } };
  }

  return {
    /**
     * What a minted dynamic asset needs to hear of changes that are not sent by a person: one Schedule
     * per `schedule` trait (created, or brought in line when it exists) and, with a `chain` trait, its
     * token on the contract's chain watcher (signal-with-start). Idempotent.
     */
    async registerChangeSources(input: RegisterChangeSourcesInput): Promise<void> {
      const { client } = Context.current();
      for (const trait of input.dynamic.traits) {
        if (trait.source.kind !== 'schedule') continue;
        await upsertSchedule(client, scheduleOptionsOf(input, trait.name, trait.source.every));
      }
      if (!input.dynamic.traits.some((t) => t.source.kind === 'chain')) return;
      const watcher: ChainWatcherInput = { chainId: await chainId(), contract: contractAddress };
      const token: WatchTokenInput = { tokenId: input.tokenId, collectionId: input.collectionId, assetKey: input.assetKey };
      await client.workflow.signalWithStart('chainWatcher', {
        workflowId: chainWatcherIdOf(watcher.chainId, watcher.contract),
        taskQueue: input.taskQueue,
        args: [watcher],
        signal: changeSourceMessageNames.watchToken,
        signalArgs: [token],
        staticSummary: `Chain watcher · chain ${watcher.chainId} · ${watcher.contract} · Transfers of dynamic tokens`,
      });
    },

    /**
     * Hands one change to the asset's dynamic workflow: the 'change' Update with the change's id as
     * its Update id (a retried delivery is the same Update), answered once it is accepted. No such
     * workflow, or a change it refuses, fails for good with the reason; anything else is retried.
     */
    async deliverChange({ collectionId, assetKey, change }: DeliverChangeInput): Promise<{ workflowId: string; updateId: string }> {
      const workflowId = dynamicWorkflowIdOf(collectionId, assetKey);
      try {
        const handle = await refusingClient(Context.current().client)
          .workflow.getHandle(workflowId)
          .startUpdate<ChangeRecord, [AssetChangeInput]>(changeUpdateName, { args: [change], updateId: change.id, waitForStage: WorkflowUpdateStage.ACCEPTED });
        return { workflowId, updateId: handle.updateId };
      } catch (error) {
        if (error instanceof WorkflowNotFoundError)
          throw ApplicationFailure.nonRetryable(`no dynamic workflow ${workflowId} (the asset is not minted, or not dynamic)`, 'NoDynamicWorkflow');
        throw error;
      }
    },

    /**
     * The Transfers of `tokenIds` after the cursor. Checks first that the last block read is still
     * the chain's (else reads again from the last block both chains share), then waits, heartbeating,
     * for new blocks, and answers as soon as one holds a watched token's Transfer, or after `waitMs`
     * with the cursor moved on and no Transfer.
     */
    async readTransfers({ tokenIds, cursor: start, waitMs, maxBlocks = BLOCKS_PER_QUERY }: ReadTransfersInput): Promise<ReadTransfersResult> {
      const until = Date.now() + waitMs;
      let cursor = start;
      let reorg: ReadTransfersResult['reorg'] = null;
      return heartbeatWhile(
        async () => {
          for (;;) {
            const checked = await rewoundIfReorganised(cursor);
            cursor = checked.cursor;
            if (checked.reorg) reorg = { from: checked.reorg.from, depth: Math.max(checked.reorg.depth, reorg?.depth ?? 0) };
            const head = await readableHead();
            if (head >= cursor.next) {
              const to = Math.min(head, cursor.next + maxBlocks - 1);
              const toHash = await hashOf(to);
              const transfers = toHash ? await transfersIn(tokenIds, cursor.next, to) : 'reorganised';
              // The range is good only if its last block is still the one whose hash is kept, and the
              // last block read before it is still the chain's: a reorganisation landing after the check
              // above would otherwise be read past, its replaced blocks kept as seen.
              if (transfers !== 'reorganised' && toHash && (await hashOf(to)) === toHash && (await stillTheChains(cursor))) {
                cursor = { next: to + 1, seen: [...cursor.seen, { number: to, hash: toHash }].slice(-SEEN_BLOCKS) };
                if (transfers.length > 0 || reorg || Date.now() >= until) return { cursor, transfers, reorg };
                continue;
              }
              // The range changed while it was read: read it again (after the check of the last block kept).
              log.info('blocks changed while they were read: reading them again', { from: cursor.next, to });
            }
            if (reorg || Date.now() >= until) return { cursor, transfers: [], reorg };
            await sleep(POLL_MS);
          }
        },
        () => ({ next: cursor.next }),
      );
    },

    /**
     * Checks tokens asked for on the chain (the token is the asset's: the contract's own record), and
     * reads each admitted token's Transfers from its mint up to `upTo` (the watcher's last block read),
     * or, for a watcher with no cursor yet, up to the head, which becomes its cursor.
     */
    async admitWatchedTokens({ tokens, upTo }: { tokens: WatchTokenInput[]; upTo: number | null }): Promise<AdmitTokensResult> {
      return heartbeatWhile(async () => {
        const result: AdmitTokensResult = { admitted: [], refused: [], transfers: [], start: null };
        let end = upTo;
        if (end === null) {
          const head = Math.max(0, await readableHead());
          const hash = await hashOf(head);
          if (!hash) throw new Error(`block ${head} has no hash yet`);
          end = head;
          result.start = { next: head + 1, seen: [{ number: head, hash }] };
        }
        for (const token of tokens) {
          const onChain = await contract.tokenOfAsset(assetIdOf(token.collectionId, token.assetKey)).catch(() => null);
          if (onChain === null || onChain.toString() !== token.tokenId) {
            result.refused.push({
              token,
              reason: `token ${token.tokenId} is not asset ${token.collectionId}/${token.assetKey}'s (the chain says ${onChain ?? 'none'})`,
            });
            continue;
          }
          const [mint] = await provider.getLogs({
            address: contractAddress,
            topics: [transferEvent.topicHash, zeroPadValue(ZeroAddress, 32), null, tokenTopic(token.tokenId)],
            fromBlock: deploymentBlock,
          });
          result.admitted.push(token);
          if (!mint || mint.blockNumber > end) continue;
          const transfers = await transfersIn([token.tokenId], mint.blockNumber, end);
          // A replaced block under the range: the next read's check walks back and reads it again.
          if (transfers !== 'reorganised') result.transfers.push(...transfers);
        }
        return result;
      });
    },
  };
}

function scheduleOptionsOf(input: RegisterChangeSourcesInput, trait: string, every: string): ScheduleOptions {
  const scheduleId = dynamicScheduleIdOf(input.collectionId, input.assetKey, trait);
  return {
    scheduleId,
    // common/dynamic.ts checked the period (15m, 4h, 30d): a Duration as Temporal reads it.
    spec: { intervals: [{ every: every as Duration }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'scheduledChange',
      // Temporal appends the tick's scheduled time: `<id>-2026-11-26T13:00:00Z`.
      workflowId: `${scheduleId}:tick`,
      taskQueue: input.taskQueue,
      args: [{ collectionId: input.collectionId, assetKey: input.assetKey, trait }],
      workflowExecutionTimeout: '1 hour',
    },
    // Never two ticks at once; a tick due while one runs waits for it (its count is not lost).
    policies: { overlap: ScheduleOverlapPolicy.BUFFER_ONE },
    state: { note: `trait "${trait}" of ${input.collectionId}/${input.assetKey} (token ${input.tokenId}) every ${every}` },
  };
}

async function upsertSchedule(client: Client, options: ScheduleOptions): Promise<void> {
  try {
    await client.schedule.create(options);
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await client.schedule.getHandle(options.scheduleId).update((previous) => ({
      ...previous,
      spec: options.spec,
      action: options.action,
      policies: { ...previous.policies, overlap: ScheduleOverlapPolicy.BUFFER_ONE },
    }));
  }
}

/**
 * The worker's client, with one interceptor: an Update the workflow refused (its validator threw)
 * comes back as a failed outcome from startUpdate rather than an error; it becomes a non-retryable
 * failure with the workflow's reason.
 */
function refusingClient(client: Client): Client {
  const cached = refusing.get(client);
  if (cached) return cached;
  const interceptor: WorkflowClientInterceptor = {
    async startUpdate(input, next) {
      const output = await next(input);
      const failure = output.outcome?.failure;
      if (failure) throw ApplicationFailure.nonRetryable(`the workflow refused the change: ${failure.message ?? 'no reason given'}`, 'ChangeRefused');
      return output;
    },
  };
  const wrapped = new Client({ connection: client.connection, namespace: client.options.namespace, interceptors: { workflow: [interceptor] } });
  refusing.set(client, wrapped);
  return wrapped;
}

const refusing = new WeakMap<Client, Client>();
