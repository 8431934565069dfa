/**
 * Approval latency through Slack against a bare signal: `npm run bench:approval`.
 *
 * Brings up its own stack (Temporal dev server, Kubo, Anvil) on the ports of test slot 5 with its
 * data in .data/bench-approval, deploys the contract, runs a worker in this process (trusting the
 * Slack app's decision key: ATELIER_SLACK_APP_PUBLIC_KEY), the Slack app as deployed
 * (`client/slack/main.ts`, HTTP receiver on 127.0.0.1, its own process, signing with
 * ATELIER_SLACK_DECISION_KEY) and, in this process, the local stand-in for Slack's Web API. A fresh
 * key pair is made for each run. Starts 2 x (N + 10 warm-up) assets with one rendition each and
 * waits until every one awaits approval with its request posted.
 *
 * Then one approval at a time, alternating so both kinds see the same machine:
 *   - slack: a signed `block_actions` request (Approve), sent to the app as Slack would send it; the
 *     app checks the allow-list and sends the `approve` Update signed with its key (AtelierClient,
 *     answered once the run accepts it); the run's validator checks the round, the draft, the
 *     signature and the collection's Slack approvers. These assets take signed decisions only.
 *   - bare:  an `approve` signal with the round and draft, sent with the Temporal client directly,
 *     no proof (these assets' specs say `approval.unsigned: true`); the same rule, in the handler.
 * The next approval goes out once the previous run has minted (+BENCH_GAP_MS, default 150 ms), so
 * none waits behind another's format, pin and mint. The first 10 of each kind are not counted.
 *
 * Latency of one approval = the start of the `formatAsset` activity's first attempt (the
 * ActivityTaskStarted event time in the run's history: when the worker picked the task up) minus
 * the moment this process began sending the request or the signal; one clock (this machine). The
 * path includes everything between the decision and the next stage: the decision's workflow task,
 * the `decided` notice (a chat.update to Slack), the workflow task that schedules formatAsset. The
 * Slack path adds the HTTP request, Bolt's verification, the allow-list, the signature and the
 * Update's round trip through the validator.
 *
 * Prints p50 and p99 of each with a breakdown (request -> decision event: the Update's
 * WorkflowExecutionUpdateAccepted or the signal's WorkflowExecutionSignaled; decision event ->
 * formatAsset start), the targets (p50 <= 150 ms, p99 <= 500 ms, p50 <= 1.3 x a bare signal) and
 * last: `approval latency p50 <ms> ms, p99 <ms> ms (p50 ratio <r> to a bare signal)`.
 * BENCH_APPROVALS=<n> changes N (default 200); BENCH_TIMELINE=1 prints one run of each kind event by
 * event. Tears everything down at the end, also on error or Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { AtelierClient } from '../client/atelier.ts';
import { APPROVE_ACTION } from '../common/slack/blocks.ts';
import { loadConfig, projectRoot } from '../common/config.ts';
import { newDecisionKey } from '../common/decision.ts';
import { parseAssetSpec } from '../common/spec.ts';
import { ensureDeployment } from '../scripts/lib/deploy.ts';
import { Stack } from '../scripts/lib/stack.ts';
import { buttonClick, postInteraction } from '../test/support/slackRequests.ts';
import { FakeSlack } from '../test/support/slackServer.ts';
import { approveSignal } from '../workflows/messages.ts';
import { createAtelierWorker } from '../workers/worker.ts';

const N = Number(process.env.BENCH_APPROVALS ?? 200);
/** Pause after a run has minted, before the next approval (the worker's last notices settle). */
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 150);
/** Approvals of each kind sent first and not counted (JIT, connection pools, caches). */
const WARMUP = 10;
const SLOT_OFFSET = 500; // test slot 5
const CHANNEL = 'C0BENCH';
const APPROVER = { id: 'U0BENCHLEAD', name: 'bench-lead' };

const port = (base: number) => base + SLOT_OFFSET;
const botToken = `xoxb-bench-${randomBytes(12).toString('hex')}`;
const signingSecret = randomBytes(16).toString('hex');
/** The app signs decisions with the secret key; the worker trusts the public key. */
const decisionKey = newDecisionKey();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => console.log(`[bench] ${line}`);

interface Sample {
  workflowId: string;
  sentAt: number;
  /** When history has the decision: the Update accepted, or the signal received. */
  decisionAt?: number;
  formatStartedAt?: number;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const fake = await FakeSlack.start({ botToken });
  const dataDir = '.data/bench-approval';
  const env = {
    ATELIER_DATA_DIR: dataDir,
    ATELIER_TEMPORAL_ADDRESS: `127.0.0.1:${port(17233)}`,
    ATELIER_TEMPORAL_UI_PORT: String(port(18233)),
    ATELIER_TASK_QUEUE: 'atelier-bench',
    ATELIER_KUBO_API_URL: `http://127.0.0.1:${port(15001)}`,
    ATELIER_KUBO_GATEWAY_URL: `http://127.0.0.1:${port(18080)}`,
    ATELIER_ETH_RPC_URL: `http://127.0.0.1:${port(18545)}`,
    ATELIER_SLACK_BOT_TOKEN: botToken,
    ATELIER_SLACK_API_URL: fake.apiBase,
    // Previews by URL (the gateway), not uploads to Slack: the worker's notices stay as light as before.
    ATELIER_SLACK_PREVIEW_URL: `http://127.0.0.1:${port(18080)}`,
  };
  const base = loadConfig({ ...process.env, ...env });
  const stack = new Stack(base);
  const cleanups: Array<() => Promise<unknown>> = [() => fake.close(), () => stack.down(() => {})];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const step of cleanups.reverse()) await step().catch((error) => console.error(`[bench] teardown: ${(error as Error).message}`));
    })());
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const started = Date.now();
    await stack.reset(() => {});
    await stack.up((line) => log(line));
    const deployment = await ensureDeployment(base);
    const collectionsFile = path.join(base.dataDir, 'slack-collections.json');
    fs.writeFileSync(collectionsFile, JSON.stringify({ default: { channel: CHANNEL, approvers: [APPROVER.id] } }));
    // The worker holds the app's public key only, the app (below) its secret key only.
    const config = loadConfig({ ...process.env, ...env, ATELIER_SLACK_COLLECTIONS: collectionsFile, ATELIER_SLACK_APP_PUBLIC_KEY: decisionKey.publicKey });
    log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (contract ${deployment.address})`);

    const { worker, close } = await createAtelierWorker(config);
    const running = worker.run();
    cleanups.push(async () => {
      worker.shutdown();
      await running;
      await close();
    });
    const atelier = await AtelierClient.connect(config);
    cleanups.push(() => atelier.close());
    // The Slack app as deployed: `npm run slack` (client/slack/main.ts) in a process of its own.
    const app = await startSlackProcess({
      ...env,
      ATELIER_SLACK_SIGNING_SECRET: signingSecret,
      ATELIER_SLACK_DECISION_KEY: decisionKey.secretKey,
      ATELIER_SLACK_COLLECTIONS: collectionsFile,
      ATELIER_SLACK_PORT: String(await freePort()),
    });
    cleanups.push(() => app.stop());
    log(`worker polling ${config.ATELIER_TASK_QUEUE}; Slack app at ${app.url}`);

    // 2 x N assets awaiting approval, each with its request posted to the (fake) channel.
    const prepared = Date.now();
    const slackIds = await startAssets(atelier, 'bench-slack', WARMUP + N, { signedOnly: true });
    const bareIds = await startAssets(atelier, 'bench-signal', WARMUP + N, { signedOnly: false });
    await waitUntilPosted(fake, [...slackIds, ...bareIds]);
    // A bare signal names the round and the draft it decides on, as a script reads them first.
    const bareDrafts = new Map<string, string>();
    for (const id of bareIds) bareDrafts.set(id, (await atelier.status(id)).draftCid!);
    await sleep(1_000);
    log(`${slackIds.length + bareIds.length} assets awaiting approval in ${((Date.now() - prepared) / 1000).toFixed(1)} s`);

    // One approval at a time, alternately, so both kinds see the same machine: an Approve click
    // through the app (a signed Update), then a bare signal with the Temporal client. The next one is sent once
    // the previous run has minted (and GAP_MS more), so no approval waits behind another's format,
    // pin and mint. The first WARMUP of each kind are not counted.
    const slack: Sample[] = [];
    const bare: Sample[] = [];
    const acks: number[] = [];
    const measuring = Date.now();
    for (let i = 0; i < slackIds.length; i++) {
      const message = fake.requestMessages(slackIds[i]!, 1)[0]!;
      const payload = buttonClick(message, APPROVE_ACTION, APPROVER);
      let sentAt = Date.now();
      const answer = await postInteraction(app.url, signingSecret, payload);
      if (answer.status !== 200) throw new Error(`the app answered ${answer.status} for ${slackIds[i]}`);
      acks.push(answer.ms);
      slack.push({ workflowId: slackIds[i]!, sentAt });
      await finished(atelier, slackIds[i]!, 'slack-app');

      const handle = atelier.temporal.workflow.getHandle(bareIds[i]!);
      sentAt = Date.now();
      await handle.signal(approveSignal, { by: APPROVER.id, name: APPROVER.name, via: 'script', round: 1, draftCid: bareDrafts.get(bareIds[i]!)! });
      bare.push({ workflowId: bareIds[i]!, sentAt });
      await finished(atelier, bareIds[i]!, undefined);
      if ((i + 1) % 50 === 0) log(`${i + 1}/${slackIds.length} pairs approved`);
    }
    log(`${slack.length} signed Slack approvals and ${bare.length} bare signals in ${((Date.now() - measuring) / 1000).toFixed(1)} s; reading histories`);
    await collect(atelier, [...slack, ...bare]);
    slack.splice(0, WARMUP);
    bare.splice(0, WARMUP);

    if (process.env.BENCH_TIMELINE) {
      for (const sample of [slack[Math.floor(N / 2)]!, bare[Math.floor(N / 2)]!]) {
        const history = await atelier.temporal.workflow.getHandle(sample.workflowId).fetchHistory();
        log(`timeline of ${sample.workflowId} (ms after sending):`);
        for (const event of history.events ?? []) {
          const ms = Number(event.eventTime!.seconds) * 1000 + Math.floor((event.eventTime!.nanos ?? 0) / 1e6) - sample.sentAt;
          if (ms < -50) continue;
          const name = event.activityTaskScheduledEventAttributes?.activityType?.name ?? '';
          log(`  ${String(ms).padStart(6)} ${String(event.eventType)} ${name}`);
        }
      }
    }
    const refused = fake.ephemerals.length;
    if (refused > 0) throw new Error(`the app refused ${refused} approvals: ${fake.ephemerals[0]!.text}`);

    const total = (s: Sample) => s.formatStartedAt! - s.sentAt;
    const toDecision = (s: Sample) => s.decisionAt! - s.sentAt;
    const afterDecision = (s: Sample) => s.formatStartedAt! - s.decisionAt!;
    const row = (label: string, samples: Sample[], event: string) => {
      const t = stats(samples.map(total));
      const a = stats(samples.map(toDecision));
      const b = stats(samples.map(afterDecision));
      log(
        `${label.padEnd(6)} to formatAsset start: p50 ${t.p50} ms, p99 ${t.p99} ms, max ${t.max} ms | ` +
          `to ${event}: p50 ${a.p50} ms, p99 ${a.p99} ms | then to formatAsset start: p50 ${b.p50} ms, p99 ${b.p99} ms`,
      );
      return t;
    };
    const s = row('slack', slack, 'Update accepted');
    const b = row('bare', bare, 'signal event');
    const ack = stats(acks);
    log(
      `slack app HTTP answer (ack): p50 ${ack.p50} ms, p99 ${ack.p99} ms; ${N} approvals of each kind (+${WARMUP} warm-up), alternating, one at a time (next once the previous minted, +${GAP_MS} ms)`,
    );
    log(
      `machine: ${os.cpus().length} cores, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (1, 5, 15 min)`,
    );
    const ratio = s.p50Raw / b.p50Raw;
    const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
    log(`targets: p50 <= 150 ms ${met(s.p50Raw <= 150)}, p99 <= 500 ms ${met(s.p99 <= 500)}, p50 <= 1.3 x a bare signal ${met(ratio <= 1.3)}`);
    console.log(`approval latency p50 ${s.p50} ms, p99 ${s.p99} ms (p50 ratio ${ratio.toFixed(2)} to a bare signal)`);
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `client/slack/main.ts` as a child process; resolves with its URL once it listens. */
async function startSlackProcess(env: Record<string, string>): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'client', 'slack', 'main.ts')], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the Slack app did not start within 60 s:\n${output}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`the Slack app exited with ${code}:\n${output}`)));
    child.stdout!.on('data', () => {
      const match = /listening on (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))]);
      const errors = output.split('\n').filter((line) => / ERROR /.test(line));
      if (errors.length > 0) console.error(`[slack app] ${errors.length} errors, first: ${errors[0]}`);
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Waits for the run's mint; checks its one decision was signed by `signer` (or unsigned). */
async function finished(atelier: AtelierClient, workflowId: string, signer: 'slack-app' | undefined): Promise<void> {
  // A decision the run refused leaves it waiting: say so rather than wait for ever.
  const result = await within(60_000, atelier.result(workflowId), async () => {
    const status = await atelier.status(workflowId);
    return `${workflowId} did not mint within 60 s (stage ${status.stage}, decisions ${JSON.stringify(status.decisions)})`;
  });
  if (result.stage !== 'minted') throw new Error(`${workflowId} ended ${result.stage}: ${result.error}`);
  const decision = result.decisions[0];
  if (result.decisions.length !== 1 || decision?.proof?.signer !== signer) {
    throw new Error(`${workflowId}: expected one ${signer ? `decision signed by ${signer}` : 'unsigned decision'}, got ${JSON.stringify(result.decisions)}`);
  }
  await sleep(GAP_MS);
}

async function within<T>(ms: number, work: Promise<T>, why: () => Promise<string>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => void why().then((message) => reject(new Error(message)), reject), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `signedOnly`: the Slack path's assets take signed decisions only; the bare signal's say `unsigned: true`. */
async function startAssets(atelier: AtelierClient, collectionId: string, count: number, { signedOnly }: { signedOnly: boolean }): Promise<string[]> {
  const ids: string[] = [];
  const specs = Array.from({ length: count }, (_, i) =>
    parseAssetSpec({
      collectionId,
      assetKey: String(i),
      name: `Bench Critter ${i}`,
      recipient: '0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A',
      generator: { kind: 'layers', layerSet: 'critters', traits: {}, seed: i },
      // One rendition: the later stages stay light, so they disturb the next approvals little.
      renditions: ['original'],
      approval: { policy: 'manual', approvers: [], ...(signedOnly ? {} : { unsigned: true }), remindAfter: '1d', expireAfter: '7d', maxRounds: 1 },
    }),
  );
  for (let i = 0; i < specs.length; i += 20) {
    const batch = await Promise.all(specs.slice(i, i + 20).map((spec) => atelier.start(spec)));
    ids.push(...batch.map((b) => b.workflowId));
  }
  return ids;
}

async function waitUntilPosted(fake: FakeSlack, ids: string[], timeoutMs = 10 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reported = 0;
  for (;;) {
    const posted = ids.filter((id) => fake.requestMessages(id, 1).length > 0).length;
    if (posted === ids.length) return;
    if (Date.now() > deadline) throw new Error(`only ${posted} of ${ids.length} requests were posted`);
    if (posted >= reported + 100) log(`${(reported = posted - (posted % 100))}/${ids.length} requests posted`);
    await sleep(500);
  }
}

/** Reads each run's history once it has started formatAsset: the decision's and formatAsset's start times. */
async function collect(atelier: AtelierClient, samples: Sample[]): Promise<void> {
  const pending = new Set(samples);
  const deadline = Date.now() + 5 * 60_000;
  while (pending.size > 0) {
    if (Date.now() > deadline) throw new Error(`${pending.size} runs did not reach formatAsset`);
    await Promise.all(
      [...pending].slice(0, 40).map(async (sample) => {
        const history = await atelier.temporal.workflow.getHandle(sample.workflowId).fetchHistory();
        const formatScheduled = new Set<string>();
        for (const event of history.events ?? []) {
          const ms = event.eventTime ? Number(event.eventTime.seconds) * 1000 + Math.floor((event.eventTime.nanos ?? 0) / 1e6) : undefined;
          const decided =
            event.workflowExecutionSignaledEventAttributes?.signalName === 'approve' ||
            event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'approve';
          if (decided && sample.decisionAt === undefined) sample.decisionAt = ms;
          if (event.activityTaskScheduledEventAttributes?.activityType?.name === 'formatAsset') formatScheduled.add(String(event.eventId));
          const started = event.activityTaskStartedEventAttributes;
          if (started && formatScheduled.has(String(started.scheduledEventId))) {
            if (started.attempt !== 1) throw new Error(`${sample.workflowId}: formatAsset's first recorded start is attempt ${started.attempt}`);
            sample.formatStartedAt = ms;
          }
        }
        if (sample.formatStartedAt !== undefined && sample.decisionAt !== undefined) pending.delete(sample);
      }),
    );
    if (pending.size > 0) await sleep(250);
  }
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p50Raw: rank(50), p50: Math.round(rank(50)), p99: Math.round(rank(99)), max: Math.round(sorted.at(-1)!) };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
