// Content in and out of Kubo, always CIDv1 with raw leaves, always checked by sha256.
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { KuboRPCClient } from 'kubo-rpc-client';
import type { ContentRef } from '../common/asset.ts';

export const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A Kubo call that has not finished after this long fails (and its activity is retried). */
export const KUBO_CALL_TIMEOUT_MS = 60_000;

/**
 * The signal to give every Kubo call: it ends the call after KUBO_CALL_TIMEOUT_MS, or when the
 * activity is cancelled. kubo-rpc-client 7.1 ignores its client-wide `timeout` (its check is
 * inverted and the combined signal never reaches fetch); a per-call `signal` does reach it.
 */
export function kuboSignal(): AbortSignal {
  const timeout = AbortSignal.timeout(KUBO_CALL_TIMEOUT_MS);
  const cancelled = Context.current().cancellationSignal;
  return AbortSignal.any([cancelled, timeout]);
}

/** Adds bytes to the node; the same bytes always give the same CID, so a retry adds nothing new. */
export async function addContent(kubo: KuboRPCClient, bytes: Uint8Array, { pin }: { pin: boolean }): Promise<ContentRef> {
  const { cid } = await kubo.add(bytes, { cidVersion: 1, rawLeaves: true, pin, signal: kuboSignal() });
  return { cid: cid.toString(), sha256: sha256Hex(bytes), bytes: bytes.byteLength };
}

export async function readContent(kubo: KuboRPCClient, cid: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of kubo.cat(cid, { signal: kuboSignal() })) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Reads content back and fails for good if it is not what was recorded. */
export async function readVerified(kubo: KuboRPCClient, ref: ContentRef): Promise<Buffer> {
  const bytes = await readContent(kubo, ref.cid);
  const actual = sha256Hex(bytes);
  if (actual !== ref.sha256) {
    throw ApplicationFailure.nonRetryable(`content ${ref.cid} has sha256 ${actual}, expected ${ref.sha256}`, 'ContentMismatch');
  }
  return bytes;
}
