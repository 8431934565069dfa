// Where the CreativeAsset contract lives: ATELIER_CONTRACT_ADDRESS, or the local stack's record.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';

export interface Deployment {
  address: string;
  chainId: number;
  blockNumber: number;
  deployer: string;
  /** keccak256 of the deployed runtime code: a different build or a reset chain no longer matches. */
  codeHash: string;
}

export const deploymentFile = (config: Config) => path.join(config.dataDir, 'deployment.json');

export function readDeployment(config: Config): Deployment | undefined {
  const file = deploymentFile(config);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Deployment) : undefined;
}

/** The contract the workers mint on; a clear error when there is none yet. */
export function contractLocation(config: Config): { address: string; deploymentBlock: number } {
  if (config.ATELIER_CONTRACT_ADDRESS) return { address: config.ATELIER_CONTRACT_ADDRESS, deploymentBlock: 0 };
  const recorded = readDeployment(config);
  if (!recorded) {
    throw new Error(`No CreativeAsset contract: set ATELIER_CONTRACT_ADDRESS, or run \`npm run stack:up\` to deploy one (record: ${deploymentFile(config)})`);
  }
  return { address: recorded.address, deploymentBlock: recorded.blockNumber };
}
