// A collection's fair reveal, as a rule in one place (docs/reveal.md): the placeholder metadata
// every token mints with, the offset a block hash gives, which final metadata each token gets, and
// the check anyone can run on a published reveal record. Pure code (no Node modules): the workflow,
// the worker, the CLI and a collector's own script use these same functions.
import { provenanceHashOf } from './dna.ts';

/** What the published record says the rule is; the code below is that rule. */
export const REVEAL_SCHEME =
  'offset = uint256(hash of block lastMintBlock + 1) mod count, where lastMintBlock holds the mint of the ' +
  "collection's highest token; the token at provenance position i (0-based; tokens in token-id order) " +
  'shows the final metadata at position (i + offset) mod count (metadata in provenance order)';

/** Progress of a reveal, as the collection run shows it. */
export interface RevealState {
  /** The one metadata every token minted with (a raw block). */
  placeholderMetadataCid: string;
  requested: { by: string; at: string } | null;
  /** The block whose hash gives the offset, once known, while the reveal waits for it. */
  waitingForBlock: number | null;
  revealed: RevealSummary | null;
  /** Why the last reveal attempt was refused; another `reveal` may try again. */
  refused: string | null;
}

export interface RevealSummary {
  recordCid: string;
  offset: number;
  count: number;
  revealBlock: { number: number; hash: string };
  transactionHash: string | null;
  at: string;
}

/** The published reveal record (JSON, pinned): everything needed to recompute the mapping. */
export interface RevealRecord {
  version: 1;
  scheme: string;
  collectionId: string;
  chainId: number;
  contract: string;
  /** Published in the collection metadata (contractURI) before the first mint. */
  provenanceHash: string;
  placeholderMetadataCid: string;
  count: number;
  /** Provenance order, position i: the token, its asset's final metadata and original image sha256. */
  tokens: string[];
  metadata: string[];
  imageSha256: string[];
  lastMintBlock: number;
  revealBlock: { number: number; hash: string };
  offset: number;
  /** `mapping[i]`: what `tokens[i]` shows after the reveal. */
  mapping: { tokenId: string; metadataCid: string }[];
  /** The batch directories the reveal transaction set. */
  batches: { firstTokenId: string; lastTokenId: string; root: string }[];
  transactionHash: string | null;
}

/** The placeholder metadata JSON (the same spec gives the same bytes, so the same CID). */
export function placeholderMetadataOf(collection: {
  id: string;
  size: number;
  reveal?: { placeholder: { name: string; description: string; image?: string } };
}): string {
  const placeholder = collection.reveal?.placeholder;
  if (!placeholder) throw new Error(`collection ${collection.id} has no reveal.placeholder`);
  const metadata = {
    name: placeholder.name,
    description: placeholder.description,
    ...(placeholder.image ? { image: placeholder.image } : {}),
    attributes: [],
    properties: { atelier: { collectionId: collection.id, size: collection.size, revealed: false } },
  };
  return JSON.stringify(metadata, null, 2);
}

/** uint256(blockHash) mod count. */
export function revealOffsetOf(blockHash: string, count: number): number {
  if (typeof blockHash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(blockHash)) throw new Error(`expected a 32-byte block hash, got "${String(blockHash)}"`);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`expected a count of at least 1, got ${count}`);
  return Number(BigInt(blockHash) % BigInt(count));
}

/** Each token (provenance order) with the final metadata the offset gives it. */
export function revealMappingOf(tokens: readonly string[], metadata: readonly string[], offset: number): { tokenId: string; metadataCid: string }[] {
  const count = tokens.length;
  if (metadata.length !== count) throw new Error(`${count} tokens but ${metadata.length} metadata`);
  if (!Number.isInteger(offset) || offset < 0 || offset >= Math.max(count, 1)) throw new Error(`offset ${offset} is outside 0..${count - 1}`);
  return tokens.map((tokenId, i) => ({ tokenId, metadataCid: metadata[(i + offset) % count]! }));
}

/**
 * Recomputes a published record: the provenance hash from its image digests, the offset from its
 * block hash, the mapping from the offset. Problems are named; an empty list means it holds. The
 * block hash itself and each token's tokenURI are the chain's to confirm (`collection verify-reveal`).
 */
export function checkRevealRecord(value: unknown): { ok: true; record: RevealRecord } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const r = value as Partial<RevealRecord> | null;
  if (typeof r !== 'object' || r === null) return { ok: false, problems: ['a reveal record is a JSON object'] };
  const list = (name: 'tokens' | 'metadata' | 'imageSha256') => (Array.isArray(r[name]) && r[name].every((v) => typeof v === 'string') ? r[name] : null);
  const tokens = list('tokens');
  const metadata = list('metadata');
  const images = list('imageSha256');
  if (!tokens || !metadata || !images) problems.push('"tokens", "metadata" and "imageSha256" must be lists of strings');
  if (!Number.isSafeInteger(r.count) || (r.count as number) < 1) problems.push('"count" must be a whole number of at least 1');
  if (!r.revealBlock || !Number.isSafeInteger(r.revealBlock.number) || typeof r.revealBlock.hash !== 'string')
    problems.push('"revealBlock" must be { number, hash }');
  if (problems.length > 0) return { ok: false, problems };
  const count = r.count!;
  if (tokens!.length !== count || metadata!.length !== count || images!.length !== count)
    problems.push(`"count" is ${count} but the record lists ${tokens!.length} tokens, ${metadata!.length} metadata and ${images!.length} image digests`);
  if (r.revealBlock!.number !== (r.lastMintBlock ?? NaN) + 1)
    problems.push(`the reveal block ${r.revealBlock!.number} is not the one after the last mint's (${r.lastMintBlock})`);
  try {
    const provenance = provenanceHashOf(images!);
    if (provenance !== r.provenanceHash) problems.push(`the image digests hash to ${provenance}, not the published provenance ${r.provenanceHash}`);
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0) return { ok: false, problems };
  let offset: number;
  try {
    offset = revealOffsetOf(r.revealBlock!.hash, count);
  } catch (error) {
    return { ok: false, problems: [(error as Error).message] };
  }
  if (offset !== r.offset) problems.push(`block ${r.revealBlock!.number}'s hash gives offset ${offset}, the record says ${r.offset}`);
  const mapping = revealMappingOf(tokens!, metadata!, offset);
  const recorded = Array.isArray(r.mapping) ? r.mapping : [];
  const wrong = mapping.filter((m, i) => recorded[i]?.tokenId !== m.tokenId || recorded[i]?.metadataCid !== m.metadataCid);
  if (recorded.length !== count || wrong.length > 0)
    problems.push(
      `the mapping differs from the one the offset gives${wrong.length ? ` (first at token ${wrong[0]!.tokenId}: expected ${wrong[0]!.metadataCid})` : ''}`,
    );
  return problems.length > 0 ? { ok: false, problems } : { ok: true, record: r as RevealRecord };
}
