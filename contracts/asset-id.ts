/**
 * Off-chain asset ids. CreativeAsset mints each asset id at most once, and tracks them in a bitmap
 * of 128 consecutive ids per storage word, so the id layout decides what the idempotency guard
 * costs:
 *
 *   assetId = collectionPrefix (high 192 bits) ‖ assetIndex (low 64 bits)
 *
 * - collectionPrefix = the first 24 bytes of keccak256(utf8(collectionId)).
 * - assetIndex for a numeric key ("7", "0007": digits only, below 2^63) is the number itself, so
 *   a collection's assets 0..127 share one word and a batch of consecutive keys costs about one
 *   word plus one run record, whatever its size.
 * - Any other key (or a number >= 2^63) gets assetIndex = 2^63 | (keccak256(utf8(key)) mod 2^63).
 *   The top bit keeps hashed keys apart from numbers. Hashed ids scatter, so each costs its own
 *   bitmap word and run record (~44k gas more per token than a numeric key); a collision inside
 *   one collection needs ~2^31 distinct keys. Prefer numeric keys for large collections.
 */
import { keccak256, toUtf8Bytes } from 'ethers';

export const ASSET_INDEX_BITS = 64n;
const ASSET_INDEX_MASK = (1n << ASSET_INDEX_BITS) - 1n;
/** Set in the low 64 bits of asset ids derived from non-numeric keys. */
export const HASHED_KEY_FLAG = 1n << 63n;

function keccakOfText(text: string): bigint {
  return BigInt(keccak256(toUtf8Bytes(text)));
}

/** The high 192 bits shared by every asset id of a collection. */
export function collectionPrefixOf(collectionId: string): bigint {
  return keccakOfText(collectionId) >> ASSET_INDEX_BITS;
}

/** The low 64 bits: the key's number for digit-only keys below 2^63, else a flagged hash. */
export function assetIndexOf(assetKey: string): bigint {
  if (/^[0-9]+$/.test(assetKey)) {
    const value = BigInt(assetKey);
    if (value < HASHED_KEY_FLAG) return value;
  }
  return HASHED_KEY_FLAG | (keccakOfText(assetKey) & (HASHED_KEY_FLAG - 1n));
}

/** The uint256 asset id of `assetKey` in `collectionId`; "7" and "0007" are the same asset. */
export function assetIdOf(collectionId: string, assetKey: string): bigint {
  return (collectionPrefixOf(collectionId) << ASSET_INDEX_BITS) | assetIndexOf(assetKey);
}

/** Splits an asset id into its collection prefix and index. */
export function decodeAssetId(assetId: bigint): { collectionPrefix: bigint; assetIndex: bigint; hashedKey: boolean } {
  const assetIndex = assetId & ASSET_INDEX_MASK;
  return { collectionPrefix: assetId >> ASSET_INDEX_BITS, assetIndex, hashedKey: (assetIndex & HASHED_KEY_FLAG) !== 0n };
}
