// archive: permanent copies of the final renditions and metadata on Arweave, beside IPFS. Idempotent
// by content: before uploading, the gateway is asked (GraphQL) for a transaction of this wallet tagged
// with the bytes' sha256, and a copy that exists is reused; a retried attempt also reuses what an
// earlier attempt posted (its heartbeat details), before the gateway indexes it.
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type Arweave from 'arweave';
import type { JWKInterface } from 'arweave/node/lib/wallet.js';
import type { KuboRPCClient } from 'kubo-rpc-client';
import type { ArweaveLocation, ContentRef } from '../common/asset.ts';
import { heartbeatWhile } from './heartbeat.ts';
import { readVerified } from './kubo.ts';

/** The tags every copy carries; the sha256 tag is what a second upload of the same bytes is found by. */
export const ARWEAVE_TAGS = { app: 'App-Name', sha256: 'Atelier-Sha256', asset: 'Atelier-Asset', contentType: 'Content-Type' } as const;
export const ARWEAVE_APP_NAME = 'Atelier';

export interface ArweaveArchive {
  arweave: Arweave;
  /** The JWK key that signs the uploads (read from ATELIER_ARWEAVE_WALLET_FILE; never printed, never in history). */
  wallet: JWKInterface;
  /** The gateway's base URL: copies are read from `<gatewayUrl>/<txId>`. */
  gatewayUrl: string;
  /** arlocal: mine a block after each upload, so the copy is readable at once. */
  mine: boolean;
}

export interface ArweaveDependencies {
  kubo: KuboRPCClient;
  /** Unset when ATELIER_ARWEAVE_URL is unset: archiveAsset then copies nothing. */
  arweave?: ArweaveArchive;
}

/** One piece of content to copy: a rendition (its mimeType) or the metadata (application/json). */
export type ArchiveContent = ContentRef & { mimeType: string };

export interface ArchiveInput {
  contents: ArchiveContent[];
  collectionId: string;
  assetKey: string;
}

/** A permanent copy: `url` is where the gateway serves the bytes (`ar://<txId>` on any gateway). */
export type ArweaveCopy = ArweaveLocation;

/** Heartbeat details: what this activity has posted so far, by sha256. */
export interface ArchiveProgress {
  posted: Record<string, string>;
}

/** The wallet's address: base64url(sha256(modulus)), as arweave.wallets.jwkToAddress computes it, without a promise. */
export function arweaveAddress(wallet: Pick<JWKInterface, 'n'>): string {
  return createHash('sha256').update(Buffer.from(wallet.n, 'base64url')).digest('base64url');
}

export function createArweaveActivities({ kubo, arweave: archive }: ArweaveDependencies) {
  return {
    /**
     * Copies each content to Arweave unless this wallet already holds a copy of the same bytes;
     * returns one copy per content, in order. With Arweave off (no ATELIER_ARWEAVE_URL), returns [].
     */
    async archiveAsset({ contents, collectionId, assetKey }: ArchiveInput): Promise<ArweaveCopy[]> {
      if (!archive) return [];
      const progress = archiveProgress();
      return heartbeatWhile(
        () => archiveContents(archive, kubo, contents, `${collectionId}/${assetKey}`, progress),
        () => progress,
      );
    },
  };
}

/** What earlier attempts of this activity posted (their heartbeat details), to be kept in the next heartbeats. */
export function archiveProgress(): ArchiveProgress {
  const previous = Context.current().info.heartbeatDetails as Partial<ArchiveProgress> | undefined;
  return { posted: { ...(previous?.posted ?? {}) } };
}

/** One copy per content, in order: an existing copy of the same bytes (this wallet's) is reused. */
export async function archiveContents(
  archive: ArweaveArchive,
  kubo: KuboRPCClient,
  contents: ArchiveContent[],
  asset: string,
  progress: ArchiveProgress,
): Promise<ArweaveCopy[]> {
  const copies: ArweaveCopy[] = [];
  for (const content of contents) {
    const txId = await copyOf(archive, kubo, content, asset, progress);
    copies.push({ cid: content.cid, sha256: content.sha256, txId, url: `${archive.gatewayUrl}/${txId}` });
  }
  return copies;
}

async function copyOf(archive: ArweaveArchive, kubo: KuboRPCClient, content: ArchiveContent, asset: string, progress: ArchiveProgress): Promise<string> {
  const earlier = progress.posted[content.sha256];
  if (earlier && (await isKnown(archive, earlier))) return earlier;
  const existing = await findCopy(archive, content.sha256);
  if (existing) return existing;
  const bytes = await readVerified(kubo, content);
  const { arweave, wallet } = archive;
  const tx = await arweave.createTransaction({ data: bytes }, wallet);
  tx.addTag(ARWEAVE_TAGS.contentType, content.mimeType);
  tx.addTag(ARWEAVE_TAGS.sha256, content.sha256);
  tx.addTag(ARWEAVE_TAGS.asset, asset);
  tx.addTag(ARWEAVE_TAGS.app, ARWEAVE_APP_NAME);
  await arweave.transactions.sign(tx, wallet);
  // Recorded before posting: if this attempt dies mid-upload, the next one asks the gateway about this id first.
  progress.posted[content.sha256] = tx.id;
  Context.current().heartbeat(progress);
  const posted = await arweave.transactions.post(tx);
  if (posted.status !== 200 && posted.status !== 208) {
    // 400: the gateway refuses the transaction itself (a retry signs a new one); 402/410: the wallet cannot pay.
    throw ApplicationFailure.retryable(`Arweave gateway refused the upload of ${content.cid}: HTTP ${posted.status} ${posted.statusText}`, 'ArweaveUpload');
  }
  if (archive.mine) {
    const mined = await fetch(`${archive.gatewayUrl}/mine`, { signal: AbortSignal.timeout(30_000) });
    if (!mined.ok) throw new Error(`the local Arweave gateway did not mine: HTTP ${mined.status}`);
  }
  return tx.id;
}

/** Whether the gateway knows the transaction (mined: 200, pending: 202). */
async function isKnown({ arweave }: ArweaveArchive, txId: string): Promise<boolean> {
  const { status } = await arweave.api.get(`tx/${txId}/status`);
  return status === 200 || status === 202;
}

const copyQuery = `query Copy($owner: String!, $sha256: String!) {
  transactions(owners: [$owner], tags: [{ name: "${ARWEAVE_TAGS.sha256}", values: [$sha256] }, { name: "${ARWEAVE_TAGS.app}", values: ["${ARWEAVE_APP_NAME}"] }], first: 1) {
    edges { node { id } }
  }
}`;

/** This wallet's transaction holding these bytes, if the gateway has one (only this wallet's: anyone can tag anything). */
async function findCopy({ arweave, wallet }: ArweaveArchive, sha256: string): Promise<string | undefined> {
  const response = await arweave.api.post<{ data?: { transactions?: { edges?: { node: { id: string } }[] } }; errors?: { message: string }[] }>('graphql', {
    query: copyQuery,
    variables: { owner: arweaveAddress(wallet), sha256 },
  });
  if (response.status !== 200 || response.data.errors?.length || !response.data.data?.transactions) {
    const why = response.data.errors?.map((e) => e.message).join('; ') ?? `HTTP ${response.status}`;
    throw new Error(`Arweave gateway GraphQL lookup of sha256 ${sha256} failed: ${why}`);
  }
  return response.data.data.transactions.edges?.[0]?.node.id;
}
