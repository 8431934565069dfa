// The openai generator runs the real `openai` client against a local Images API server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { sha256Hex } from '../activities/kubo.ts';
import { loadConfig } from '../common/config.ts';
import { gatewayGet, startWorker, testSpec } from './support/harness.ts';
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

  it('retries a 429 and goes on', async () => {
    const prompt = 'a busy street of robots';
    const { workflowId } = await client.start(openaiSpec(prompt));
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(images.calls.filter((c) => c.body.prompt === prompt)).toHaveLength(2);
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
