/**
 * Between IPFS CIDs and the 32-byte digests CreativeAsset stores, and the batch directory that
 * `mintBatch` points at.
 *
 * - A single `mint` stores the sha2-256 digest of a metadata file that is one raw block
 *   (`ipfs add --cid-version 1` of a file up to the 256 KiB chunk size): CID = 0x01 0x55 0x12 0x20
 *   <digest>, `bafkrei...`.
 * - A `mintBatch` stores the digest of a UnixFS directory (dag-pb): CID = 0x01 0x70 0x12 0x20
 *   <digest>, `bafybei...`, whose entry named `i` (no extension) links to the batch's i-th metadata
 *   block, so `ipfs://<root>/<i>` resolves to exactly that block's bytes.
 */
import * as dagPb from '@ipld/dag-pb';
import type { KuboRPCClient } from 'kubo-rpc-client';
import { equals } from 'multiformats/bytes';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import * as Digest from 'multiformats/hashes/digest';
import { sha256 } from 'multiformats/hashes/sha2';

export type Hex32 = `0x${string}`;

/** UnixFS `Data { Type: Directory }`, exactly what Kubo writes for a plain directory node. */
const UNIXFS_DIRECTORY_DATA = Uint8Array.of(0x08, 0x01);

function toHex(bytes: Uint8Array): Hex32 {
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

function fromHex32(digest: string): Uint8Array {
  if (!/^0x[0-9a-fA-F]{64}$/.test(digest)) throw new Error(`expected a 32-byte hex digest, got ${digest}`);
  return Uint8Array.from(Buffer.from(digest.slice(2), 'hex'));
}

function asCid(cid: string | CID): CID {
  return typeof cid === 'string' ? CID.parse(cid) : cid;
}

function sha256DigestOf(cid: CID): Hex32 {
  if (cid.multihash.code !== sha256.code || cid.multihash.size !== 32) {
    throw new Error(`CID ${cid} is not hashed with sha2-256; CreativeAsset only stores sha2-256 digests`);
  }
  return toHex(cid.multihash.digest);
}

/** Digest for `mint`/`updateContent`: the metadata must be a single raw block (`bafkrei...`). */
export function metadataDigestFromCid(cid: string | CID): Hex32 {
  const parsed = asCid(cid);
  if (parsed.code !== raw.code) {
    throw new Error(`metadata CID ${parsed} is not a raw block; add the file with --cid-version 1 (raw leaves) and keep it under 256 KiB`);
  }
  return sha256DigestOf(parsed);
}

/** Digest for `mintBatch`/`updateBatchContent`: a dag-pb directory (`bafybei...` or `Qm...`). */
export function directoryDigestFromCid(cid: string | CID): Hex32 {
  const parsed = asCid(cid);
  if (parsed.code !== dagPb.code) throw new Error(`batch root CID ${parsed} is not a dag-pb directory`);
  return sha256DigestOf(parsed);
}

/** The `bafkrei...` CID that `tokenURI` builds from a raw-block digest. */
export function rawCidFromDigest(digest: string): CID {
  return CID.createV1(raw.code, Digest.create(sha256.code, fromHex32(digest)));
}

/** The `bafybei...` CID that `tokenURI` builds from a directory digest. */
export function directoryCidFromDigest(digest: string): CID {
  return CID.createV1(dagPb.code, Digest.create(sha256.code, fromHex32(digest)));
}

/** The `tokenURI` a token gets: `ipfs://<raw CID>` or `ipfs://<directory CID>/<index>`. */
export function tokenUriOf(content: { metadataCid: string | CID } | { rootCid: string | CID; index: number }): string {
  if ('metadataCid' in content) return `ipfs://${asCid(content.metadataCid).toV1().toString()}`;
  return `ipfs://${asCid(content.rootCid).toV1().toString()}/${content.index}`;
}

export interface DirectoryEntry {
  cid: string | CID;
  /** The entry's name; a batch names entries by position (`0`, `1`, ...). */
  name?: string;
  /** Cumulative size of the linked DAG (a raw block: its length); only a hint for readers. */
  size: number;
}

/**
 * The batch directory for `entries` (entry `i` named `String(i)`), computed locally: same inputs,
 * same root, before anything touches Kubo.
 */
export async function buildBatchDirectory(entries: readonly DirectoryEntry[]): Promise<{ cid: CID; block: Uint8Array }> {
  if (entries.length === 0) throw new Error('a batch directory needs at least one entry');
  const node = dagPb.prepare({
    Data: UNIXFS_DIRECTORY_DATA,
    // prepare() sorts links by name bytes ("0", "1", "10", ...), as dag-pb requires.
    Links: entries.map((entry, index) => ({ Name: entry.name ?? String(index), Tsize: entry.size, Hash: asCid(entry.cid) })),
  });
  const block = dagPb.encode(node);
  const cid = CID.createV1(dagPb.code, await sha256.digest(block));
  return { cid, block };
}

/**
 * Builds the batch directory for `metadataCids` (in batch order: entry `i` is the metadata of the
 * batch's i-th token), stores it in Kubo and pins it recursively. The metadata blocks must already
 * be in the node (pinned by whoever added them). Idempotent: the same CIDs give the same root.
 */
export async function pinBatchDirectory(
  kubo: KuboRPCClient,
  metadataCids: readonly (string | CID)[],
  options: { signal?: AbortSignal } = {},
): Promise<{ cid: CID; digest: Hex32 }> {
  const entries: DirectoryEntry[] = [];
  for (const cid of metadataCids) {
    // block.stat fails fast on an offline node and gives the Tsize Kubo itself would record.
    const stat = await kubo.block.stat(asCid(cid), { signal: options.signal });
    entries.push({ cid, size: stat.size });
  }
  const cid = await pinDirectory(kubo, entries, options);
  return { cid, digest: directoryDigestFromCid(cid) };
}

/**
 * Stores and pins the directory of `entries` (named by `name`, else by position): one dag-pb block,
 * about 50 bytes an entry, so up to about 20,000 entries (Kubo refuses blocks over 1 MiB). The linked blocks must be in the node.
 */
export async function pinDirectory(kubo: KuboRPCClient, entries: readonly DirectoryEntry[], options: { signal?: AbortSignal } = {}): Promise<CID> {
  const { cid, block } = await buildBatchDirectory(entries);
  const stored = await kubo.block.put(block, { format: 'dag-pb', mhtype: 'sha2-256', version: 1, signal: options.signal });
  if (!equals(stored.multihash.bytes, cid.multihash.bytes)) {
    throw new Error(`Kubo stored the batch directory as ${stored}, expected ${cid}`);
  }
  await kubo.pin.add(cid, { recursive: true, signal: options.signal });
  return cid;
}
