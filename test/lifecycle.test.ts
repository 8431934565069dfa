// The asset lifecycle end to end on the real stack: start -> approve -> format -> pin -> mint.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { assetIdOf } from '../contracts/index.ts';
import { sha256Hex } from '../activities/kubo.ts';
import { atelierCli, chain, config, gatewayGet, saveHistoryIfAsked, startWorker, testSpec, waitFor, waitForStage } from './support/harness.ts';
import { approveSignal } from '../workflows/messages.ts';

let client: AtelierClient;
let worker: Awaited<ReturnType<typeof startWorker>>;

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
    const { workflowId, outcome: started } = await client.start(spec);
    expect(started).toBe('started');
    const awaiting = await waitForStage(client, workflowId, 'awaiting_approval');
    expect(awaiting.draftCid).toMatch(/^bafk/);

    const approved = await atelierCli(['approve', `${spec.collectionId}:${spec.assetKey}`, '--by', 'maria', '--comment', 'lovely']);
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);

    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.approver).toBe('maria');
    expect(result.decisions).toMatchObject([{ kind: 'approve', by: 'maria', via: 'cli', comment: 'lovely', round: 1, draftCid: awaiting.draftCid }]);

    const { contract, close } = chain();
    try {
      const tokenId = await contract.tokenOfAsset(assetIdOf(spec.collectionId, spec.assetKey));
      expect(tokenId.toString()).toBe(result.tokenId);
      expect(await contract.ownerOf(tokenId)).toBe(spec.recipient);
      const uri = await contract.tokenURI(tokenId);
      expect(uri).toBe(`ipfs://${result.metadataCid}`);

      const metadata = JSON.parse((await gatewayGet(uri.slice('ipfs://'.length))).toString());
      expect(metadata.name).toBe(spec.name);
      expect(metadata.properties.provenance).toMatchObject({
        approvedBy: 'maria',
        approvedVia: 'cli',
        workflowId,
        round: 1,
        approvalSigned: false,
        approvalSignature: null,
      });
      const image = await gatewayGet(metadata.image.slice('ipfs://'.length));
      const draft = await gatewayGet(awaiting.draftCid!);
      expect(sha256Hex(image)).toBe(sha256Hex(draft));
      expect(image.subarray(1, 4).toString()).toBe('PNG');
      expect(metadata.properties.renditions.map((r: { name: string }) => r.name)).toEqual(['original', 'webp-1024', 'webp-512', 'thumb-256']);
    } finally {
      close();
    }

    // The run is visible by collection, stage, approver and token.
    const listed = await atelierCli(['list', '--collection', spec.collectionId, '--json']);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ workflowId, stage: 'minted', approver: 'maria', tokenId: Number(result.tokenId) }]);

    // Starting the same asset again returns the existing run, and nothing else is minted.
    expect((await client.start(spec)).outcome).toBe('minted');
    expect((await atelierCli(['start', '--spec', await specFile(spec)])).stdout).toMatch(/^already minted \(nothing started\)/);
    await saveHistoryIfAsked(workflowId, 'approved-from-cli');
  });

  it('reject with feedback -> a new round with a different draft, generated from that feedback -> approve -> minted', async () => {
    const spec = testSpec();
    const { workflowId } = await client.start(spec);
    const first = await waitForStage(client, workflowId, 'awaiting_approval');

    const rejected = await atelierCli(['reject', workflowId, '--by', 'maria', '--reason', 'make it sleepy: eyes=sleepy']);
    expect(rejected.code).toBe(0);
    const second = await waitForRound(workflowId, 2);
    expect(second.draftCid).not.toBe(first.draftCid);
    expect(second.feedback).toEqual(['make it sleepy: eyes=sleepy']);

    // A decision made on the first round's draft arrives late: refused with the reason, not kept.
    await expect(client.approve(workflowId, { by: 'maria', via: 'slack', round: 1, draftCid: first.draftCid! })).rejects.toThrow(
      /round 1 of .* was replaced by round 2/,
    );
    await client.temporal.workflow.getHandle(workflowId).signal(approveSignal, { by: 'maria', via: 'slack', round: 1, draftCid: first.draftCid! });
    await client.approve(workflowId, { by: 'maria', via: 'script', round: 2, draftCid: second.draftCid! });
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.round).toBe(2);
    expect(result.decisions.map((d) => [d.kind, d.round, d.draftCid])).toEqual([
      ['reject', 1, first.draftCid],
      ['approve', 2, second.draftCid],
    ]);
    const metadata = JSON.parse((await gatewayGet(result.metadataCid!)).toString());
    expect(metadata.attributes).toContainEqual({ trait_type: 'eyes', value: 'sleepy' });
    expect(metadata.properties.provenance.draft.uri).toBe(`ipfs://${second.draftCid}`);
    await saveHistoryIfAsked(workflowId, 'rejected-then-approved');
  });

  it('past max rounds the run ends rejected and nothing is minted', async () => {
    const spec = testSpec({ approval: { policy: 'manual', approvers: [], keys: {}, unsigned: true, remindAfter: '1h', expireAfter: '2h', maxRounds: 2 } });
    const { workflowId } = await client.start(spec);
    await waitForStage(client, workflowId, 'awaiting_approval');
    await client.reject(workflowId, { by: 'maria', via: 'script', comment: 'no' });
    await waitForRound(workflowId, 2);
    await client.reject(workflowId, { by: 'maria', via: 'script', comment: 'still no' });

    const result = await client.result(workflowId);
    expect(result.stage).toBe('rejected');
    expect(result.tokenId).toBeNull();
    expect(result.decisions.map((d) => [d.kind, d.round])).toEqual([
      ['reject', 1],
      ['reject', 2],
    ]);
    await expectNotMinted(spec.collectionId, spec.assetKey);
    const late = await atelierCli(['approve', workflowId, '--by', 'maria']);
    expect(late.code).toBe(3);
    expect(late.stderr).toMatch(/is not awaiting a decision \(rejected; reject by maria/);
  });

  it('expires after the configured duration, with a reminder first; nothing is minted', async () => {
    const spec = testSpec({ approval: { policy: 'manual', approvers: [], keys: {}, unsigned: true, remindAfter: '1s', expireAfter: '3s', maxRounds: 3 } });
    const { workflowId } = await client.start(spec);
    const result = await client.result(workflowId);
    expect(result.stage).toBe('expired');
    expect(result.reminders).toBe(1);
    await expectNotMinted(spec.collectionId, spec.assetKey);
    const late = await atelierCli(['approve', workflowId, '--by', 'maria']);
    expect(late.code).toBe(3);
    expect(late.stderr).toMatch(/expired without a decision; start it again/);
    await saveHistoryIfAsked(workflowId, 'expired');
  });

  it('a decision from someone not allowed is refused by the run with the reason, and not kept', async () => {
    const spec = testSpec({
      approval: { policy: 'manual', approvers: ['maria'], keys: {}, unsigned: true, remindAfter: '1h', expireAfter: '2h', maxRounds: 3 },
    });
    const { workflowId } = await client.start(spec);
    const awaiting = await waitForStage(client, workflowId, 'awaiting_approval');

    const refused = await atelierCli(['approve', workflowId, '--by', 'mallory']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/mallory may not decide .*allowed: maria/);

    // A signal sent around the CLI is refused the same way (logged by the worker), and changes nothing.
    await client.temporal.workflow.getHandle(workflowId).signal(approveSignal, { by: 'mallory', via: 'script', round: 1, draftCid: awaiting.draftCid! });
    await client.approve(workflowId, { by: 'maria', via: 'cli' });
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.approver).toBe('maria');
    expect(result.decisions.map((d) => d.by)).toEqual(['maria']);
  });

  it('runs unattended under the auto policy, recorded as decided by policy:auto', async () => {
    const spec = testSpec({ approval: { policy: 'auto' } });
    const { workflowId } = await client.start(spec);
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.decisions).toMatchObject([{ kind: 'approve', by: 'policy:auto', via: 'policy' }]);
    await saveHistoryIfAsked(workflowId, 'auto-policy');
  });
});

const waitForRound = (workflowId: string, round: number) =>
  waitFor(
    `round ${round} of ${workflowId} to await approval`,
    async () => {
      const status = await client.status(workflowId);
      return status.round === round && status.stage === 'awaiting_approval' ? status : undefined;
    },
    30_000,
  );

async function specFile(spec: object): Promise<string> {
  const file = path.join(os.tmpdir(), `atelier-spec-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(spec));
  return file;
}

async function expectNotMinted(collectionId: string, assetKey: string) {
  const { contract, close } = chain();
  try {
    expect(await contract.tokenOfAsset(assetIdOf(collectionId, assetKey))).toBe(0n);
  } finally {
    close();
  }
}
