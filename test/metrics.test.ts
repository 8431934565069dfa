// Operability of the real worker process (workers/main.ts, workers/telemetry.ts): the SDK's and
// Atelier's metrics on its Prometheus endpoint while runs go and after, its JSON log lines (each
// line one object with the run's workflowId, runId and activity; no secret) and its trace spans. A
// separate process: this one already installed its Runtime (test/support/harness.ts), and a process
// installs one.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { createTracing } from '../workers/telemetry.ts';
import { payloadConverterPath, workflowsPath } from '../workers/worker.ts';
import { config, killProcess, newMinterSigner, spawnWorkerProcess, testSpec, waitFor, waitForStage, workflowBundle } from './support/harness.ts';

const taskQueue = `atelier-metrics-${randomBytes(4).toString('hex')}`;
const openaiKey = `sk-metrics-${randomBytes(12).toString('hex')}`;
let signer: { key: string; address: string };
let metricsUrl: string;
let worker: Awaited<ReturnType<typeof spawnWorkerProcess>> | undefined;
let stdout = '';
let client: AtelierClient;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  signer = await newMinterSigner();
  const address = `127.0.0.1:${await freePort()}`;
  metricsUrl = `http://${address}/metrics`;
  worker = await spawnWorkerProcess({
    ATELIER_TASK_QUEUE: taskQueue,
    ATELIER_METRICS_ADDRESS: address,
    ATELIER_LOG_FORMAT: 'json',
    ATELIER_LOG_LEVEL: 'debug',
    ATELIER_OTEL: 'console',
    ATELIER_SIGNER_KEY: signer.key,
    ATELIER_OPENAI_API_KEY: openaiKey,
  });
  // What the harness collected up to "worker polling", then everything the worker writes on stdout.
  stdout = worker.output();
  worker.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  client = await AtelierClient.connect({ ...config, ATELIER_TASK_QUEUE: taskQueue });
}, 180_000);

afterAll(async () => {
  await killProcess(worker?.child);
  await client?.close();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(): Promise<Sample[]> {
  const response = await fetch(metricsUrl);
  expect(response.status).toBe(200);
  return parseMetrics(await response.text());
}

/**
 * The sum of a metric's samples whose labels include `labels`; undefined when it has none. The SDK's
 * own metrics are labelled task_queue, activity_type, workflow_type; Atelier's, tagged by the SDK's
 * metric meter, taskQueue, activityType, workflowType.
 */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

/** The worker's stdout, a JSON object a line (any other line fails the test). */
function jsonLines(): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
}

interface SpanLine {
  traceId: string;
  parentId?: string;
  id: string;
  name: string;
  attributes: Record<string, unknown>;
}

describe('the worker process: metrics on ATELIER_METRICS_ADDRESS, JSON log lines, trace spans', () => {
  let autoRun: { workflowId: string; runId: string };
  let manualRun: string;

  it('an auto-policy asset to minted: the SDK metrics and Atelier counters move, during the run and after', async () => {
    const before = await scrape();
    const mintedBefore = total(before, 'atelier_asset_stage_changes', { stage: 'minted', taskQueue }) ?? 0;

    const spec = testSpec({ approval: { policy: 'auto' } });
    const { workflowId } = await client.start(spec);
    // During the run: the stage counter is on the endpoint before the run ends.
    const during = await waitFor('the generating stage on the metrics endpoint', async () => {
      const samples = await scrape();
      return (total(samples, 'atelier_asset_stage_changes', { stage: 'generating', taskQueue }) ?? 0) >= 1 ? samples : undefined;
    });
    expect(total(during, 'atelier_asset_stage_changes', { stage: 'minted', taskQueue }) ?? 0).toBe(mintedBefore);

    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    const description = await client.temporal.workflow.getHandle(workflowId).describe();
    autoRun = { workflowId, runId: description.runId };

    const after = await waitFor('the completed run on the metrics endpoint', async () => {
      const samples = await scrape();
      return (total(samples, 'temporal_workflow_completed', { task_queue: taskQueue }) ?? 0) >= 1 ? samples : undefined;
    });
    // The SDK's own metrics.
    expect(total(after, 'temporal_activity_execution_latency_count', { task_queue: taskQueue, activity_type: 'mintAsset' })).toBeGreaterThanOrEqual(1);
    expect(total(after, 'temporal_workflow_task_execution_latency_count', { task_queue: taskQueue })).toBeGreaterThan(0);
    // Atelier's: every stage the run went through, once each, labelled with the workflow type.
    for (const stage of ['generating', 'formatting', 'pinning', 'minting'])
      expect(total(after, 'atelier_asset_stage_changes', { stage, taskQueue, workflowType: 'assetLifecycle' }), stage).toBe(1);
    expect(total(after, 'atelier_asset_stage_changes', { stage: 'minted', taskQueue })).toBe(mintedBefore + 1);
    expect(total(after, 'atelier_mint_gas_used_sum', { mode: 'single', taskQueue, activityType: 'mintAsset' })).toBeGreaterThan(21_000);
    expect(total(after, 'atelier_mint_gas_used_count', { mode: 'single', taskQueue })).toBe(1);
    expect(total(after, 'atelier_minted_tokens', { mode: 'single', taskQueue })).toBe(1);
    const renditions = result.renditions.reduce((sum, r) => sum + r.bytes, 0);
    expect(total(after, 'atelier_pinned_bytes', { taskQueue, activityType: 'pinAsset' })).toBeGreaterThan(renditions);
    expect(total(after, 'atelier_pinned_contents', { taskQueue })).toBe(result.renditions.length + 1);
  });

  it('a manual approval: its wait, put-up to decision, on the approval histogram', async () => {
    const spec = testSpec();
    const { workflowId } = await client.start(spec);
    manualRun = workflowId;
    await waitForStage(client, workflowId, 'awaiting_approval');
    await new Promise((r) => setTimeout(r, 300));
    await client.approve(`${spec.collectionId}:${spec.assetKey}`, { by: 'maria', via: 'cli' });
    expect((await client.result(workflowId)).stage).toBe('minted');
    const samples = await scrape();
    expect(total(samples, 'atelier_approval_wait_count', { decision: 'approve', taskQueue })).toBe(1);
    expect(total(samples, 'atelier_approval_wait_sum', { decision: 'approve', taskQueue })).toBeGreaterThanOrEqual(300);
    expect(total(samples, 'atelier_asset_stage_changes', { stage: 'awaiting_approval', taskQueue })).toBe(1);
    // Both runs minted, nothing counted twice (a stage of a run replayed from its history is not counted again).
    expect(total(samples, 'atelier_asset_stage_changes', { stage: 'minted', taskQueue })).toBe(2);
    expect(total(samples, 'atelier_mint_gas_used_count', { taskQueue })).toBe(2);
  });

  it('stdout: one JSON object a line, with workflowId, runId and activity; no secret anywhere in the output', async () => {
    const lines = await waitFor('the mint activity line of the auto-policy run', async () => {
      const parsed = jsonLines();
      return parsed.some((l) => l.workflowId === autoRun.workflowId && l.activity === 'mintAsset') ? parsed : undefined;
    });
    for (const line of lines) {
      expect(typeof line.msg, JSON.stringify(line)).toBe('string');
      expect(['trace', 'debug', 'info', 'warn', 'error']).toContain(line.level);
      expect(Number.isNaN(Date.parse(line.time as string))).toBe(false);
      expect(line).not.toHaveProperty('taskToken');
    }
    expect(lines.find((l) => /^worker polling /.test(l.msg as string))).toMatchObject({ level: 'info', taskQueue });
    // An activity's line: the run and the activity type.
    const mintLine = lines.find((l) => l.workflowId === autoRun.workflowId && l.activity === 'mintAsset' && l.msg === 'mint transaction sent');
    expect(mintLine).toMatchObject({ runId: autoRun.runId, component: 'activity', taskQueue, level: 'info' });
    // The workflow's own lines (the SDK's lifecycle lines at debug): the run, no activity.
    const workflowLine = lines.find((l) => l.workflowId === autoRun.workflowId && l.workflowType === 'assetLifecycle' && l.activity === undefined);
    expect(workflowLine).toMatchObject({ runId: autoRun.runId });

    const everything = worker!.output() + stdout;
    for (const secret of [signer.key, signer.key.slice(2), openaiKey]) expect(everything.toLowerCase()).not.toContain(secret.toLowerCase());
  });
  it('ATELIER_OTEL=console: the run is one trace, workflow to activities, as JSON lines', async () => {
    const spans = await waitFor('the spans of the auto-policy run', async () => {
      const found = jsonLines()
        .filter((l) => l.msg === 'console.dir' && typeof (l.value as SpanLine | undefined)?.traceId === 'string')
        .map((l) => l.value as SpanLine);
      const runWorkflow = found.find((s) => s.name === 'RunWorkflow:assetLifecycle' && s.attributes.workflowId === autoRun.workflowId);
      return runWorkflow && found.some((s) => s.traceId === runWorkflow.traceId && s.name === 'RunActivity:mintAsset') ? found : undefined;
    });
    const runWorkflow = spans.find((s) => s.name === 'RunWorkflow:assetLifecycle' && s.attributes.workflowId === autoRun.workflowId)!;
    const trace = spans.filter((s) => s.traceId === runWorkflow.traceId);
    // Each activity the workflow started (its StartActivity span) ran under it (RunActivity), in the same trace.
    for (const activity of ['generateDraft', 'formatAsset', 'pinAsset', 'mintAsset']) {
      const start = trace.find((s) => s.name === `StartActivity:${activity}`);
      expect(start?.parentId, activity).toBe(runWorkflow.id);
      expect(trace.find((s) => s.name === `RunActivity:${activity}`)?.parentId, activity).toBe(start!.id);
    }
  });

  it('tracing on and then off: the runs this traced worker made replay without the tracing interceptors', async () => {
    const histories = await Promise.all(
      [autoRun.workflowId, manualRun].map(async (workflowId) => ({ workflowId, history: await client.temporal.workflow.getHandle(workflowId).fetchHistory() })),
    );
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories))
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    expect(failures).toEqual([]);
  }, 120_000);

  it('tracing on: the saved histories replay with the tracing interceptors bundled (no nondeterminism)', async () => {
    const tracing = createTracing(
      { ATELIER_OTEL: 'console', ATELIER_LOG_FORMAT: 'text', ATELIER_LOG_LEVEL: 'warn', ATELIER_METRICS_ADDRESS: undefined },
      'atelier-replay',
    )!;
    const historiesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');
    const histories = fs
      .readdirSync(historiesDir)
      .filter((f) => f.endsWith('.json'))
      .map((file) => ({ workflowId: path.basename(file, '.json'), history: JSON.parse(fs.readFileSync(path.join(historiesDir, file), 'utf8')) }));
    const failures: string[] = [];
    try {
      const options = { workflowsPath, dataConverter: { payloadConverterPath }, plugins: tracing.workerPlugins };
      for await (const result of Worker.runReplayHistories(options, histories))
        if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    } finally {
      await tracing.shutdown();
    }
    expect(histories.length).toBeGreaterThan(5);
    expect(failures).toEqual([]);
  }, 180_000);
});
