// Deploys the CreativeAsset contract to the configured chain once, and again when the chain
// was reset or the contract changed. The record in the data folder tells workers where it is.
import fs from 'node:fs';
import { JsonRpcProvider, Wallet, keccak256 } from 'ethers';
import type { Config } from '../../common/config.ts';
import { deploymentFile, readDeployment } from '../../common/deployment.ts';
import type { Deployment } from '../../common/deployment.ts';
import { creativeAssetArtifact, deployCreativeAsset } from '../../contracts/index.ts';

/** The recorded deployment if the chain still holds exactly that code; otherwise a new one. */
export async function ensureDeployment(config: Config): Promise<Deployment> {
  const provider = new JsonRpcProvider(config.ATELIER_ETH_RPC_URL, undefined, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
  try {
    const chainId = Number((await provider.getNetwork()).chainId);
    const recorded = readDeployment(config);
    const expectedRuntime = keccak256(creativeAssetArtifact.deployedBytecode);
    if (recorded && recorded.chainId === chainId) {
      const code = await provider.getCode(recorded.address);
      if (code !== '0x' && keccak256(code) === recorded.codeHash && recorded.codeHash === expectedRuntime) return recorded;
    }
    const signer = new Wallet(config.ATELIER_SIGNER_KEY, provider);
    const { address, blockNumber } = await deployCreativeAsset(signer, {
      name: 'Atelier Creative Assets',
      symbol: 'ATLR',
      contractURI: '',
      royaltyReceiver: signer.address,
      royaltyBps: 500,
    });
    const deployment: Deployment = {
      address,
      chainId,
      blockNumber,
      deployer: signer.address,
      codeHash: keccak256(await provider.getCode(address)),
    };
    fs.mkdirSync(config.dataDir, { recursive: true });
    fs.writeFileSync(deploymentFile(config), JSON.stringify(deployment, null, 2));
    return deployment;
  } finally {
    provider.destroy();
  }
}
