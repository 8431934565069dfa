// Reviewers see the draft in Slack: Slack's servers cannot fetch the local gateway, so the worker
// uploads the draft (read from the real Kubo gateway) through Slack's external upload flow into the
// request's thread and the message shows it as a Slack file. Real Temporal, Kubo and worker; the
// real @slack/web-api talks to the local Slack stand-in, which keeps the uploaded bytes.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebClient } from '@slack/web-api';
import type { types } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import type { AssetSpec } from '../common/asset.ts';
import { closedBlocks } from '../common/slack/blocks.ts';
import { config, gatewayGet, startedAttempt, startWorker, testSpec, waitForStage } from './support/harness.ts';
import { FakeSlack } from './support/slackServer.ts';
import type { FakeFile, FakeMessage } from './support/slackServer.ts';

const botToken = `xoxb-test-${randomBytes(12).toString('hex')}`;
const CHANNEL = 'C0PREVIEWS';
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let fake: FakeSlack;
let client: AtelierClient;
let tmp: string;
let slackEnv: Record<string, string>;

beforeAll(async () => {
  fake = await FakeSlack.start({ botToken });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-slack-preview-'));
  const collectionsFile = path.join(tmp, 'slack-collections.json');
  fs.writeFileSync(collectionsFile, JSON.stringify({ default: { channel: CHANNEL, approvers: ['U0MARIA'] } }));
  slackEnv = { ATELIER_SLACK_BOT_TOKEN: botToken, ATELIER_SLACK_API_URL: fake.apiBase, ATELIER_SLACK_COLLECTIONS: collectionsFile };
  client = await AtelierClient.connect(config);
});

afterAll(async () => {
  await client?.close();
  await fake?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

type ImageBlock = { type: 'image'; image_url?: string; slack_file?: { id?: string; url?: string }; alt_text: string };
const imageOf = (message: FakeMessage | undefined) => message?.blocks?.find((b) => b.type === 'image') as ImageBlock | undefined;
const shownFile = (message: FakeMessage | undefined) => imageOf(message)?.slack_file?.id;
const requestMessage = (workflowId: string) => fake.waitFor(() => fake.requestMessages(workflowId, 1)[0], `the request of ${workflowId}`);
const hasButtons = (message: FakeMessage) => message.blocks?.some((b) => b.type === 'actions') ?? false;
/** The request once it shows an uploaded file while still open (buttons there). */
const illustrated = (workflowId: string) =>
  fake.waitFor(() => {
    const message = fake.requestMessages(workflowId, 1)[0];
    return message && shownFile(message) && hasButtons(message) ? message : undefined;
  }, `the open request of ${workflowId} showing the uploaded draft`);
/**
 * Uploads started (files.getUploadURLExternal calls) since `mark()`. The tests run one at a time and
 * earlier runs wait for a decision, so every upload since then is the current run's. (The layer
 * generator draws the same draft for the same seed: CIDs do not tell runs apart.)
 */
let uploadsBefore = 0;
const mark = () => void (uploadsBefore = fake.callsTo('files.getUploadURLExternal').length);
const uploads = () => fake.callsTo('files.getUploadURLExternal').slice(uploadsBefore);
/** Files completed into a request's thread. */
const filesIn = (message: FakeMessage): FakeFile[] => fake.completedFiles().filter((f) => f.channel === message.channel && f.thread_ts === message.ts);

/** The workflow's history as text, with payloads decoded. */
async function historyText(workflowId: string): Promise<string> {
  const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
  const parts: string[] = [];
  const walk = (node: unknown) => {
    if (node instanceof Uint8Array) parts.push(Buffer.from(node).toString('utf8'), Buffer.from(node).toString('base64'));
    else if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') Object.values(node).forEach(walk);
    else if (typeof node === 'string') parts.push(node, Buffer.from(node, 'base64').toString('utf8'));
  };
  walk(history);
  return parts.join('\n');
}

async function startRun(overrides: Parameters<typeof testSpec>[0] = {}) {
  mark();
  const spec = testSpec(overrides);
  const { workflowId } = await client.start(spec);
  const awaiting = await waitForStage(client, workflowId, 'awaiting_approval');
  return { spec, workflowId, draftCid: awaiting.draftCid! };
}

describe('the draft uploaded to Slack (no public gateway)', () => {
  let worker: Awaited<ReturnType<typeof startWorker>>;
  beforeAll(async () => {
    worker = await startWorker(slackEnv);
  });
  afterAll(async () => {
    await worker?.stop();
  });

  it("uploads the gateway's bytes into the request's thread and shows that file in the message; expiry keeps it; history holds only references", async () => {
    // Slack processes an upload for a moment before a message may show it.
    fake.fileProcessingMs = 800;
    try {
      const { workflowId, draftCid } = await startRun({
        approval: { policy: 'manual', approvers: [], remindAfter: '6s', expireAfter: '9s', maxRounds: 3 } as unknown as AssetSpec['approval'],
      });
      const message = await illustrated(workflowId);
      expect(message.channel).toBe(CHANNEL);
      const fileId = shownFile(message)!;
      expect(imageOf(message)).toEqual({ type: 'image', slack_file: { id: fileId }, alt_text: expect.stringContaining('round 1') });
      // Nothing in the message points Slack at the local gateway for the image.
      expect(imageOf(message)?.image_url).toBeUndefined();

      // The bytes Slack received are the draft's, as the gateway serves it.
      const draft = await gatewayGet(draftCid);
      const file = fake.files.get(fileId)!;
      expect(file.bytes).toBeDefined();
      expect(sha256(file.bytes!)).toBe(sha256(draft));
      expect(file.filename).toBe(`atelier-${draftCid}.png`);
      // Shared in the request's thread, sent without the bot token (the upload URL needs none).
      expect({ channel: file.channel, thread: file.thread_ts }).toEqual({ channel: CHANNEL, thread: message.ts });
      expect(
        fake
          .threadReplies(CHANNEL, message.ts)
          .flatMap((m) => m.files ?? [])
          .map((f) => f.id),
      ).toEqual([fileId]);
      expect(file.uploadHadAuthorization).toBe(false);
      expect(uploads()).toHaveLength(1);
      expect(filesIn(message)).toEqual([file]);

      // Closed at expiry: the outcome shown, the same file still the picture.
      expect((await waitForStage(client, workflowId, 'expired')).stage).toBe('expired');
      const closed = await fake.waitFor(() => {
        const m = fake.requestMessages(workflowId, 1)[0];
        return m?.blocks?.some((b) => b.block_id === 'atelier_outcome') ? m : undefined;
      }, 'the request closed');
      expect(shownFile(closed)).toBe(fileId);
      expect(fake.requestMessages(workflowId)).toHaveLength(1);
      expect(uploads()).toHaveLength(1);

      // History keeps the references (message, file ID), never the image or the token.
      const history = await historyText(workflowId);
      expect(history).toContain(fileId);
      expect(history).not.toContain(draft.subarray(0, 48).toString('base64'));
      expect(history).not.toContain('iVBORw0KGgo'); // any PNG's first bytes, base64-encoded
      expect(history).not.toContain(botToken);
    } finally {
      fake.fileProcessingMs = 0;
    }
  });

  it('a lost answer to files.completeUploadExternal: the retry finds the file in the thread; one upload, one message', async () => {
    fake.failNext('files.completeUploadExternal', 'store-then-500', { match: (args) => args.channel_id === CHANNEL });
    const { workflowId, draftCid } = await startRun();
    const message = await illustrated(workflowId);
    // The activity did fail once and run again: its recorded start is the second attempt.
    expect(await waitForAttempt(workflowId)).toBe(2);

    expect(fake.requestMessages(workflowId)).toHaveLength(1);
    expect(uploads()).toHaveLength(1);
    expect(fake.callsTo('files.completeUploadExternal').filter((c) => c.args.thread_ts === message.ts)).toHaveLength(1);
    expect(filesIn(message)).toHaveLength(1);
    expect(shownFile(message)).toBe(filesIn(message)[0]!.id);
    expect(sha256(filesIn(message)[0]!.bytes!)).toBe(sha256(await gatewayGet(draftCid)));
    expect(fake.callsTo('conversations.replies').some((c) => c.args.ts === message.ts)).toBe(true);
  });

  it('a lost answer to chat.postMessage: the retry finds the message by its metadata and uploads once', async () => {
    const spec = testSpec();
    const workflowId = `asset:${spec.collectionId}:${spec.assetKey}`;
    const forThisRun = (args: Record<string, unknown>) => String(args.metadata ?? '').includes(workflowId);
    fake.failNext('chat.postMessage', 'store-then-500', { match: forThisRun });
    mark();
    await client.start(spec);
    await waitForStage(client, workflowId, 'awaiting_approval');
    const message = await illustrated(workflowId);
    expect(await waitForAttempt(workflowId)).toBe(2);

    expect(fake.requestMessages(workflowId)).toHaveLength(1);
    expect(fake.callsTo('chat.postMessage').filter((c) => forThisRun(c.args))).toHaveLength(1);
    expect(uploads()).toHaveLength(1);
    expect(filesIn(message).map((f) => f.id)).toEqual([shownFile(message)]);
  });

  it('a lost answer to the update that shows the file: the retry shows the same file without uploading again', async () => {
    const spec = testSpec();
    const workflowId = `asset:${spec.collectionId}:${spec.assetKey}`;
    fake.failNext('chat.update', 'store-then-500', {
      match: (args) => String(args.blocks ?? '').includes('slack_file') && String(args.metadata ?? '').includes(workflowId),
    });
    mark();
    await client.start(spec);
    await waitForStage(client, workflowId, 'awaiting_approval');
    const message = await illustrated(workflowId);
    expect(await waitForAttempt(workflowId)).toBe(2);
    expect(fake.requestMessages(workflowId)).toHaveLength(1);
    expect(uploads()).toHaveLength(1);
    expect(filesIn(message)).toHaveLength(1);
    expect(shownFile(message)).toBe(filesIn(message)[0]!.id);
    // The retry knew the file from the heartbeat details: it did not have to look in the thread.
    expect(fake.callsTo('conversations.replies').filter((c) => c.args.ts === message.ts)).toEqual([]);
  });

  it('without the files:write scope the request goes out with a link to the draft, at once, and says nothing was uploaded', async () => {
    fake.failNext('files.getUploadURLExternal', 'error', { error: 'missing_scope' });
    const { workflowId, draftCid } = await startRun();
    const message = await requestMessage(workflowId);
    await fake.waitFor(() => uploads().length > 0, 'the upload attempt');
    expect(imageOf(message)).toBeUndefined();
    expect(JSON.stringify(message.blocks)).toContain(`<${config.ATELIER_KUBO_GATEWAY_URL}/ipfs/${draftCid}|Open the draft>`);
    expect(hasButtons(message)).toBe(true);
    expect(filesIn(message)).toEqual([]);
    // Not retried over and over: the activity finished on its first attempt.
    expect(await waitForAttempt(workflowId)).toBe(1);
    expect(uploads()).toHaveLength(1);
  });

  it('when Slack will not show the file, the request keeps a link to the draft', async () => {
    fake.rejectImages = true;
    try {
      const { workflowId, draftCid } = await startRun();
      const message = await requestMessage(workflowId);
      const file = await fake.waitFor(() => filesIn(message)[0], 'the upload');
      // The activity tries a few times (the file may still be processing), then settles for the link.
      expect(await waitForAttempt(workflowId, 30_000)).toBe(1);
      expect(imageOf(message)).toBeUndefined();
      expect(JSON.stringify(message.blocks)).toContain(`<${config.ATELIER_KUBO_GATEWAY_URL}/ipfs/${draftCid}|Open the draft>`);
      expect(fake.callsTo('chat.update').filter((c) => String(c.args.blocks).includes(file.id)).length).toBeGreaterThan(1);
    } finally {
      fake.rejectImages = false;
    }
  });
});

describe('a public gateway (ATELIER_SLACK_PREVIEW_URL)', () => {
  const publicGateway = 'https://ipfs.example.org';
  let worker: Awaited<ReturnType<typeof startWorker>>;
  beforeAll(async () => {
    worker = await startWorker({ ...slackEnv, ATELIER_SLACK_PREVIEW_URL: publicGateway });
  });
  afterAll(async () => {
    await worker?.stop();
  });

  it('shows the image by its URL there and uploads nothing', async () => {
    const { workflowId, draftCid } = await startRun();
    const message = await requestMessage(workflowId);
    expect(imageOf(message)).toEqual({ type: 'image', image_url: `${publicGateway}/ipfs/${draftCid}`, alt_text: expect.any(String) });
    expect(await waitForAttempt(workflowId)).toBe(1);
    expect(uploads()).toEqual([]);
    expect(fake.threadReplies(CHANNEL, message.ts)).toEqual([]);
  });
});

describe('closing a request Slack handed back', () => {
  it('keeps only the file reference of the image, which Slack accepts again', async () => {
    // A file shared in the channel, and a message showing it, as the worker leaves them.
    const web = new WebClient(botToken, { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } });
    const bytes = randomBytes(256);
    const posted = await web.chat.postMessage({ channel: CHANNEL, text: 'request' });
    const target = await web.files.getUploadURLExternal({ filename: 'draft.png', length: bytes.length });
    expect((await fetch(target.upload_url!, { method: 'POST', body: bytes })).status).toBe(200);
    await web.files.completeUploadExternal({ files: [{ id: target.file_id! }], channel_id: CHANNEL, thread_ts: posted.ts! });
    // Slack hands an image block back with the file's rendered URL beside the reference.
    const handedBack = [
      {
        type: 'image',
        block_id: 'img',
        slack_file: { id: target.file_id! },
        image_url: 'https://files.slack.com/files-pri/T0-F0/draft.png',
        alt_text: 'Draft',
      },
    ] as unknown as types.KnownBlock[];
    const rejected = await web.chat
      .update({ channel: CHANNEL, ts: posted.ts!, text: 'closed', blocks: handedBack })
      .catch((e: { data?: { error?: string } }) => e.data?.error);
    expect(rejected).toBe('invalid_blocks');
    const closed = closedBlocks(handedBack, { kind: 'expired', at: new Date().toISOString() });
    expect((await web.chat.update({ channel: CHANNEL, ts: posted.ts!, text: 'closed', blocks: closed })).ok).toBe(true);
    expect(closed[0]).toEqual({ type: 'image', block_id: 'img', slack_file: { id: target.file_id }, alt_text: 'Draft' });
  });
});

/** The recorded start attempt of the round's announceApproval `requested`, once the activity completed. */
async function waitForAttempt(workflowId: string, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const completed = await requestedCompleted(workflowId);
    if (completed) {
      const attempt = await startedAttempt(client, workflowId, 'announceApproval');
      if (attempt !== undefined) return attempt;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for announceApproval of ${workflowId} to complete`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function requestedCompleted(workflowId: string): Promise<boolean> {
  const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
  const announce = new Set<string>();
  for (const event of history.events ?? []) {
    if (event.activityTaskScheduledEventAttributes?.activityType?.name === 'announceApproval') announce.add(String(event.eventId));
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed && announce.has(String(completed.scheduledEventId))) return true;
  }
  return false;
}
