// generate: a draft image from trait layers (offline, deterministic) or the OpenAI Images API.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { KuboRPCClient } from 'kubo-rpc-client';
import OpenAI from 'openai';
import type { AssetSpec, Draft } from '../common/asset.ts';
import { loadLayerSet, resolveTraits, traitProblems } from '../common/layerSet.ts';
import type { LayerSet } from '../common/layerSet.ts';
import { draftFormats, inspectImage, limits } from './format.ts';
import { heartbeatWhile } from './heartbeat.ts';
import { addContent } from './kubo.ts';
import { readArtwork } from './repository.ts';
import { compositeLayers, decodedLayer, workerLayerCache } from './layerCache.ts';
import type { DecodedLayer, LayerCache } from './layerCache.ts';

export interface GenerateDependencies {
  kubo: KuboRPCClient;
  openai?: { client: OpenAI; model: string; size: string };
  /** Repositories artwork may be read from (ATELIER_REPOSITORIES). */
  repositoryRoots: string[];
}

export interface GenerateInput {
  spec: AssetSpec;
  round: number;
  /** Reviewers' feedback from earlier rounds, oldest first. */
  feedback: string[];
}

export function createGenerateActivities({ kubo, openai, repositoryRoots }: GenerateDependencies) {
  return {
    /** Heartbeats throughout: under its heartbeat timeout a lost or dead attempt is retried in seconds. */
    async generateDraft(input: GenerateInput): Promise<Draft> {
      return generate(input);
    },
  };

  async function generate({ spec, round, feedback }: GenerateInput): Promise<Draft> {
    const generator = spec.generator;
    const { image, inputs } =
      generator.kind === 'layers'
        ? await heartbeatWhile(() => composeLayers(layerSetOf(generator.layerSet), generator, round, feedback))
        : generator.kind === 'artwork'
          ? await heartbeatWhile(() => readArtwork(generator, repositoryRoots))
          : await generateWithOpenAI(openai, generator.prompt, feedback);
    // Checked whole before it is kept: a draft that cannot be formatted never goes up for approval.
    const what = {
      layers: 'the composed draft',
      openai: "the Images API's image",
      artwork: `the artwork ${generator.kind === 'artwork' ? generator.path : ''}`,
    };
    const meta = await heartbeatWhile(() => inspectImage(image, what[generator.kind], draftFormats));
    // Drafts stay pinned: the history refers to every round's draft.
    const ref = await heartbeatWhile(() => addContent(kubo, image, { pin: true }));
    log.info('draft generated', { cid: ref.cid, round });
    return { ...ref, width: meta.width, height: meta.height, inputs };
  }
}

/** `layer=option` pairs in feedback change those traits; any other feedback asks for a new draw. */
export function traitsForRound(set: LayerSet, generator: { traits: Record<string, string>; seed: number }, round: number, feedback: string[]) {
  let seed = generator.seed;
  let traits = resolveTraits(set, generator.traits, seed);
  for (let r = 2; r <= round; r++) {
    const requested = { ...generator.traits, ...traitOverrides(set, feedback[r - 2] ?? '') };
    const changesTraits = Object.entries(requested).some(([layer, option]) => traits[layer] !== option);
    const previous = JSON.stringify(traits);
    // A new seed until the draw differs: a rejected draft never comes back as is.
    for (let attempt = 0; attempt < 100; attempt++) {
      if (!changesTraits || attempt > 0) seed = (seed * 1103515245 + 12345 + r) % 2 ** 31;
      const next = resolveTraits(set, requested, seed);
      if (JSON.stringify(next) !== previous) {
        traits = next;
        break;
      }
    }
  }
  return { traits, seed };
}

/** The layer=option pairs of feedback that name a known layer and option; a later pair wins. */
export function traitOverrides(set: LayerSet, feedback: string): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const [layer, option] of traitPairs(feedback)) {
    if (traitProblems(set, { [layer]: option }).length === 0) overrides[layer] = option;
  }
  return overrides;
}

/**
 * Every `word = word` pair in the text (word: letters, digits, `_`, `-`; any whitespace around
 * `=`), left to right, as `/([\w-]+)\s*=\s*([\w-]+)/g` finds them. A single pass: each character is
 * looked at a bounded number of times, so a reviewer's 1.5 MB comment costs milliseconds (the regex
 * backtracks over every long run of word characters that no `=` follows: quadratic).
 */
export function traitPairs(text: string): [layer: string, option: string][] {
  const pairs: [string, string][] = [];
  const end = text.length;
  const wordEnd = (from: number) => {
    let i = from;
    while (i < end && isWordCode(text.charCodeAt(i))) i++;
    return i;
  };
  const spaceEnd = (from: number) => {
    let i = from;
    while (i < end && isSpaceCode(text.charCodeAt(i))) i++;
    return i;
  };
  let i = 0;
  while (i < end) {
    if (!isWordCode(text.charCodeAt(i))) {
      i++;
      continue;
    }
    // A whole run of word characters: a shorter layer would be followed by a word character, never `=`.
    const layerEnd = wordEnd(i);
    const equals = spaceEnd(layerEnd);
    if (equals < end && text.charCodeAt(equals) === 61 /* = */) {
      const optionStart = spaceEnd(equals + 1);
      const optionEnd = wordEnd(optionStart);
      if (optionEnd > optionStart) {
        pairs.push([text.slice(i, layerEnd), text.slice(optionStart, optionEnd)]);
        i = optionEnd;
        continue;
      }
    }
    // No pair starts in this run; the next one starts at a later word character.
    i = layerEnd;
  }
  return pairs;
}

/** `[\w-]`: ASCII letters, digits, `_` and `-`. */
function isWordCode(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 95 || code === 45;
}

/** `\s`, as JavaScript's regular expressions define it (Unicode spaces and line ends included). */
const space = /\s/;
function isSpaceCode(code: number): boolean {
  if (code < 128) return code === 32 || (code >= 9 && code <= 13);
  return space.test(String.fromCharCode(code));
}

async function composeLayers(set: LayerSet, generator: { layerSet: string; traits: Record<string, string>; seed: number }, round: number, feedback: string[]) {
  const problems = traitProblems(set, generator.traits);
  if (problems.length > 0) throw ApplicationFailure.nonRetryable(problems.join('; '), 'InvalidSpec');
  const { traits, seed } = traitsForRound(set, generator, round, feedback);
  const image = await composeTraits(set, generator.layerSet, traits);
  return { image, inputs: { generator: 'layers', layerSet: generator.layerSet, seed, traits } };
}

/**
 * The PNG of one option per layer (`traits`: every layer of the set named), each layer drawn with
 * its blend mode and opacity, from the worker's decoded layers (activities/layerCache.ts). The same
 * set and traits always give the same bytes. A layer whose file is bad fails for good, naming it:
 * the lowest such layer when several are.
 */
export async function composeTraits(set: LayerSet, setName: string, traits: Record<string, string>, cache: LayerCache = workerLayerCache()): Promise<Buffer> {
  const decoded = await Promise.allSettled(
    set.layers.map((layer) => {
      const option = layer.options.find((o) => o.name === traits[layer.name]);
      if (!option)
        return Promise.reject(
          ApplicationFailure.nonRetryable(`layer set "${setName}": no option "${traits[layer.name]}" for layer "${layer.name}"`, 'InvalidSpec'),
        );
      return decodedLayer(set, setName, layer, option, cache);
    }),
  );
  const failed = decoded.find((d) => d.status === 'rejected');
  if (failed) throw failed.reason;
  return compositeLayers(
    set.size,
    decoded.map((d, i) => ({ layer: (d as PromiseFulfilledResult<DecodedLayer>).value, blend: set.layers[i]!.blend })),
  );
}

/** The spec's layer set; one that is missing or malformed fails the run at once, naming the problem. */
function layerSetOf(name: string): LayerSet {
  try {
    return loadLayerSet(name);
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`generator.layerSet: ${(error as Error).message}`, 'InvalidLayerSet');
  }
}

/** Time an attempt keeps after its OpenAI request's timeout, for the checks and the Kubo add that follow. */
const OPENAI_MARGIN_MS = 30_000;

async function generateWithOpenAI(openai: GenerateDependencies['openai'], prompt: string, feedback: string[]) {
  if (!openai) {
    throw ApplicationFailure.nonRetryable('the openai generator needs ATELIER_OPENAI_API_KEY on the worker', 'GeneratorNotConfigured');
  }
  const notes = feedback.filter((f) => f.trim());
  const fullPrompt = notes.length > 0 ? `${prompt}\n\nRevise according to this feedback: ${notes.join('; ')}` : prompt;
  // One request per attempt (the client does not retry: Temporal does, with backoff and in history),
  // ended in time for the rest of the attempt; heartbeats while it waits, and a cancelled activity
  // aborts it.
  const { info, cancellationSignal } = Context.current();
  const timeout = Math.max(1_000, Math.min(openai.client.timeout, info.startToCloseTimeoutMs - OPENAI_MARGIN_MS));
  const since = new Date().toISOString();
  const waiting = () => ({ waitingFor: 'openai images.generate', since });
  try {
    const response = await heartbeatWhile(
      openai.client.images.generate(
        {
          model: openai.model,
          prompt: fullPrompt,
          n: 1,
          size: openai.size as '1024x1024',
          // DALL-E models answer with URLs unless asked; gpt-image models always send base64.
          ...(openai.model.startsWith('dall-e') ? { response_format: 'b64_json' as const } : {}),
        },
        { maxRetries: 0, timeout, signal: cancellationSignal },
      ),
      waiting,
    );
    const first = response.data?.[0];
    if (first?.b64_json) {
      // Base64 is 4 characters for 3 bytes: an answer over the draft limit is refused undecoded.
      if (first.b64_json.length > Math.ceil(limits.maxDraftBytes / 3) * 4 + 4) {
        throw ApplicationFailure.nonRetryable(
          `the Images API answered with an image of about ${Math.floor((first.b64_json.length * 3) / 4)} bytes, over the ${limits.maxDraftBytes} limit`,
          'ImageTooLarge',
        );
      }
      return { image: Buffer.from(first.b64_json, 'base64'), inputs: { generator: 'openai', model: openai.model, prompt: fullPrompt } };
    }
    if (first?.url) {
      const image = await heartbeatWhile(async () => {
        const download = await fetch(first.url!, { signal: AbortSignal.any([cancellationSignal, AbortSignal.timeout(timeout)]) });
        if (!download.ok) throw new Error(`image download failed: HTTP ${download.status}`);
        return readAtMost(download, limits.maxDraftBytes);
      }, waiting);
      return { image, inputs: { generator: 'openai', model: openai.model, prompt: fullPrompt } };
    }
    throw ApplicationFailure.nonRetryable('the Images API answered without an image', 'UnsupportedImage');
  } catch (error) {
    if (error instanceof OpenAI.APIError && error.status !== undefined && error.status < 500 && error.status !== 429 && error.status !== 408) {
      const policy = error.code === 'content_policy_violation' || error.code === 'moderation_blocked';
      throw ApplicationFailure.nonRetryable(
        policy ? `the image request was refused by the content policy: ${error.message}` : `OpenAI refused the request (${error.status}): ${error.message}`,
        policy ? 'ContentPolicyViolation' : 'OpenAIRequestRejected',
      );
    }
    throw error;
  }
}

/** A response's body, failing for good once it passes `max` bytes (never read whole first). */
async function readAtMost(response: Response, max: number): Promise<Buffer> {
  const tooLarge = (bytes: number) => ApplicationFailure.nonRetryable(`the image download is ${bytes} bytes or more, over the ${max} limit`, 'ImageTooLarge');
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > max) {
    await response.body?.cancel();
    throw tooLarge(declared);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body ?? []) {
    total += chunk.byteLength;
    if (total > max) throw tooLarge(total);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
