// A designer's path on the real stack, with real git and real HTTP: pushes to a bare repository with
// the installed hook start, revise and check asset runs; push webhooks in the GitHub format are
// verified and coalesced; every stage change goes out as a signed webhook, exactly once per event id.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { requestSync, syncKnowsDelivery } from '../client/repository.ts';
import { signGitDelivery, startGitWebhookServer } from '../client/webhooks/server.ts';
import type { AssetEventName } from '../common/events.ts';
import { repositorySyncWorkflowId } from '../common/repository.ts';
import { verifyWebhook } from '../common/webhooks.ts';
import { repositorySyncQuery } from '../workflows/messages.ts';
import {
  atelierCli,
  config,
  killProcess,
  recipient,
  saveHistoryIfAsked,
  spawnWorkerProcess,
  testSpec,
  startWorker,
  uniqueCollection,
  waitFor,
  waitForStage,
} from './support/harness.ts';

const run = promisify(execFile);
const root = path.join(config.dataDir, 'repos');
const here = path.join(root, `t-${randomUUID().slice(0, 8)}`);
const bare = path.join(here, 'art.git');
const work = path.join(here, 'work');
const collection = uniqueCollection('art');
const assetsDir = path.join(work, 'assets', collection);
// Literals test/secrets.test.ts looks for in every history and log the suite leaves.
const webhookSecret = 'receiver-secret-4f1c9a7e2b';
const gitSecret = 'git-webhook-secret-8d3e6b0a91';

interface Received {
  id: string;
  type: AssetEventName;
  body: string;
  data: Record<string, unknown>;
  verified: boolean;
}
const received: Received[] = [];
/** While set, deliveries of this event type are held unanswered (the worker dies holding one). */
let holdType: AssetEventName | undefined;
const held: http.ServerResponse[] = [];
let receiver: http.Server;
let atelier: AtelierClient;
let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
let workerEnv: Record<string, string>;

const git = (cwd: string, ...args: string[]) =>
  run('git', args, {
    cwd,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Designer',
      GIT_AUTHOR_EMAIL: 'd@studio.test',
      GIT_COMMITTER_NAME: 'Designer',
      GIT_COMMITTER_EMAIL: 'd@studio.test',
    },
  });

/** A 768 px artwork: each `kind` a different composition, so their perceptual hashes are far apart. */
function artwork(kind: 'diagonal' | 'stripes' | 'ring' | 'columns', size = 768): Promise<Buffer> {
  const shapes = {
    diagonal: `<rect width="768" height="768" fill="#264653"/><path d="M0 0 L768 0 L0 768 Z" fill="#e9c46a"/><circle cx="200" cy="200" r="90" fill="#e76f51"/>`,
    stripes: [0, 1, 2, 3, 4, 5].map((i) => `<rect y="${i * 128}" width="768" height="64" fill="#2a9d8f"/>`).join('') + '',
    ring: `<rect width="768" height="768" fill="#f4f1de"/><circle cx="384" cy="384" r="300" fill="#3d405b"/><circle cx="384" cy="384" r="170" fill="#f4f1de"/>`,
    columns: [0, 1, 2, 3, 4, 5].map((i) => `<rect x="${i * 128}" width="64" height="768" fill="#8338ec"/>`).join(''),
  }[kind];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="768" height="768" viewBox="0 0 768 768"><rect width="768" height="768" fill="#ffffff"/>${shapes}</svg>`;
  return sharp(Buffer.from(svg)).resize(size, size).flatten({ background: '#ffffff' }).png().toBuffer();
}

function writeAsset(key: string, file: string, bytes: Buffer) {
  const dir = path.join(assetsDir, key);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'asset.json'),
    JSON.stringify({ name: `Artwork ${key}`, recipient, approval: { policy: 'manual', unsigned: true, remindAfter: '1h', expireAfter: '2h', maxRounds: 3 } }),
  );
  fs.writeFileSync(path.join(dir, file), bytes);
}

/** Commits everything and pushes; the hook's lines come back on stderr as `remote: ...`. */
async function push(message: string): Promise<string> {
  await git(work, 'add', '-A');
  await git(work, 'commit', '-q', '-m', message);
  const { stderr } = await git(work, 'push', '-q', 'origin', 'main');
  return stderr.replace(/^remote: ?/gm, '');
}

const statusOf = (key: string) => atelier.status(`${collection}:${key}`);
const eventsOf = (key: string, type: AssetEventName) => received.filter((e) => e.type === type && e.data.assetKey === key);

beforeAll(async () => {
  fs.mkdirSync(here, { recursive: true });
  await git(here, 'init', '-q', '--bare', '-b', 'main', bare);
  await git(here, 'clone', '-q', bare, work);
  await git(work, 'checkout', '-q', '-b', 'main');

  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { id: string; type: AssetEventName; data: Record<string, unknown> };
      let verified = false;
      try {
        verifyWebhook(webhookSecret, req.headers, body);
        verified = true;
      } catch {
        verified = false;
      }
      received.push({ id: parsed.id, type: parsed.type, body, data: parsed.data, verified });
      if (holdType === parsed.type) held.push(res);
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const webhooksFile = path.join(here, 'webhooks.json');
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/atelier`;
  fs.writeFileSync(webhooksFile, JSON.stringify({ subscriptions: [{ collections: [collection], url, secret: webhookSecret }] }));

  // The CLI, the hook it installs and the worker all read repositories within this folder.
  process.env.ATELIER_REPOSITORIES = root;
  workerEnv = { ATELIER_REPOSITORIES: root, ATELIER_WEBHOOKS_FILE: webhooksFile };
  worker = await startWorker(workerEnv);
  atelier = await AtelierClient.connect(config);
  const installed = await atelierCli(['repo', 'install-hook', bare]);
  expect(installed.code, installed.stderr).toBe(0);
  expect(fs.statSync(path.join(bare, 'hooks', 'post-receive')).mode & 0o111).toBeTruthy();
});

afterAll(async () => {
  for (const res of held) res.destroy();
  await worker?.stop();
  await atelier?.close();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe('artwork from a repository', () => {
  it('a push of three assets starts three runs, each checked before it goes up for approval', async () => {
    fs.mkdirSync(assetsDir, { recursive: true });
    fs.writeFileSync(
      path.join(assetsDir, 'checks.json'),
      JSON.stringify({ minSize: 256, maxSize: 2048, aspectRatio: '1:1', colorSpace: 'srgb', maxBytes: 3_000_000, nearDuplicate: { maxDistance: 8 } }),
    );
    writeAsset('a1', 'artwork.png', await artwork('diagonal'));
    writeAsset('a2', 'artwork.png', await artwork('stripes'));
    writeAsset('a3', 'artwork.png', await artwork('ring'));
    const output = await push('three assets');
    for (const key of ['a1', 'a2', 'a3']) {
      expect(output).toMatch(
        new RegExp(`started\\s+${collection}/${key}\\s+round 1\\s+awaiting approval · checks passed: size, aspectRatio, bytes, colorSpace, nearDuplicate`),
      );
      const status = await statusOf(key);
      expect(status.stage).toBe('awaiting_approval');
      expect(status.round).toBe(1);
      expect(status.checks?.failed).toEqual([]);
    }
    expect(output).not.toMatch(/reported problems/);
  });

  it('a second push that changes one artwork revises only that asset: a new round in the same run', async () => {
    const before = await atelier.temporal.workflow.getHandle(`asset:${collection}:a2`).describe();
    const firstDraft = (await statusOf('a2')).draftCid;
    writeAsset('a2', 'artwork.png', await artwork('columns'));
    const output = await push('a2: columns instead of stripes');
    expect(output).toMatch(new RegExp(`revised\\s+${collection}/a2\\s+round 2\\s+awaiting approval · checks passed`));
    expect(output).not.toMatch(/\/a1|\/a3/);
    const a2 = await statusOf('a2');
    expect(a2.round).toBe(2);
    expect(a2.draftCid).not.toBe(firstDraft);
    expect(a2.revisions).toHaveLength(1);
    const after = await atelier.temporal.workflow.getHandle(`asset:${collection}:a2`).describe();
    expect(after.runId).toBe(before.runId);
    expect((await statusOf('a1')).round).toBe(1);
    expect((await statusOf('a3')).round).toBe(1);
  });

  it('a push with an oversize, a non-sRGB and a near-duplicate image is rejected by the checks, with the reasons', async () => {
    writeAsset('big', 'artwork.png', await artwork('ring', 2400));
    writeAsset(
      'cmyk',
      'artwork.jpg',
      await sharp(await artwork('stripes', 512))
        .toColourspace('cmyk')
        .jpeg()
        .toBuffer(),
    );
    writeAsset(
      'copy',
      'artwork.jpg',
      await sharp(await artwork('diagonal'))
        .resize(700, 700)
        .jpeg({ quality: 85 })
        .toBuffer(),
    );
    const output = await push('three more');
    expect(output).toMatch(new RegExp(`started\\s+${collection}/big\\s+round 1\\s+checks failed: size: .*2400`));
    expect(output).toMatch(new RegExp(`started\\s+${collection}/cmyk\\s+round 1\\s+checks failed: colorSpace: .*cmyk`));
    expect(output).toMatch(new RegExp(`started\\s+${collection}/copy\\s+round 1\\s+checks failed: nearDuplicate: .*a1`));
    expect(output).toMatch(/the sync reported problems \(exit 1\)/);
    for (const key of ['big', 'cmyk', 'copy']) {
      const status = await statusOf(key);
      // Never put before a person: the round is rejected by the checks and waits for new artwork.
      expect(status.stage).toBe('awaiting_revision');
      expect(status.decisions.at(-1)).toMatchObject({ kind: 'reject', by: 'checks' });
    }
    expect((await statusOf('big')).decisions.at(-1)?.comment).toMatch(/size: .*2400/);
  });

  it('push webhooks: a delivery twice starts nothing new; forged, unsigned and replayed deliveries get 401', async () => {
    const location = fs.realpathSync(bare);
    const server = await startGitWebhookServer({
      host: '127.0.0.1',
      port: 0,
      secret: gitSecret,
      repositories: new Map([['studio/art', location]]),
      onPush: async (p) => {
        await requestSync(atelier.temporal, config.ATELIER_TASK_QUEUE, { ...p, requestedBy: 'webhook:test' });
      },
      knownDelivery: (repository, deliveryId) => syncKnowsDelivery(atelier.temporal, repository, deliveryId),
      log: () => {},
    });
    try {
      const head = (await git(work, 'rev-parse', 'HEAD')).stdout.trim();
      const payload = JSON.stringify({
        ref: 'refs/heads/main',
        before: '0'.repeat(40),
        after: head,
        repository: { full_name: 'studio/art', clone_url: 'http://git.studio.test/studio/art.git' },
        pusher: { name: 'designer' },
        commits: [{ id: head, message: 'three more' }],
      });
      const deliver = (delivery: string, headers: Record<string, string> = { 'X-Hub-Signature-256': signGitDelivery(gitSecret, payload) }, body = payload) =>
        fetch(`${server.url}/hooks/git`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery, ...headers },
          body,
        });
      const sync = atelier.temporal.workflow.getHandle(repositorySyncWorkflowId(location));
      const syncsBefore = (await sync.query(repositorySyncQuery)).syncs.length;
      const runsBefore = (await atelier.list({ collection })).length;

      const first = randomUUID();
      const second = randomUUID();
      expect((await deliver(first)).status).toBe(202);
      expect((await deliver(second)).status).toBe(202);
      // Both deliveries name the commit already synced: answered, nothing started or revised.
      const state = await waitFor('the deliveries synced', async () => {
        const s = await sync.query(repositorySyncQuery);
        const taken = (await syncKnowsDelivery(atelier.temporal, location, first)) && (await syncKnowsDelivery(atelier.temporal, location, second));
        return taken && s.pending === 0 && !s.syncing ? s : undefined;
      });
      expect(state.syncs.slice(syncsBefore).every((s) => s.commit === head && s.lines.length === 0)).toBe(true);

      const replayed = await deliver(first);
      expect(replayed.status).toBe(401);
      expect(await replayed.text()).toMatch(/already received/);
      expect((await deliver(randomUUID(), {})).status).toBe(401);
      expect((await deliver(randomUUID(), { 'X-Hub-Signature-256': signGitDelivery('not-the-secret', payload) })).status).toBe(401);
      const tampered = payload.replace('three more', 'three MORE');
      expect((await deliver(randomUUID(), { 'X-Hub-Signature-256': signGitDelivery(gitSecret, payload) }, tampered)).status).toBe(401);
      expect((await sync.query(repositorySyncQuery)).syncs.length).toBe(state.syncs.length);
      expect((await atelier.list({ collection })).length).toBe(runsBefore);
    } finally {
      await server.close();
    }
  });

  it('removing an asset that waits for approval withdraws its run', async () => {
    fs.rmSync(path.join(assetsDir, 'a3'), { recursive: true });
    const output = await push('a3 is gone');
    expect(output).toMatch(new RegExp(`withdrawn\\s+${collection}/a3\\s+removed at [0-9a-f]{12}: its run is cancelled`));
    const a3 = await statusOf('a3');
    expect(a3.stage).toBe('cancelled');
    expect(a3.cancelled?.reason).toMatch(/removed from the repository/);
  });

  it('every stage change reaches the receiver signed; approval to mint sends approved and minted', async () => {
    await atelier.approve(`${collection}:a1`, { by: 'art-director', via: 'cli' });
    await waitForStage(atelier, `asset:${collection}:a1`, 'minted', 90_000);
    await waitFor('the minted webhook', async () => (eventsOf('a1', 'asset.minted').length ? true : undefined));
    const minted = eventsOf('a1', 'asset.minted')[0]!;
    expect(minted.data.tokenId).toBe((await statusOf('a1')).tokenId);
    expect(eventsOf('a1', 'asset.approved')).toHaveLength(1);
    expect(eventsOf('a2', 'asset.awaiting_approval').map((e) => e.data.round)).toEqual([1, 2]);
    for (const key of ['big', 'cmyk', 'copy']) expect(eventsOf(key, 'asset.checks_failed')).toHaveLength(1);
    expect(received.every((e) => e.verified)).toBe(true);
    // Nothing delivered twice here: one event id, one delivery.
    expect(new Set(received.map((e) => e.id)).size).toBe(received.length);
  });

  it('a worker SIGKILLed while delivering: the next attempt carries the same idempotency key and body', async () => {
    await worker!.stop();
    worker = undefined;
    holdType = 'asset.approved';
    const spawned = await spawnWorkerProcess(workerEnv);
    try {
      await atelier.approve(`${collection}:a2`, { by: 'art-director', via: 'cli' });
      await waitFor('the approved webhook held by the receiver', async () => (held.length > 0 ? true : undefined));
      await killProcess(spawned.child);
    } finally {
      await killProcess(spawned.child);
    }
    holdType = undefined;
    for (const res of held.splice(0)) res.destroy();
    worker = await startWorker(workerEnv);
    await waitFor('the approved webhook again', async () => (eventsOf('a2', 'asset.approved').length >= 2 ? true : undefined), 90_000);
    const [first, again] = eventsOf('a2', 'asset.approved');
    expect(again!.id).toBe(first!.id);
    expect(again!.body).toBe(first!.body);
    expect(again!.verified).toBe(true);
    await waitForStage(atelier, `asset:${collection}:a2`, 'minted', 90_000);
    await waitFor('the minted webhook', async () => (eventsOf('a2', 'asset.minted').length ? true : undefined));
    expect(eventsOf('a2', 'asset.minted')).toHaveLength(1);
    await saveHistoryIfAsked(`asset:${collection}:a2`, 'artwork-revised');
    await saveHistoryIfAsked(`asset:${collection}:copy`, 'artwork-checks-failed');
    await saveHistoryIfAsked(repositorySyncWorkflowId(fs.realpathSync(bare)), 'repository-sync');
  });

  it('the layer generator runs the same checks: drafts that fail them are never put up, and the run ends rejected', async () => {
    const spec = testSpec({
      collectionId: uniqueCollection('checked'),
      checks: { maxSize: 100, aspectTolerance: 0.01, moderation: false },
      approval: { policy: 'manual', approvers: [], keys: {}, unsigned: true, remindAfter: '1h', expireAfter: '2h', maxRounds: 2 },
    });
    const { workflowId } = await atelier.start(spec);
    const status = await waitForStage(atelier, workflowId, 'rejected');
    expect(status.decisions.map((d) => [d.round, d.by])).toEqual([
      [1, 'checks'],
      [2, 'checks'],
    ]);
    expect(status.decisions[0]!.comment).toMatch(/size: 1024x1024 px.*100 px/);
    expect(status.deadlines).toBeNull();
  });
});
