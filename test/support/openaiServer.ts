// A small local server that speaks the OpenAI Images API (POST /v1/images/generations) and the
// moderation API (POST /v1/moderations), so the real `openai` client runs in tests. Prompts steer
// images: "refuse" -> content-policy refusal, "busy" -> one 429 first, "slow" -> held until the
// test calls `release(prompt)`, anything else -> a PNG. Moderation flags an image that is mostly
// red (violence, violence/graphic); `failModerations(n)` answers the next n requests with a 500.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

export interface ImagesCall {
  authorization: string | undefined;
  /** The `openai` client's own retry count of this request (`x-stainless-retry-count`): 0 on a first try. */
  retryCount: string | undefined;
  body: { model?: string; prompt?: string; size?: string; n?: number };
}

export interface ModerationCall {
  authorization: string | undefined;
  body: { model?: string; input?: unknown };
}

/** The categories omni-moderation-latest answers with. */
const moderationCategories = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/instructions',
  'self-harm/intent',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
] as const;

/** A moderation answer for one input: mostly red images are flagged for violence. */
async function moderate(input: unknown) {
  const url = Array.isArray(input)
    ? (input as { type?: string; image_url?: { url?: string } }[]).find((i) => i.type === 'image_url')?.image_url?.url
    : undefined;
  const match = /^data:image\/[a-z]+;base64,(.+)$/.exec(url ?? '');
  if (!match) throw new Error('expected an image_url input with a base64 data URL');
  const { channels } = await sharp(Buffer.from(match[1]!, 'base64')).stats();
  const [r, g, b] = channels.map((c) => c.mean) as [number, number, number];
  const red = r > 150 && g < 100 && b < 100;
  const flags = new Set<string>(red ? ['violence', 'violence/graphic'] : []);
  return {
    flagged: flags.size > 0,
    categories: Object.fromEntries(moderationCategories.map((c) => [c, flags.has(c)])),
    category_scores: Object.fromEntries(moderationCategories.map((c) => [c, flags.has(c) ? 0.93 : 0.001])),
    category_applied_input_types: Object.fromEntries(moderationCategories.map((c) => [c, ['image']])),
  };
}

export async function startImagesServer() {
  const calls: ImagesCall[] = [];
  const moderationCalls: ModerationCall[] = [];
  let failingModerations = 0;
  const throttled = new Set<string>();
  const held = new Map<string, () => void>();
  const image = await sharp({ create: { width: 512, height: 512, channels: 4, background: '#3b7dd8' } })
    .png()
    .toBuffer();

  const server = http.createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk) => (raw += chunk));
    request.on('end', () => {
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(body));
      };
      if (request.method === 'POST' && request.url === '/v1/moderations') {
        const body = JSON.parse(raw) as ModerationCall['body'];
        moderationCalls.push({ authorization: request.headers.authorization, body });
        if (failingModerations > 0) {
          failingModerations--;
          return reply(500, { error: { message: 'The server had an error while processing your request.', type: 'server_error' } });
        }
        return void moderate(body.input).then(
          (result) => reply(200, { id: `modr-${moderationCalls.length}`, model: body.model ?? 'omni-moderation-latest', results: [result] }),
          (error: Error) => reply(400, { error: { message: error.message, type: 'invalid_request_error' } }),
        );
      }
      if (request.method !== 'POST' || request.url !== '/v1/images/generations') {
        return reply(404, { error: { message: `no route ${request.method} ${request.url}`, type: 'invalid_request_error' } });
      }
      const body = JSON.parse(raw) as ImagesCall['body'];
      calls.push({ authorization: request.headers.authorization, retryCount: request.headers['x-stainless-retry-count'] as string | undefined, body });
      const prompt = body.prompt ?? '';
      if (prompt.includes('refuse')) {
        return reply(400, {
          error: {
            message: 'Your request was rejected as a result of our safety system.',
            type: 'image_generation_user_error',
            param: null,
            code: 'content_policy_violation',
          },
        });
      }
      if (prompt.includes('busy') && !throttled.has(prompt)) {
        throttled.add(prompt);
        return reply(429, { error: { message: 'Rate limit reached for images', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after-ms': '50' });
      }
      const answer = () => reply(200, { created: Math.floor(Date.now() / 1000), data: [{ b64_json: image.toString('base64') }] });
      if (prompt.includes('slow') && !held.has(prompt)) return void held.set(prompt, answer);
      answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    calls,
    moderationCalls,
    image,
    /** Answers the next `count` moderation requests with a 500. */
    failModerations(count: number) {
      failingModerations = count;
    },
    /** Answers the held request of a "slow" prompt; false when none has arrived yet. */
    release(prompt: string): boolean {
      const answer = held.get(prompt);
      if (!answer) return false;
      held.set(prompt, () => {});
      answer();
      return true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
