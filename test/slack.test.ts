// Approvals from Slack, end to end on the real stack: the real @slack/web-api posts through a
// local stand-in for Slack's Web API, and signed HTTP requests (as Slack sends them) reach the
// real Bolt app, which sends the decision as an Update signed with its decision key. The real
// workflow judges it: the signature (the worker trusts the app's public key), the collection's
// Slack approvers, the round and its draft. No spec here takes unsigned decisions.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient, DecisionRefused } from '../client/atelier.ts';
import { startSlackApp } from '../client/slack/app.ts';
import type { RunningSlackApp } from '../client/slack/app.ts';
import type { AssetSpec } from '../common/asset.ts';
import { workflowIdOf } from '../common/asset.ts';
import { loadConfig } from '../common/config.ts';
import { newDecisionKey, proofVerifies, signDecision } from '../common/decision.ts';
import type { DecisionInput } from '../common/decision.ts';
import { APPROVE_ACTION, REASON_BLOCK, REASON_INPUT, REJECT_ACTION, REJECT_VIEW, requestBlocks } from '../common/slack/blocks.ts';
import { SlackCollections } from '../common/slack/settings.ts';
import { approveUpdate } from '../workflows/messages.ts';
import { config, gatewayGet, startedAttempt, startWorker, testSpec, uniqueCollection, waitFor, waitForStage } from './support/harness.ts';
import { buttonClick, postInteraction, viewSubmission } from './support/slackRequests.ts';
import type { SlackUser } from './support/slackRequests.ts';
import { FakeSlack } from './support/slackServer.ts';
import type { FakeMessage } from './support/slackServer.ts';

const botToken = `xoxb-test-${randomBytes(12).toString('hex')}`;
const signingSecret = randomBytes(16).toString('hex');
/** The app signs decisions with the secret key (ATELIER_SLACK_DECISION_KEY); workers trust the public one. */
const appKey = newDecisionKey();
const CHANNEL = 'C0ARTREVIEW';
const ESCALATION = 'C0LEADS';
const LEADS_GROUP = 'S0LEADS';
/** The one collection decided by the leads user group too; the others by the listed users only. */
const LEADS_COLLECTION = uniqueCollection('leads');
const maria: SlackUser = { id: 'U0MARIA', name: 'maria' };
const omar: SlackUser = { id: 'U0OMAR', name: 'omar' };
const lena: SlackUser = { id: 'U0LENA', name: 'lena' }; // an approver through the leads user group
const mallory: SlackUser = { id: 'U0MALLORY', name: 'mallory' };

let fake: FakeSlack;
let client: AtelierClient;
let worker: Awaited<ReturnType<typeof startWorker>>;
let app: RunningSlackApp;
let tmp: string;
const appLog: string[] = [];

beforeAll(async () => {
  fake = await FakeSlack.start({ botToken, groups: { [LEADS_GROUP]: [lena.id] } });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-slack-'));
  const collectionsFile = path.join(tmp, 'slack-collections.json');
  fs.writeFileSync(
    collectionsFile,
    JSON.stringify({
      default: { channel: CHANNEL, approvers: [maria.id, omar.id], escalationChannel: ESCALATION, escalationMention: LEADS_GROUP },
      [LEADS_COLLECTION]: { approverGroup: LEADS_GROUP },
    }),
  );
  const shared = {
    ATELIER_SLACK_BOT_TOKEN: botToken,
    ATELIER_SLACK_API_URL: fake.apiBase,
    ATELIER_SLACK_COLLECTIONS: collectionsFile,
    // Previews by URL (the gateway): uploads to Slack are test/slackPreview.test.ts's subject.
    ATELIER_SLACK_PREVIEW_URL: config.ATELIER_KUBO_GATEWAY_URL,
  };
  // The worker holds the app's public key only, the app its secret key only.
  worker = await startWorker({ ...shared, ATELIER_SLACK_APP_PUBLIC_KEY: appKey.publicKey });
  client = await AtelierClient.connect(config);
  const capture =
    (level: string) =>
    (...msg: unknown[]) =>
      void appLog.push(`${level} ${msg.map(String).join(' ')}`);
  app = await startSlackApp(
    {
      config: loadConfig({ ...process.env, ...shared, ATELIER_SLACK_SIGNING_SECRET: signingSecret, ATELIER_SLACK_DECISION_KEY: appKey.secretKey }),
      atelier: client,
      collections: SlackCollections.load(collectionsFile),
      logger: {
        debug: capture('debug'),
        info: capture('info'),
        warn: capture('warn'),
        error: capture('error'),
        setLevel: () => {},
        getLevel: () => 'debug' as never,
        setName: () => {},
      },
    },
    { host: '127.0.0.1', port: 0 },
  );
});

afterAll(async () => {
  await app?.stop();
  await worker?.stop();
  await client?.close();
  await fake?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

type ManualApproval = Extract<AssetSpec['approval'], { policy: 'manual' }>;

/** A spec that takes signed decisions only: `approval.unsigned` is left at its default (false). */
function signedOnlySpec(approval: Partial<ManualApproval> = {}, overrides: Partial<AssetSpec> = {}): AssetSpec {
  const spec = testSpec({
    ...overrides,
    approval: { policy: 'manual', approvers: [], remindAfter: '1h', expireAfter: '2h', maxRounds: 3, ...approval } as ManualApproval,
  });
  expect(spec.approval).toMatchObject({ policy: 'manual', unsigned: false });
  return spec;
}

/** The round's request message, once the worker has posted it. */
const requestMessage = (workflowId: string, round = 1) =>
  fake.waitFor(() => fake.requestMessages(workflowId, round)[0], `the round ${round} request of ${workflowId}`);
/** A copy, as the message looked at that moment (a later update does not change it). */
const snapshot = (message: FakeMessage): FakeMessage => structuredClone(message);
const click = (message: FakeMessage, action: string, user: SlackUser, sign: { timestamp?: number; secret?: string } = {}) =>
  postInteraction(app.url!, signingSecret, buttonClick(message, action, user), sign);
const ephemeral = (user: SlackUser, pattern: RegExp) =>
  fake.waitFor(() => fake.ephemeralsFor(user.id).find((e) => pattern.test(e.text)), `an ephemeral answer to ${user.name} matching ${pattern}`);
const hasButtons = (message: FakeMessage) => message.blocks?.some((b) => b.type === 'actions') ?? false;
const outcomeOf = (message: FakeMessage) =>
  (message.blocks?.find((b) => b.block_id === 'atelier_outcome') as { text?: { text: string } } | undefined)?.text?.text;

/**
 * Clicks, and waits for the ephemeral answer: the run's reason comes back with the click (the
 * app sends the Update and the validator answers at once), not from a later look at the status.
 */
async function refusedAtOnce(message: FakeMessage, action: string, user: SlackUser, pattern: RegExp) {
  expect((await click(message, action, user)).status).toBe(200);
  const answer = await ephemeral(user, pattern);
  expect(answer.channel).toBe(message.channel);
  expect(answer.text).toMatch(/Nothing was taken\.$/);
  return answer;
}

/** The workflow's history as text, with payloads decoded. */
async function historyText(workflowId: string): Promise<string> {
  const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
  const parts: string[] = [];
  const walk = (node: unknown) => {
    if (node instanceof Uint8Array) parts.push(Buffer.from(node).toString('utf8'));
    else if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') Object.values(node).forEach(walk);
    else if (typeof node === 'string') parts.push(node, Buffer.from(node, 'base64').toString('utf8'));
  };
  walk(history);
  return parts.join('\n');
}

/** The names of the Updates the run accepted, in history order (a refused Update leaves nothing). */
async function acceptedUpdates(workflowId: string): Promise<string[]> {
  const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes;
    return accepted ? [accepted.acceptedRequest?.input?.name ?? '?'] : [];
  });
}

async function started(approval: Partial<ManualApproval> = {}, overrides: Partial<AssetSpec> = {}) {
  const spec = signedOnlySpec(approval, overrides);
  const { workflowId } = await client.start(spec);
  const awaiting = await waitForStage(client, workflowId, 'awaiting_approval');
  return { spec, workflowId, awaiting, message: await requestMessage(workflowId) };
}

/** The run still waits for a decision on round 1, and holds none: a refusal left nothing behind. */
async function expectUntouched(workflowId: string) {
  const status = await client.status(workflowId);
  expect(status.stage).toBe('awaiting_approval');
  expect(status.round).toBe(1);
  expect(status.decisions).toEqual([]);
  expect(await acceptedUpdates(workflowId)).toEqual([]);
}

/** The run's own reason for refusing an Update sent around AtelierClient. */
async function updateRefusal(workflowId: string, input: DecisionInput): Promise<string> {
  const error = await client.temporal.workflow
    .getHandle(workflowId)
    .executeUpdate(approveUpdate, { args: [input] })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((error as WorkflowUpdateFailedError).cause as Error | undefined)?.message ?? '';
}

describe('Slack approvals', () => {
  it('posts the draft with its preview, traits and buttons; Approve resumes the run to a mint, and the message shows who approved and when', async () => {
    const { spec, workflowId, awaiting, message } = await started();
    expect(message.channel).toBe(CHANNEL);
    const image = message.blocks?.find((b) => b.type === 'image') as { image_url: string } | undefined;
    expect(image?.image_url).toBe(`${config.ATELIER_KUBO_GATEWAY_URL}/ipfs/${awaiting.draftCid}`);
    const preview = await fetch(image!.image_url);
    expect(preview.status).toBe(200);
    expect(
      Buffer.from(await preview.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    const shown = JSON.stringify(message.blocks);
    expect(shown).toContain(spec.name);
    expect(shown).toContain('round *1*');
    for (const layer of ['background', 'body', 'eyes']) expect(shown).toContain(`*${layer}*`);
    expect(hasButtons(message)).toBe(true);

    const answer = await click(message, APPROVE_ACTION, maria);
    expect(answer.status).toBe(200);
    // Slack's own rule: an interaction is acknowledged within 3 s, or the user sees an error.
    expect(answer.ms).toBeLessThan(3_000);

    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.tokenId).not.toBeNull();
    expect(result.approver).toBe(maria.id);
    // Taken as an Update, signed by the app for the draft maria saw.
    expect(result.decisions).toMatchObject([
      {
        kind: 'approve',
        by: maria.id,
        name: maria.name,
        via: 'slack',
        round: 1,
        draftCid: awaiting.draftCid,
        proof: { scheme: 'ed25519', signer: 'slack-app', publicKey: appKey.publicKey },
      },
    ]);
    expect(proofVerifies(workflowId, 'approve', result.decisions[0]!, result.decisions[0]!.proof!)).toBe(true);
    expect(await acceptedUpdates(workflowId)).toEqual(['approve']);
    const metadata = JSON.parse((await gatewayGet(result.metadataCid!)).toString());
    expect(metadata.properties.provenance).toMatchObject({
      approvedBy: maria.id,
      approvedVia: 'slack',
      approvalSigned: true,
      approvalSignature: { signer: 'slack-app', publicKey: appKey.publicKey },
    });

    const closed = fake.requestMessages(workflowId, 1);
    expect(closed).toHaveLength(1);
    expect(hasButtons(closed[0]!)).toBe(false);
    expect(outcomeOf(closed[0]!)).toMatch(new RegExp(`Approved\\* by <@${maria.id}> · <!date\\^\\d+\\^`));
    expect(fake.ephemeralsFor(maria.id)).toEqual([]);

    // Tokens, the signing secret and the app's decision key never reach workflow history (payloads decoded).
    const history = await historyText(workflowId);
    expect(history).toContain(`"by":"${maria.id}"`);
    expect(history).not.toContain(botToken);
    expect(history).not.toContain(signingSecret);
    expect(history).not.toContain(appKey.secretKey);
  });

  it('Reject asks for a reason in a modal; the reason is the next round\'s feedback; an old round\'s button is answered "replaced"', async () => {
    // The leads' collection: its user group decides too, so lena may approve round 2.
    const { workflowId, message } = await started({}, { collectionId: LEADS_COLLECTION });
    const round1 = snapshot(message);
    const viewsBefore = fake.views.length;
    expect((await click(round1, REJECT_ACTION, omar)).status).toBe(200);
    const opened = await fake.waitFor(() => fake.views[viewsBefore], 'views.open');
    expect(opened.view.callback_id).toBe(REJECT_VIEW);
    expect((await client.status(workflowId)).decisions).toEqual([]);

    // No reason: the modal says so, nothing is sent.
    const empty = await postInteraction(app.url!, signingSecret, viewSubmission(opened, omar, { [REASON_BLOCK]: { [REASON_INPUT]: '   ' } }));
    expect(JSON.parse(empty.body)).toMatchObject({ response_action: 'errors', errors: { [REASON_BLOCK]: expect.stringMatching(/reason is needed/) } });

    const reason = 'warmer colours, and a <!channel> ping that must stay text';
    const submitted = await postInteraction(app.url!, signingSecret, viewSubmission(opened, omar, { [REASON_BLOCK]: { [REASON_INPUT]: reason } }));
    expect(submitted.status).toBe(200);

    const round2 = await requestMessage(workflowId, 2);
    const status = await waitForStage(client, workflowId, 'awaiting_approval');
    expect(status.round).toBe(2);
    expect(status.feedback).toEqual([reason]);
    expect(status.decisions).toMatchObject([
      { kind: 'reject', by: omar.id, name: omar.name, via: 'slack', comment: reason, round: 1, proof: { signer: 'slack-app' } },
    ]);
    const feedbackShown = JSON.stringify(round2.blocks);
    expect(feedbackShown).toContain('Earlier feedback');
    expect(feedbackShown).toContain('warmer colours, and a &lt;!channel&gt; ping');
    expect(feedbackShown).not.toContain('<!channel>');

    const closed1 = fake.requestMessages(workflowId, 1)[0]!;
    expect(hasButtons(closed1)).toBe(false);
    expect(outcomeOf(closed1)).toMatch(new RegExp(`Rejected\\* by <@${omar.id}>[^]*warmer colours`));

    // A click on round 1's (stale) buttons: the run's reason comes back at once, nothing is taken.
    await refusedAtOnce(round1, APPROVE_ACTION, maria, /round 1 of .* was replaced by round 2/);
    expect((await client.status(workflowId)).decisions).toHaveLength(1);
    expect(await acceptedUpdates(workflowId)).toEqual(['reject']);

    // A member of the approver user group approves round 2.
    expect((await click(round2, APPROVE_ACTION, lena)).status).toBe(200);
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.approver).toBe(lena.id);
    expect(result.round).toBe(2);
  });

  it('refuses requests Slack did not sign (401) or signed over 5 minutes ago (401): nothing is sent', async () => {
    const { workflowId, message } = await started();
    const answeredBefore = fake.ephemerals.length;
    const forged = await click(message, APPROVE_ACTION, maria, { secret: randomBytes(16).toString('hex') });
    expect(forged.status).toBe(401);
    const replayed = await click(message, APPROVE_ACTION, maria, { timestamp: Math.floor(Date.now() / 1000) - 5 * 60 - 10 });
    expect(replayed.status).toBe(401);
    const unsigned = await fetch(app.url!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'payload=%7B%7D' });
    expect(unsigned.status).toBe(401);
    await expectUntouched(workflowId);
    expect(hasButtons(fake.requestMessages(workflowId, 1)[0]!)).toBe(true);

    // The same click, signed now with the right secret, goes through: the refusals were the
    // signature's doing, and the one decision the run took is this one (nothing from the refused ones).
    expect((await click(message, APPROVE_ACTION, maria)).status).toBe(200);
    expect((await waitForStage(client, workflowId, 'minted')).decisions).toMatchObject([{ by: maria.id, proof: { signer: 'slack-app' } }]);
    expect(fake.ephemerals.slice(answeredBefore)).toEqual([]);
  });

  it("answers someone not on the allow-list ephemerally and sends nothing; the spec's own approver list is the run's to apply, and its reason comes back at once", async () => {
    const { workflowId, message } = await started();
    const viewsBefore = fake.views.length;
    await click(message, APPROVE_ACTION, mallory);
    expect((await ephemeral(mallory, /not an approver for \*test-/)).channel).toBe(CHANNEL);
    await click(message, REJECT_ACTION, mallory);
    // The refusal is told instead of opening the modal: no view once it has come.
    await fake.waitFor(() => fake.ephemeralsFor(mallory.id).length === 2, 'the second refusal');
    expect(fake.views.length).toBe(viewsBefore);
    await expectUntouched(workflowId);

    // The spec names maria only: omar (a collection approver, so the app sends his decision) is
    // refused by the run with its reason; maria is not.
    const narrow = await started({ approvers: [maria.id] });
    await refusedAtOnce(narrow.message, APPROVE_ACTION, omar, new RegExp(`${omar.id} may not decide on ${narrow.workflowId} \\(allowed: ${maria.id}\\)`));
    await expectUntouched(narrow.workflowId);
    expect(hasButtons(fake.requestMessages(narrow.workflowId, 1)[0]!)).toBe(true);
    await click(narrow.message, APPROVE_ACTION, maria);
    expect((await waitForStage(client, narrow.workflowId, 'minted')).approver).toBe(maria.id);
  });

  it("an unlisted Slack user is refused by the workflow itself, even with the app's signature", async () => {
    // As if the app's allow-list were bypassed (or the app were wrong): the run checks the
    // collection's Slack approvers from the worker's collections file.
    const { workflowId, awaiting } = await started();
    const stranger = 'U0STRANGER';
    const refusal = client.approve(
      workflowId,
      { by: stranger, name: 'stranger', via: 'slack', round: awaiting.round, draftCid: awaiting.draftCid! },
      { sign: { secretKey: appKey.secretKey, signer: 'slack-app' } },
    );
    await expect(refusal).rejects.toBeInstanceOf(DecisionRefused);
    await expect(refusal).rejects.toThrow(new RegExp(`Slack user ${stranger} is not an approver of this collection \\(allowed: ${maria.id}, ${omar.id}\\)`));
    await expectUntouched(workflowId);
  });

  it('a decision signed for another draft is refused: the signature does not match', async () => {
    const { workflowId, awaiting } = await started();
    const real = { by: maria.id, name: maria.name, via: 'slack', round: awaiting.round, draftCid: awaiting.draftCid! };
    // Signed with the app's key for another draft of round 1, and for round 2 of this draft; then
    // sent with the real round and draft.
    for (const signedFor of [
      { ...real, draftCid: 'bafkreianotherdraftthanthecurrentone' },
      { ...real, round: 2 },
    ]) {
      const proof = signDecision(appKey.secretKey, 'slack-app', workflowId, 'approve', signedFor);
      expect(await updateRefusal(workflowId, { ...real, proof })).toMatch(/the signature does not match this decision/);
    }
    await expectUntouched(workflowId);
  });

  it("an unsigned decision that looks like Slack's is refused: the spec takes signed decisions only", async () => {
    const { workflowId, awaiting } = await started();
    const unsigned = client.approve(workflowId, { by: maria.id, name: maria.name, via: 'slack', round: awaiting.round, draftCid: awaiting.draftCid! });
    await expect(unsigned).rejects.toBeInstanceOf(DecisionRefused);
    await expect(unsigned).rejects.toThrow(/takes signed decisions only/);
    await expectUntouched(workflowId);
  });

  it('a double click makes one decision; the second click is told at once who decided', async () => {
    const { workflowId, message } = await started();
    const sentAt = Date.now();
    const [first, second] = await Promise.all([click(message, APPROVE_ACTION, maria), click(message, APPROVE_ACTION, maria)]);
    expect([first.status, second.status]).toEqual([200, 200]);
    await ephemeral(maria, new RegExp(`already decided[^]*approve by ${maria.id}`));
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.decisions).toHaveLength(1);
    expect(result.decisions[0]).toMatchObject({ kind: 'approve', by: maria.id, proof: { signer: 'slack-app' } });
    expect(await acceptedUpdates(workflowId)).toEqual(['approve']);
    expect(fake.ephemeralsFor(maria.id).filter((e) => e.at >= sentAt)).toHaveLength(1);
  });

  it("a decision made elsewhere first (a script with its approver key): a click gets the run's reason at once, and the message shows the decision that counted", async () => {
    const lead = newDecisionKey();
    const { workflowId, message } = await started({ keys: { 'lead-cli': lead.publicKey } });
    await client.approve(workflowId, { by: 'lead-cli', via: 'script' }, { sign: { secretKey: lead.secretKey, signer: 'approver' } });
    await refusedAtOnce(message, APPROVE_ACTION, omar, /(already decided|not awaiting a decision)[^]*approve by lead-cli/);
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.decisions).toMatchObject([{ kind: 'approve', by: 'lead-cli', via: 'script', proof: { signer: 'approver', publicKey: lead.publicKey } }]);
    // The worker's `decided` notice closes the message with the decision that counted.
    const closed = await fake.waitFor(() => fake.requestMessages(workflowId, 1).find((m) => !hasButtons(m)), 'the closed request');
    expect(outcomeOf(closed)).toMatch(/Approved\* by lead-cli/);
  });

  it('reminds in the thread and escalates after the reminder time; at expiry the message closes and a click is answered "expired"', async () => {
    const spec = signedOnlySpec({ remindAfter: '2s', expireAfter: '6s' });
    const workflowId = workflowIdOf(spec.collectionId, spec.assetKey);
    // The escalation fails once (nothing stored): the reminder activity is retried, and the retry
    // knows from its heartbeat details that the thread reminder went out.
    fake.failNext('chat.postMessage', '500', { match: (args) => args.channel === ESCALATION && String(args.metadata).includes(workflowId) });
    await client.start(spec);
    const message = await requestMessage(workflowId);
    const before = snapshot(message);
    const reminder = await fake.waitFor(() => fake.threadReplies(CHANNEL, message.ts)[0], 'the reminder in the thread');
    expect(reminder.text).toMatch(/Reminder/);
    expect(reminder.text).toContain(`<@${maria.id}>`);
    const escalation = await fake.waitFor(
      () => fake.channelMessages(ESCALATION).find((m) => m.metadata?.event_payload.workflowId === workflowId),
      'the escalation',
    );
    expect(escalation.text).toContain(`<!subteam^${LEADS_GROUP}>`);
    expect(escalation.text).toContain(`<https://atelier-test.slack.com/archives/${CHANNEL}/p${message.ts.replace('.', '')}|the request>`);
    expect(fake.callsTo('chat.postMessage').filter((c) => c.args.channel === ESCALATION && String(c.args.metadata).includes(workflowId))).toHaveLength(2);
    expect(fake.callsTo('conversations.replies')).toEqual([]);

    const result = await client.result(workflowId);
    expect(result.stage).toBe('expired');
    const closed = fake.requestMessages(workflowId, 1)[0]!;
    expect(hasButtons(closed)).toBe(false);
    expect(outcomeOf(closed)).toMatch(/Expired\* without a decision/);
    // One reminder, one escalation, one request: nothing repeated.
    expect(fake.threadReplies(CHANNEL, message.ts)).toHaveLength(1);
    expect(fake.channelMessages(ESCALATION).filter((m) => m.metadata?.event_payload.workflowId === workflowId)).toHaveLength(1);
    expect(fake.requestMessages(workflowId)).toHaveLength(1);

    await refusedAtOnce(before, APPROVE_ACTION, maria, /expired without a decision/);
    expect((await client.status(workflowId)).decisions).toEqual([]);
  });

  it('a retried posting activity (Slack stored the post, the answer was lost) leaves one message, found again and updated', async () => {
    const spec = signedOnlySpec();
    const workflowId = `asset:${spec.collectionId}:${spec.assetKey}`;
    const forThisRun = (args: Record<string, unknown>) => String(args.metadata ?? '').includes(workflowId);
    fake.failNext('chat.postMessage', 'store-then-500', { match: forThisRun });
    await client.start(spec);
    await waitForStage(client, workflowId, 'awaiting_approval');
    const message = await requestMessage(workflowId);
    await fake.waitFor(() => message.updates >= 1, 'the retried attempt updating the message');

    expect(fake.requestMessages(workflowId)).toHaveLength(1);
    expect(fake.callsTo('chat.postMessage').filter((c) => forThisRun(c.args))).toHaveLength(1);
    expect(fake.callsTo('conversations.history').some((c) => c.args.channel === CHANNEL && c.args.include_all_metadata === 'true')).toBe(true);
    // The activity did fail once and run again: its recorded start is the second attempt.
    expect(await waitFor('the announceApproval start in history', () => startedAttempt(client, workflowId, 'announceApproval'), 30_000)).toBe(2);

    await click(message, APPROVE_ACTION, omar);
    expect((await client.result(workflowId)).stage).toBe('minted');
    expect(fake.requestMessages(workflowId)).toHaveLength(1);
    expect(outcomeOf(fake.requestMessages(workflowId)[0]!)).toMatch(/Approved/);
  });

  it('posts the preview as a link when Slack cannot fetch the image', async () => {
    fake.rejectImages = true;
    try {
      const { awaiting, message } = await started();
      expect(message.blocks?.some((b) => b.type === 'image')).toBe(false);
      expect(JSON.stringify(message.blocks)).toContain(`<${config.ATELIER_KUBO_GATEWAY_URL}/ipfs/${awaiting.draftCid}|Open the draft>`);
      expect(hasButtons(message)).toBe(true);
    } finally {
      fake.rejectImages = false;
    }
  });

  it('answers a click on a run that does not exist, and takes nothing', async () => {
    const ghost = 'asset:ghost-collection:404';
    const blocks = requestBlocks(
      {
        workflowId: ghost,
        collectionId: 'ghost-collection',
        assetKey: '404',
        name: 'Ghost',
        round: 1,
        draftCid: 'bafkreighost',
        inputs: {},
        feedback: [],
        approvers: [],
      },
      { previewBase: config.ATELIER_KUBO_GATEWAY_URL },
    ) as unknown as FakeMessage['blocks'];
    const message: FakeMessage = { channel: CHANNEL, ts: '1700000000.000001', user: fake.botUserId, bot_id: fake.botId, text: 'ghost', blocks, updates: 0 };
    await refusedAtOnce(message, APPROVE_ACTION, omar, /no asset run asset:ghost-collection:404/);
  });

  it('never writes the bot token, the signing secret or the decision key to its log', () => {
    expect(appLog.length).toBeGreaterThan(0);
    for (const line of appLog) {
      expect(line).not.toContain(botToken);
      expect(line).not.toContain(signingSecret);
      expect(line).not.toContain(appKey.secretKey);
    }
  });
});
