// The openai generator runs the real `openai` client against a local Images API server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { sha256Hex } from '../activities/kubo.ts';
import { loadConfig } from '../common/config.ts';
import { activityAttempts, gatewayGet, startWorker, testSpec, waitFor } from './support/harness.ts';
import { startImagesServer } from './support/openaiServer.ts';

// A queue of its own: only this worker, configured for OpenAI, takes these runs.
const env = { ATELIER_TASK_QUEUE: 'atelier-openai-test', ATELIER_OPENAI_API_KEY: 'sk-test-key', ATELIER_OPENAI_MODEL: 'gpt-image-1' };

let images: Awaited<ReturnType<typeof startImagesServer>>;
let worker: Awaited<ReturnType<typeof startWorker>>;
let client: AtelierClient;

beforeAll(async () => {
  images = await startImagesServer();
  worker = await startWorker({ ...env, ATELIER_OPENAI_BASE_URL: images.baseURL });
  client = await AtelierClient.connect(loadConfig({ ...process.env, ...env }));
});
afterAll(async () => {
  await worker?.stop();
  await client?.close();
  await images?.close();
});

const openaiSpec = (prompt: string) => testSpec({ generator: { kind: 'openai', prompt, seed: 0 }, approval: { policy: 'auto' } });

describe('openai generator', () => {
  it('turns the Images API answer into the draft, and mints it', async () => {
    const spec = openaiSpec('a watercolour fox in a teacup');
    const { workflowId } = await client.start(spec);
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(sha256Hex(await gatewayGet(result.draftCid!))).toBe(sha256Hex(images.image));

    const call = images.calls.find((c) => c.body.prompt === 'a watercolour fox in a teacup');
    expect(call).toMatchObject({ authorization: 'Bearer sk-test-key', body: { model: 'gpt-image-1', size: '1024x1024', n: 1 } });
    const metadata = JSON.parse((await gatewayGet(result.metadataCid!)).toString());
    expect(metadata.properties.provenance).toMatchObject({ generator: 'openai', inputs: { model: 'gpt-image-1', prompt: 'a watercolour fox in a teacup' } });
  });

  it('a 429 is retried by Temporal, in a second activity attempt, not inside the client', async () => {
    const prompt = 'a busy street of robots';
    const { workflowId } = await client.start(openaiSpec(prompt));
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    // Two requests, each the client's first try: the client itself did not retry the 429.
    const calls = images.calls.filter((c) => c.body.prompt === prompt);
    expect(calls.map((c) => c.retryCount)).toEqual(['0', '0']);
    // The activity was scheduled once and succeeded in its second attempt, after the 429 failed the first.
    const generate = await activityAttempts(client, workflowId, 'generateDraft');
    expect(generate).toHaveLength(1);
    expect(generate[0]).toMatchObject({ attempt: 2, outcome: 'completed' });
    expect(generate[0]!.retriedAfter).toMatch(/429/);
  });

  it('heartbeats while it waits for the Images API', async () => {
    const prompt = 'a slow sunrise over the harbour';
    const { workflowId } = await client.start(openaiSpec(prompt));
    const handle = client.temporal.workflow.getHandle(workflowId);
    // The server holds the request: the activity's heartbeat reaches the server meanwhile.
    const pending = await waitFor('a heartbeat of generateDraft while the request is held', async () => {
      const description = await handle.describe();
      const activity = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'generateDraft');
      return activity?.lastHeartbeatTime && images.calls.some((c) => c.body.prompt === prompt) ? activity : undefined;
    });
    expect(pending.attempt).toBe(1);
    const [details] = pending.heartbeatDetails?.payloads ?? [];
    expect(JSON.parse(Buffer.from(details!.data!).toString())).toMatchObject({ waitingFor: 'openai images.generate' });
    expect(images.release(prompt)).toBe(true);
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(images.calls.filter((c) => c.body.prompt === prompt)).toHaveLength(1);
  });

  it('a content-policy refusal fails the run at once, with the reason, and is not retried', async () => {
    const prompt = 'please refuse this one';
    const { workflowId } = await client.start(openaiSpec(prompt));
    await expect(client.result(workflowId)).rejects.toThrow();
    const status = await client.status(workflowId);
    expect(status.stage).toBe('failed');
    expect(status.error).toMatch(/refused by the content policy: .*Your request was rejected/);
    expect(images.calls.filter((c) => c.body.prompt === prompt)).toHaveLength(1);
  });
});
