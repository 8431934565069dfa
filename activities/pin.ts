// pin: the final renditions and metadata pinned in Kubo, each read back and checked by sha256.
import type { KuboRPCClient } from 'kubo-rpc-client';
import { CID } from 'multiformats/cid';
import type { ContentRef } from '../common/asset.ts';
import { heartbeatWhile } from './heartbeat.ts';
import { kuboSignal, readVerified } from './kubo.ts';
import { recordPinned } from './metrics.ts';

export interface PinInput {
  contents: ContentRef[];
}

export function createPinActivities({ kubo }: { kubo: KuboRPCClient }) {
  return {
    /** Idempotent: pinning pinned content is a no-op, and CIDs name content, not uploads. */
    async pinAsset({ contents }: PinInput): Promise<{ pinned: string[] }> {
      return heartbeatWhile(async () => {
        for (const content of contents) {
          await kubo.pin.add(CID.parse(content.cid), { recursive: true, signal: kuboSignal() });
          await readVerified(kubo, content);
        }
        recordPinned(contents);
        return { pinned: contents.map((c) => c.cid) };
      });
    },
  };
}
