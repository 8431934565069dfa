// Permanent copies on Arweave, against the test stack's arlocal (a local gateway, its dev wallet in the
// data folder): a copy reads back byte-identical, and archiving the same bytes again creates no new
// transaction.
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { create as createKubo } from 'kubo-rpc-client';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ARWEAVE_TAGS, createArweaveActivities } from '../activities/arweave.ts';
import type { ArchiveContent, ArchiveInput, ArweaveCopy } from '../activities/arweave.ts';
import { addContent } from '../activities/kubo.ts';
import type { ContentRef } from '../common/asset.ts';
import { loadConfig } from '../common/config.ts';
import { Stack } from '../scripts/lib/stack.ts';
import { createWorkerActivities } from '../workers/dependencies.ts';

const config = loadConfig();
const gateway = config.arweave!.url;
const { activities, close } = createWorkerActivities(config);
afterAll(() => close());

const mock = () => new MockActivityEnvironment({ startToCloseTimeoutMs: 60_000, heartbeatTimeoutMs: 30_000 });
const archive = (input: ArchiveInput) => mock().run(activities.archiveAsset, input) as Promise<ArweaveCopy[]>;

/** Content added to the test stack's Kubo, as format leaves a rendition and the metadata. */
async function stored(bytes: Buffer, mimeType: string): Promise<ArchiveContent> {
  const kubo = createKubo({ url: config.ATELIER_KUBO_API_URL });
  const ref = (await mock().run(() => addContent(kubo, bytes, { pin: true }))) as ContentRef;
  return { ...ref, mimeType };
}

/** Every transaction on the gateway tagged with this sha256, whoever posted it. */
async function taggedWith(sha256: string): Promise<{ id: string; tags: { name: string; value: string }[] }[]> {
  const response = await fetch(`${gateway}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `query($sha: [String!]!) { transactions(tags: [{ name: "${ARWEAVE_TAGS.sha256}", values: $sha }], first: 100) { edges { node { id tags { name value } } } } }`,
      variables: { sha: [sha256] },
    }),
  });
  const body = (await response.json()) as { data: { transactions: { edges: { node: { id: string; tags: { name: string; value: string }[] } }[] } } };
  return body.data.transactions.edges.map((e) => e.node);
}

describe('Arweave copies (test stack: arlocal)', () => {
  it('the test stack runs a local gateway, with a dev wallet in the data folder', () => {
    expect(config.arweave).toMatchObject({ local: true, walletFile: `${config.dataDir}/arweave/wallet.json` });
  });

  it('copies a rendition and the metadata; each reads back byte-identical from the gateway, tagged', async () => {
    const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: randomBytes(1)[0]!, g: 40, b: 200 } } })
      .png()
      .toBuffer();
    const metadata = Buffer.from(JSON.stringify({ name: `Critter ${randomBytes(6).toString('hex')}`, image: 'ipfs://...' }));
    const contents = [await stored(image, 'image/png'), await stored(metadata, 'application/json')];
    const copies = await archive({ contents, collectionId: 'critters', assetKey: '7' });

    expect(copies.map((c) => c.cid)).toEqual(contents.map((c) => c.cid));
    for (const [i, copy] of copies.entries()) {
      expect(copy.txId).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(copy.url).toBe(`${gateway}/${copy.txId}`);
      const read = await fetch(copy.url);
      expect(read.status).toBe(200);
      expect(read.headers.get('content-type')?.split(';')[0]).toBe(contents[i]!.mimeType);
      expect(Buffer.from(await read.arrayBuffer()).equals(i === 0 ? image : metadata)).toBe(true);
      const [tx, ...more] = await taggedWith(copy.sha256);
      expect(more).toEqual([]);
      expect(tx!.id).toBe(copy.txId);
      expect(Object.fromEntries(tx!.tags.map((t) => [t.name, t.value]))).toEqual({
        'Content-Type': contents[i]!.mimeType,
        'Atelier-Sha256': copy.sha256,
        'Atelier-Asset': 'critters/7',
        'App-Name': 'Atelier',
      });
    }
  });

  it('a second upload of the same bytes creates no new transaction', async () => {
    const content = await stored(randomBytes(2048), 'application/octet-stream');
    const [first] = await archive({ contents: [content], collectionId: 'critters', assetKey: '8' });
    const height = ((await (await fetch(`${gateway}/info`)).json()) as { height: number }).height;

    const [again] = await archive({ contents: [content], collectionId: 'critters', assetKey: '8' });
    expect(again).toEqual(first);
    expect((await taggedWith(content.sha256)).map((tx) => tx.id)).toEqual([first!.txId]);
    // Nothing posted, so nothing mined either.
    expect(((await (await fetch(`${gateway}/info`)).json()) as { height: number }).height).toBe(height);
  });

  it('a retried attempt reuses the transaction an earlier attempt posted (its heartbeat details), even before the gateway indexes it', async () => {
    const content = await stored(randomBytes(1024), 'application/octet-stream');
    const [first] = await archive({ contents: [content], collectionId: 'critters', assetKey: '9' });
    // The id in the details is checked with the gateway (GET /tx/<id>/status) and reused: nothing is posted.
    const retried = new MockActivityEnvironment({ heartbeatDetails: { posted: { [content.sha256]: first!.txId } } });
    const [again] = (await retried.run(activities.archiveAsset, { contents: [content], collectionId: 'critters', assetKey: '9' })) as ArweaveCopy[];
    expect(again!.txId).toBe(first!.txId);
  });

  it('a copy survives a restart of the gateway (arlocal keeps its database in the data folder), and the wallet stays funded', async () => {
    const bytes = randomBytes(512);
    const content = await stored(bytes, 'application/octet-stream');
    const [copy] = await archive({ contents: [content], collectionId: 'critters', assetKey: '10' });
    const stack = new Stack(config);
    expect(stack.services).toContain('arweave');
    await stack.stop('arweave');
    await stack.start('arweave', () => {});
    expect(Buffer.from(await (await fetch(copy!.url)).arrayBuffer()).equals(bytes)).toBe(true);
    const [again] = await archive({ contents: [content], collectionId: 'critters', assetKey: '10' });
    expect(again!.txId).toBe(copy!.txId);
  });

  it('with Arweave off (no ATELIER_ARWEAVE_URL) copies nothing', async () => {
    const off = createArweaveActivities({ kubo: createKubo({ url: config.ATELIER_KUBO_API_URL }) });
    const content = await stored(randomBytes(16), 'application/octet-stream');
    expect(await mock().run(off.archiveAsset, { contents: [content], collectionId: 'critters', assetKey: '1' })).toEqual([]);
  });
});
