// The automated checks in Slack: a round whose draft failed them gets one message (no buttons) that
// names every failed check, once per (workflow, round) across retries; a request whose draft passed
// them shows the passed checks. announceApproval runs in a mock activity context; the real
// @slack/web-api posts to the local Slack stand-in.
import { randomBytes } from 'node:crypto';
import { WebClient } from '@slack/web-api';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApprovalActivities } from '../activities/approval.ts';
import type { ApprovalNotice, SlackMessageRef } from '../activities/approval.ts';
import type { CheckResult } from '../common/checks.ts';
import { metadataEvents } from '../common/slack/blocks.ts';
import { SlackCollections } from '../common/slack/settings.ts';
import { FakeSlack } from './support/slackServer.ts';
import type { FakeMessage } from './support/slackServer.ts';

const botToken = `xoxb-test-${randomBytes(12).toString('hex')}`;
const CHANNEL = 'C0CHECKS';
const gatewayUrl = 'http://127.0.0.1:8080';
const publicGateway = 'https://ipfs.example.org';
const quiet: Logger = { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

let fake: FakeSlack;
let activities: ReturnType<typeof createApprovalActivities>;

beforeAll(async () => {
  fake = await FakeSlack.start({ botToken });
  const client = new WebClient(botToken, { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } });
  const collections = SlackCollections.parse({ default: { channel: CHANNEL, approvers: ['U0MARIA'] } });
  activities = createApprovalActivities({ gatewayUrl, slack: { client, collections, previewBaseUrl: publicGateway } });
});

afterAll(async () => {
  await fake?.close();
});

const passed: CheckResult[] = [
  { check: 'size', detail: '1024x1024 px', ms: 3 },
  { check: 'colorSpace', detail: 'sRGB', ms: 1 },
  { check: 'nearDuplicate', detail: 'distance 31 to critters/2', ms: 12 },
];
const failed: CheckResult[] = [
  { check: 'palette', detail: 'mean distance 41.2 to the palette (at most 25)', ms: 40 },
  { check: 'transparency', detail: '12% of the pixels are not opaque', ms: 2 },
];

let seq = 0;
function noticeOf(event: ApprovalNotice['event'], checks: ApprovalNotice['checks']): ApprovalNotice {
  const key = `${Date.now().toString(36)}${seq++}`;
  return {
    event,
    workflowId: `asset:critters:${key}`,
    collectionId: 'critters',
    assetKey: key,
    name: `Critter ${key}`,
    round: 2,
    draftCid: `bafy${randomBytes(20).toString('hex')}`,
    inputs: { traits: { hat: 'crown' } },
    feedback: ['warmer colours'],
    approvers: [],
    checks,
  };
}

/** Runs announceApproval in a mock activity context; its result and the heartbeats it sent. */
async function announce(notice: ApprovalNotice, info: { attempt?: number; heartbeatDetails?: unknown } = {}) {
  const env = new MockActivityEnvironment({ scheduledTimestampMs: Date.now() - 5_000, ...info }, { logger: quiet });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => heartbeats.push(structuredClone(details)));
  const result: SlackMessageRef | null = await env.run(activities.announceApproval, notice);
  return { result, heartbeats };
}

const checksFailedMessages = (workflowId: string): FakeMessage[] =>
  fake.messages.filter((m) => m.metadata?.event_type === metadataEvents.checksFailed && m.metadata.event_payload.workflowId === workflowId);
const postsFor = (workflowId: string) => fake.callsTo('chat.postMessage').filter((c) => String(c.args.metadata ?? '').includes(workflowId));

describe('a round rejected by its automated checks', () => {
  it('posts one message, without buttons, naming every failed check with its detail, the passed ones and the draft', async () => {
    const notice = noticeOf('checks_failed', { passed, failed });
    const { result, heartbeats } = await announce(notice);

    const messages = checksFailedMessages(notice.workflowId);
    expect(messages).toHaveLength(1);
    const [message] = messages as [FakeMessage];
    expect(result).toEqual({ channel: CHANNEL, ts: message.ts });
    expect(heartbeats).toEqual([result]);
    expect(message.channel).toBe(CHANNEL);
    expect(message.metadata?.event_payload).toEqual({ workflowId: notice.workflowId, round: 2 });

    // The fallback text: the round, every failed check with its detail, the draft's link.
    expect(message.text).toContain('round 2 was rejected by its automated checks');
    for (const f of failed) expect(message.text).toContain(`${f.check}: ${f.detail}`);
    expect(message.text).toContain(`${publicGateway}/ipfs/${notice.draftCid}`);

    // The blocks: the same, the passed checks briefly, and nothing to click.
    const blocks = JSON.stringify(message.blocks);
    for (const f of failed) expect(blocks).toContain(`*${f.check}*: ${f.detail}`);
    expect(blocks).toContain('✅ Checks passed: size (1024x1024 px) · colorSpace (sRGB) · nearDuplicate (distance 31 to critters/2)');
    expect(blocks).toContain(`<${publicGateway}/ipfs/${notice.draftCid}|Open the draft>`);
    expect(message.blocks?.some((b) => b.type === 'actions')).toBe(false);
    // Not an approval request: later events of the round do not mistake it for one.
    expect(fake.requestMessages(notice.workflowId)).toEqual([]);
  });

  it('a retried attempt posts no second message: it finds the first by its metadata, or knows it from its heartbeat details', async () => {
    const notice = noticeOf('checks_failed', { passed: [], failed });
    const first = await announce(notice);
    expect(postsFor(notice.workflowId)).toHaveLength(1);

    // Attempt 2 without heartbeat details (the first attempt's answer was lost): found by metadata.
    const historyBefore = fake.callsTo('conversations.history').length;
    const second = await announce(notice, { attempt: 2 });
    expect(second.result).toEqual(first.result);
    expect(fake.callsTo('conversations.history').length).toBeGreaterThan(historyBefore);
    expect(postsFor(notice.workflowId)).toHaveLength(1);
    expect(checksFailedMessages(notice.workflowId)).toHaveLength(1);

    // Attempt 3 with the posted ref in its heartbeat details: no lookup, no post.
    const historyNow = fake.callsTo('conversations.history').length;
    const third = await announce(notice, { attempt: 3, heartbeatDetails: first.result });
    expect(third.result).toEqual(first.result);
    expect(fake.callsTo('conversations.history')).toHaveLength(historyNow);
    expect(postsFor(notice.workflowId)).toHaveLength(1);
    expect(checksFailedMessages(notice.workflowId)).toHaveLength(1);
  });

  it('a retry of a lost answer to chat.postMessage finds the stored message and does not post again', async () => {
    const notice = noticeOf('checks_failed', { passed, failed });
    fake.failNext('chat.postMessage', 'store-then-500', { match: (args) => String(args.metadata ?? '').includes(notice.workflowId) });
    await expect(announce(notice)).rejects.toMatchObject({ type: 'SlackError' });
    expect(checksFailedMessages(notice.workflowId)).toHaveLength(1);
    const retry = await announce(notice, { attempt: 2 });
    expect(retry.result).toEqual({ channel: CHANNEL, ts: checksFailedMessages(notice.workflowId)[0]!.ts });
    expect(postsFor(notice.workflowId)).toHaveLength(1);
    expect(checksFailedMessages(notice.workflowId)).toHaveLength(1);
  });

  it("keeps within Slack's limits when a detail is long", async () => {
    const long: CheckResult[] = [
      { check: 'moderation', detail: 'flagged: '.padEnd(10_000, 'x'), ms: 200 },
      { check: 'bytes', detail: '9,876,543 bytes (at most 5,000,000)', ms: 1 },
    ];
    const notice = noticeOf('checks_failed', { passed: [{ check: 'size', detail: 'y'.repeat(5_000), ms: 1 }], failed: long });
    await announce(notice);
    const [message] = checksFailedMessages(notice.workflowId) as [FakeMessage];
    expect(message.text).toContain('bytes: 9,876,543 bytes (at most 5,000,000)');
    expect(message.text).toContain('moderation: flagged:');
    expect(message.text.length).toBeLessThanOrEqual(4_000);
    const texts = (message.blocks ?? []).flatMap((b) => [
      (b as { text?: { text: string } }).text?.text,
      ...((b as { elements?: { text: string }[] }).elements ?? []).map((e) => e.text),
    ]);
    for (const text of texts) if (text !== undefined) expect(text.length).toBeLessThanOrEqual(3_000);
    expect(JSON.stringify(message.blocks)).toContain('*bytes*: 9,876,543 bytes (at most 5,000,000)');
  });
});

describe('a request whose draft passed its checks', () => {
  it('shows the passed checks in a context line of the request', async () => {
    const notice = noticeOf('requested', { passed, failed: [] });
    const { result } = await announce(notice);
    const [message] = fake.requestMessages(notice.workflowId, 2) as [FakeMessage];
    expect(result).toMatchObject({ channel: CHANNEL, ts: message.ts });
    const contexts = (message.blocks ?? []).filter((b) => b.type === 'context') as { elements: { type: string; text: string }[] }[];
    expect(contexts.map((c) => c.elements[0]!.text)).toContain(
      '✅ Checks passed: size (1024x1024 px) · colorSpace (sRGB) · nearDuplicate (distance 31 to critters/2)',
    );
    expect(message.text).toContain('3 automated checks passed');
    // Still a request: the buttons are there.
    expect(message.blocks?.some((b) => b.type === 'actions')).toBe(true);
  });

  it('shows no checks line when the spec has no checks', async () => {
    const notice = noticeOf('requested', undefined);
    await announce(notice);
    const [message] = fake.requestMessages(notice.workflowId, 2) as [FakeMessage];
    expect(JSON.stringify(message.blocks)).not.toContain('Checks passed');
    expect(message.text).not.toContain('checks');
  });
});

describe("a dynamic asset's new version", () => {
  it('posts one message naming the version, its cause, the new image and the transaction; a retry posts nothing more', async () => {
    const notice: ApprovalNotice = {
      ...noticeOf('updated', undefined),
      update: { version: 3, tokenId: '17', metadataCid: `bafkrei${randomBytes(20).toString('hex')}`, txHash: `0x${'ab'.repeat(32)}`, cause: 'milestone' },
    };
    const first = await announce(notice);
    const updates = () =>
      fake.messages.filter((m) => m.metadata?.event_type === metadataEvents.updated && m.metadata.event_payload.workflowId === notice.workflowId);
    expect(updates()).toHaveLength(1);
    const [message] = updates() as [FakeMessage];
    expect(first.result).toEqual({ channel: CHANNEL, ts: message.ts });
    expect(message.text).toContain(`token 17 is now version 3 (milestone)`);
    expect(message.text).toContain(`${publicGateway}/ipfs/${notice.draftCid}`);
    expect(JSON.stringify(message.blocks)).toContain(notice.update!.txHash!);
    expect(message.blocks?.some((b) => b.type === 'actions')).toBe(false);
    // The attempt's answer was lost: the retry finds the message by its metadata.
    const retry = await announce(notice, { attempt: 2 });
    expect(retry.result).toEqual(first.result);
    expect(updates()).toHaveLength(1);
  });
});
