// confirm: the asset run believes a mint only after its own chain read, at the configured depth.
// A token the chain no longer holds (a reorganisation, a node that lost its last blocks) is
// reported as dropped, and the run mints again; the contract still allows one token per asset.
import { heartbeat, log, sleep } from '@temporalio/activity';
import type { JsonRpcProvider, Wallet } from 'ethers';
import type { MintReceipt } from '../common/asset.ts';
import { assetIdOf, connectCreativeAsset } from '../contracts/index.ts';
import { existingMint } from './mint.ts';

export interface ConfirmDependencies {
  provider: JsonRpcProvider;
  signer: Wallet;
  contractAddress: string;
  deploymentBlock: number;
  /** Blocks on top of the mint's (itself included) before it counts. */
  confirmations: number;
}

export type MintConfirmation = { status: 'confirmed'; mint: MintReceipt } | { status: 'dropped'; reason: string };

export function createConfirmActivities({ provider, signer, contractAddress, deploymentBlock, confirmations }: ConfirmDependencies) {
  const onChain = { contract: connectCreativeAsset(contractAddress, signer), provider, contractAddress, deploymentBlock };
  return {
    /** The chain's own record of the asset's token once it is `confirmations` deep, or why there is none. */
    async confirmMint({ collectionId, assetKey }: { collectionId: string; assetKey: string }): Promise<MintConfirmation> {
      const assetId = assetIdOf(collectionId, assetKey);
      for (;;) {
        const found = await existingMint(onChain, assetId);
        if (!found) {
          log.warn('the chain holds no token for this asset any more', { assetId: assetId.toString() });
          return { status: 'dropped', reason: `the chain holds no token for asset ${assetId} (a reorganisation or a node that lost blocks dropped it)` };
        }
        const head = await provider.getBlockNumber();
        const depth = head - found.blockNumber + 1;
        heartbeat({ tokenId: found.tokenId, depth });
        if (found.blockNumber > 0 && depth >= confirmations) return { status: 'confirmed', mint: found };
        await sleep(1_000);
      }
    },
  };
}
