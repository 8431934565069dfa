// The asset lifecycle end to end on the real stack: start -> approve -> format -> pin -> mint.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { assetIdOf } from '../contracts/index.ts';
import { atelierCli, chain, config, gatewayGet, startWorker, testSpec, waitForStage } from './support/harness.ts';

let client: AtelierClient;
let worker: Awaited<ReturnType<typeof startWorker>>;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  client = await AtelierClient.connect(config);
  worker = await startWorker();
});
afterAll(async () => {
  await worker?.stop();
  await client?.close();
});

describe('assetLifecycle', () => {
  it('start -> approve from the CLI -> minted; the token URI resolves to the metadata and its image to the approved draft', async () => {
    const spec = testSpec();
    const { workflowId, started } = await client.start(spec);
    expect(started).toBe(true);
    const awaiting = await waitForStage(client, workflowId, 'awaiting_approval');
    expect(awaiting.draftCid).toMatch(/^bafk/);

    const approved = await atelierCli(['approve', `${spec.collectionId}:${spec.assetKey}`, '--by', 'maria', '--comment', 'lovely']);
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);

    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.approver).toBe('maria');
    expect(result.decisions).toMatchObject([{ kind: 'approve', by: 'maria', via: 'cli', comment: 'lovely', outcome: 'accepted', round: 1 }]);

    const { contract, close } = chain();
    try {
      const tokenId = await contract.tokenOfAsset(assetIdOf(spec.collectionId, spec.assetKey));
      expect(tokenId.toString()).toBe(result.tokenId);
      expect(await contract.ownerOf(tokenId)).toBe(spec.recipient);
      const uri = await contract.tokenURI(tokenId);
      expect(uri).toBe(`ipfs://${result.metadataCid}`);

      const metadata = JSON.parse((await gatewayGet(uri.slice('ipfs://'.length))).toString());
      expect(metadata.name).toBe(spec.name);
      expect(metadata.properties.provenance).toMatchObject({ approvedBy: 'maria', approvedVia: 'cli', workflowId, round: 1 });
      const image = await gatewayGet(metadata.image.slice('ipfs://'.length));
      const draft = await gatewayGet(awaiting.draftCid!);
      expect(sha256(image)).toBe(sha256(draft));
      expect(image.subarray(1, 4).toString()).toBe('PNG');
      expect(metadata.properties.renditions.map((r: { name: string }) => r.name)).toEqual(['original', 'webp-1024', 'webp-512', 'thumb-256']);
    } finally {
      close();
    }

    // The run is visible by collection, stage, approver and token.
    const listed = await atelierCli(['list', '--collection', spec.collectionId, '--json']);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ workflowId, stage: 'minted', approver: 'maria', tokenId: Number(result.tokenId) }]);

    // Starting the same asset again returns the existing run, and nothing else is minted.
    expect((await client.start(spec)).started).toBe(false);
  });
});
