// reveal: a collection minted with one placeholder metadata gets its final metadata (docs/reveal.md).
// The placeholder is pinned before any asset starts; after the mint, the offset comes from the hash of
// the block after the collection's last mint, every batch the collection spans gets a new directory,
// and one `updateBatchContents` transaction switches them all. Each step reads the chain first, and
// the transaction's hash is in heartbeat details before it is broadcast: a retry never sends twice.
import { ApplicationFailure, Context, heartbeat, sleep } from '@temporalio/activity';
import type { JsonRpcProvider, Signer } from 'ethers';
import type { KuboRPCClient } from 'kubo-rpc-client';
import { CID } from 'multiformats/cid';
import type { RevealRecord, RevealSummary } from '../common/reveal.ts';
import { REVEAL_SCHEME, placeholderMetadataOf, revealMappingOf, revealOffsetOf } from '../common/reveal.ts';
import type { DirectoryEntry } from '../contracts/index.ts';
import { connectCreativeAsset, directoryCidFromDigest, directoryDigestFromCid, pinDirectory, rawCidFromDigest } from '../contracts/index.ts';
import { heartbeatWhile } from './heartbeat.ts';
import { awaitReceipt, revertFailure, sendRecorded } from './transactions.ts';
import type { SentProgress } from './transactions.ts';
import { mapInParallel } from './inParallel.ts';
import { addContent, kuboSignal, readContent } from './kubo.ts';

export interface RevealDependencies {
  kubo: KuboRPCClient;
  provider: JsonRpcProvider;
  signer: Signer;
  contractAddress: string;
  deploymentBlock: number;
  confirmations: number;
}

/** The collection's tokens in provenance order, read from its report and the chain. */
export interface RevealPlan {
  tokens: string[];
  metadata: string[];
  imageSha256: string[];
  lastMintBlock: number;
}

export interface RevealInput {
  collectionId: string;
  provenanceHash: string;
  placeholderMetadataCid: string;
  plan: RevealPlan;
  block: { number: number; hash: string };
}

/** Kept in heartbeat details: the next attempt after a crash looks for this transaction first. */
type RevealProgress = SentProgress;

interface ReportAsset {
  index: number;
  stage: string;
  tokenId: string | null;
  metadataCid: string | null;
  imageSha256: string | null;
}

const READ_CONCURRENCY = 8;

const refuse = (reason: string) => ({ ok: false as const, reason });

export function createRevealActivities({ kubo, provider, signer, contractAddress, deploymentBlock, confirmations }: RevealDependencies) {
  const contract = connectCreativeAsset(contractAddress, signer);

  /** The batch directory `tokenId` sits in now, or why it has none (a token-level override). */
  async function placeOf(tokenId: bigint): Promise<{ digest: string; isDirectory: boolean; index: number }> {
    const [digest, isDirectory, index] = await contract.contentOf(tokenId);
    return { digest, isDirectory, index: Number(index) };
  }

  return {
    /** The placeholder metadata, pinned: the same spec gives the same CID. */
    async pinRevealPlaceholder(collection: Parameters<typeof placeholderMetadataOf>[0]): Promise<{ cid: string }> {
      const stored = await addContent(kubo, Buffer.from(placeholderMetadataOf(collection)), { pin: true });
      return { cid: stored.cid };
    },

    /**
     * The tokens the provenance hash covers, in its order, with their final metadata, from the
     * collection's report; and the block of the last of them. Refused (a value, not a failure) when
     * the minted tokens are not exactly the published provenance.
     */
    async prepareReveal({
      provenanceHash,
      provenanceCount,
      reportCid,
    }: {
      provenanceHash: string;
      provenanceCount: number;
      reportCid: string;
    }): Promise<{ ok: true; plan: RevealPlan } | { ok: false; reason: string }> {
      const report = JSON.parse((await readContent(kubo, reportCid)).toString('utf8')) as {
        provenanceHash: string | null;
        tokenOrderMatchesProvenance: boolean;
        assets: ReportAsset[];
      };
      const minted = report.assets.filter((a) => a.stage === 'minted' && a.tokenId && a.metadataCid && a.imageSha256).sort((a, b) => a.index - b.index);
      if (report.provenanceHash !== provenanceHash || !report.tokenOrderMatchesProvenance || minted.length !== provenanceCount)
        return refuse(
          `the minted tokens are not the published provenance (${minted.length} minted, the hash covers ${provenanceCount}, token order ` +
            `${report.tokenOrderMatchesProvenance ? 'matches' : 'does not match'}): a fair reveal needs every asset it covers minted, in order`,
        );
      const tokens = minted.map((a) => BigInt(a.tokenId!));
      for (let i = 1; i < tokens.length; i++) if (tokens[i]! <= tokens[i - 1]!) return refuse(`token ${tokens[i]} does not follow token ${tokens[i - 1]}`);
      const last = tokens.at(-1)!;
      const [transfer] = await contract.queryFilter(contract.getEvent('Transfer')(undefined, undefined, last), deploymentBlock);
      if (!transfer) return refuse(`the chain shows no mint of token ${last}`);
      return {
        ok: true,
        plan: {
          tokens: tokens.map(String),
          metadata: minted.map((a) => a.metadataCid!),
          imageSha256: minted.map((a) => a.imageSha256!),
          lastMintBlock: transfer.blockNumber,
        },
      };
    },

    /** Waits (heartbeating) until block `number` is `confirmations` deep; its hash. */
    async awaitRevealBlock({ number }: { number: number }): Promise<{ number: number; hash: string }> {
      for (;;) {
        const head = await provider.getBlockNumber();
        heartbeat({ head, waitingFor: number });
        if (head - number + 1 >= Math.max(1, confirmations)) {
          const block = await provider.getBlock(number);
          if (block?.hash) return { number, hash: block.hash };
        }
        if (Context.current().cancellationSignal.aborted) throw new Error('cancelled while waiting for the reveal block');
        await sleep(1_000);
      }
    },

    /**
     * Builds and pins each batch's revealed directory, switches them all with one
     * `updateBatchContents`, and pins the reveal record. Once: batches already showing their new
     * directory are not sent again, and a retry waits for the transaction an attempt sent.
     */
    async revealOnChain(input: RevealInput): Promise<RevealSummary> {
      const progress: { current?: RevealProgress } = { current: Context.current().info.heartbeatDetails as RevealProgress | undefined };
      return heartbeatWhile(
        () => revealOnce(input, progress),
        () => progress.current,
      );
    },
  };

  async function revealOnce(input: RevealInput, progress: { current?: RevealProgress }): Promise<RevealSummary> {
    const { plan, block } = input;
    const offset = revealOffsetOf(block.hash, plan.tokens.length);
    const mapping = revealMappingOf(plan.tokens, plan.metadata, offset);
    const batches = await revealedBatches(new Map(mapping.map((m) => [BigInt(m.tokenId), m.metadataCid])), input.placeholderMetadataCid);

    const pending = async () => {
      const current = await mapInParallel(batches, READ_CONCURRENCY, async (b) => (await placeOf(b.firstTokenId)).digest.toLowerCase());
      return batches.filter((b, i) => current[i] !== b.digest.toLowerCase());
    };
    /** Whether the transaction was mined (false: dropped from the pool); one that reverted fails for good. */
    const mined = async (hash: string) => {
      const receipt = await awaitReceipt(provider, hash);
      if (receipt?.status === 0) throw ApplicationFailure.nonRetryable(`the reveal transaction ${hash} reverted`, 'RevealReverted');
      return receipt !== null;
    };
    let txHash = progress.current?.txHash ?? null;
    if (txHash && !(await mined(txHash))) txHash = null;
    const toSend = await pending();
    if (toSend.length > 0) {
      txHash = await send(toSend, progress);
      if (!(await mined(txHash))) throw new Error(`the reveal transaction ${txHash} was dropped; sending again`);
    } else txHash ??= await switchedBy(batches[0]!);

    const { chainId } = await provider.getNetwork();
    const record: RevealRecord = {
      version: 1,
      scheme: REVEAL_SCHEME,
      collectionId: input.collectionId,
      chainId: Number(chainId),
      contract: contractAddress,
      provenanceHash: input.provenanceHash,
      placeholderMetadataCid: input.placeholderMetadataCid,
      count: plan.tokens.length,
      tokens: plan.tokens,
      metadata: plan.metadata,
      imageSha256: plan.imageSha256,
      lastMintBlock: plan.lastMintBlock,
      revealBlock: block,
      offset,
      mapping,
      batches: batches.map((b) => ({ firstTokenId: String(b.firstTokenId), lastTokenId: String(b.lastTokenId), root: b.root.toString() })),
      transactionHash: txHash,
    };
    const stored = await addContent(kubo, Buffer.from(JSON.stringify(record, null, 2)), { pin: true });
    return { recordCid: stored.cid, offset, count: record.count, revealBlock: block, transactionHash: txHash, at: new Date().toISOString() };
  }

  /**
   * Each batch holding a token of the collection, with its revealed directory pinned: the
   * collection's entries get their final metadata; other tokens keep what they show now (an
   * override becomes their entry, since the switch drops a batch's overrides).
   */
  async function revealedBatches(wanted: Map<bigint, string>, placeholder: string) {
    const tokens = [...wanted.keys()];
    const places = await mapInParallel(tokens, READ_CONCURRENCY, (t) => placeOf(t));
    const starts = new Map<bigint, string>();
    tokens.forEach((token, i) => {
      const place = places[i]!;
      if (!place.isDirectory)
        throw ApplicationFailure.nonRetryable(
          `token ${token} shows metadata of its own (updateContent), not its batch's entry: it cannot be revealed`,
          'RevealRefused',
        );
      starts.set(token - BigInt(place.index), place.digest);
    });
    const batches = [];
    for (const [firstTokenId, digest] of [...starts].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const current = await kubo.dag.get(directoryCidFromDigest(digest), { signal: kuboSignal() });
      const links = (current.value as { Links: { Name?: string; Hash: CID; Tsize?: number }[] }).Links;
      const entries: DirectoryEntry[] = [];
      for (let i = 0; i < links.length; i++) {
        const link = links.find((l) => l.Name === String(i));
        if (!link) throw ApplicationFailure.nonRetryable(`batch ${firstTokenId}'s directory has no entry ${i}`, 'RevealRefused');
        const token = firstTokenId + BigInt(i);
        const final = wanted.get(token);
        if (final !== undefined) {
          const now = link.Hash.toString();
          if (now !== placeholder && now !== final)
            throw ApplicationFailure.nonRetryable(`token ${token} shows ${now}, neither the placeholder nor its revealed metadata`, 'RevealRefused');
          entries.push({ cid: final, size: (await kubo.block.stat(CID.parse(final), { signal: kuboSignal() })).size });
        } else {
          const place = await placeOf(token);
          entries.push(place.isDirectory ? { cid: link.Hash, size: link.Tsize ?? 0 } : { cid: rawCidFromDigest(place.digest), size: 0 });
        }
      }
      const root = await pinDirectory(kubo, entries, { signal: kuboSignal() });
      // No heartbeat of its own here: the details keep the transaction hash (heartbeatWhile sends them).
      batches.push({ firstTokenId, lastTokenId: firstTokenId + BigInt(links.length - 1), root, digest: directoryDigestFromCid(root) });
    }
    return batches;
  }

  /** One `updateBatchContents` for `batches`; its hash is in heartbeat details before it is broadcast. */
  async function send(batches: { firstTokenId: bigint; digest: string }[], progress: { current?: RevealProgress }): Promise<string> {
    try {
      const call = await contract.updateBatchContents.populateTransaction(
        batches.map((b) => b.firstTokenId),
        batches.map((b) => b.digest),
      );
      return await sendRecorded(signer, provider, call, progress);
    } catch (error) {
      throw revertFailure(error, 'updateBatchContents', 'RevealReverted') ?? error;
    }
  }

  /** The transaction that set `batch`'s directory, when an earlier attempt's hash was lost. */
  async function switchedBy(batch: { firstTokenId: bigint; digest: string }): Promise<string | null> {
    const events = await contract.queryFilter(contract.getEvent('BatchContentUpdated')(batch.firstTokenId), deploymentBlock);
    const event = events.reverse().find((e) => 'args' in e && String(e.args[2]).toLowerCase() === batch.digest.toLowerCase());
    return event?.transactionHash ?? null;
  }
}
