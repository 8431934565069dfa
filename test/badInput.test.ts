// Bad input of every kind, on the real stack, through the doors a person or a script uses: the CLI
// (spec files, flags, key files, configuration), layer sets on disk, images (from a layer set or the
// Images API: truncated, 20,000 x 20,000, the wrong format behind a right extension, an SVG that
// refers outside itself), Slack requests through the real Bolt app, and raw Update and signal
// payloads sent with the `temporal` CLI. Each gets a clear error naming the field or the reason; no
// run is corrupted and no workflow task fails. The worker is the real worker process
// (workers/main.ts), and its peak RSS over the whole suite stays under 1 GiB.
import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { WorkflowNotFoundError } from '@temporalio/client';
import { temporal as temporalProto } from '@temporalio/proto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { startSlackApp } from '../client/slack/app.ts';
import type { RunningSlackApp } from '../client/slack/app.ts';
import type { AssetSpec } from '../common/asset.ts';
import { workflowIdOf } from '../common/asset.ts';
import { loadConfig, projectRoot } from '../common/config.ts';
import { newDecisionKey } from '../common/decision.ts';
import { APPROVE_ACTION, requestBlocks } from '../common/slack/blocks.ts';
import { SlackCollections } from '../common/slack/settings.ts';
import { ensureGoTool } from '../scripts/lib/tools.ts';
import { activityAttempts, killProcess, recipient, spawnWorkerProcess, testSpec, uniqueCollection, waitFor, waitForStage } from './support/harness.ts';
import { buttonClick, postInteraction } from './support/slackRequests.ts';
import type { SlackUser } from './support/slackRequests.ts';
import { FakeSlack } from './support/slackServer.ts';
import type { FakeMessage } from './support/slackServer.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-badinput-'));
/** The layer sets of this suite (the sample critters and hostile ones), and a folder beside it that must never be read. */
const setsDir = path.join(tmp, 'layer-sets');
const outsideDir = path.join(tmp, 'outside');
// This process (testSpec's check), the CLI children and the worker all read layer sets from here.
process.env.ATELIER_LAYER_SETS_DIR = setsDir;

/** A queue of its own: only the worker process below takes these runs. */
const env = { ATELIER_TASK_QUEUE: 'atelier-badinput', ATELIER_LAYER_SETS_DIR: setsDir };
const config = loadConfig({ ...process.env, ...env });

const botToken = `xoxb-test-${randomBytes(12).toString('hex')}`;
const signingSecret = randomBytes(16).toString('hex');
const appKey = newDecisionKey();
const CHANNEL = 'C0BADINPUT';
const maria: SlackUser = { id: 'U0MARIA', name: 'maria' };
const omar: SlackUser = { id: 'U0OMAR', name: 'omar' };
const mallory: SlackUser = { id: 'U0MALLORY', name: 'mallory' };

let client: AtelierClient;
let worker: { child: ChildProcess; output: () => string } | undefined;
let fake: FakeSlack;
let app: RunningSlackApp;
let images: Awaited<ReturnType<typeof startImagesServer>>;
let lookout: Awaited<ReturnType<typeof startLookout>>;
let temporal: string;
/** Every run this suite started: none may have a failed workflow task. */
const runs = new Set<string>();
const rss = { samples: [] as number[], timer: undefined as NodeJS.Timeout | undefined, afterStart: 0 };

beforeAll(async () => {
  lookout = await startLookout();
  await writeLayerSets(lookout.url);
  images = await startImagesServer();
  fake = await FakeSlack.start({ botToken });
  const collectionsFile = path.join(tmp, 'slack-collections.json');
  fs.writeFileSync(collectionsFile, JSON.stringify({ default: { channel: CHANNEL, approvers: [maria.id, omar.id] } }));
  const slack = {
    ATELIER_SLACK_BOT_TOKEN: botToken,
    ATELIER_SLACK_API_URL: fake.apiBase,
    ATELIER_SLACK_COLLECTIONS: collectionsFile,
    ATELIER_SLACK_PREVIEW_URL: config.ATELIER_KUBO_GATEWAY_URL,
  };
  temporal = await ensureGoTool('temporal');
  worker = await spawnWorkerProcess({
    ...env,
    ...slack,
    ATELIER_SLACK_APP_PUBLIC_KEY: appKey.publicKey,
    ATELIER_OPENAI_API_KEY: 'sk-test-key',
    ATELIER_OPENAI_BASE_URL: images.baseURL,
  });
  rss.afterStart = procStatus(worker.child.pid!, 'VmHWM');
  rss.timer = setInterval(() => {
    const value = worker?.child.exitCode === null ? procStatus(worker.child.pid!, 'VmRSS') : 0;
    if (value) rss.samples.push(value);
  }, 250);
  client = await AtelierClient.connect(config);
  app = await startSlackApp(
    {
      config: loadConfig({ ...process.env, ...env, ...slack, ATELIER_SLACK_SIGNING_SECRET: signingSecret, ATELIER_SLACK_DECISION_KEY: appKey.secretKey }),
      atelier: client,
      collections: SlackCollections.load(collectionsFile),
      logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, setLevel: () => {}, getLevel: () => 'error' as never, setName: () => {} },
    },
    { host: '127.0.0.1', port: 0 },
  );
});

afterAll(async () => {
  clearInterval(rss.timer);
  await app?.stop();
  await killProcess(worker?.child);
  await client?.close();
  await fake?.close();
  await images?.close();
  await lookout?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Fixtures: images made with sharp (or by hand, for the bomb) at test time.

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A decompression bomb: a valid one-colour PNG of `size` x `size` pixels (1 bit a pixel, so 20,000
 * a side is about 50 KB on disk and 400 million pixels decoded), written by hand row by row.
 */
async function bombPng(size: number): Promise<Buffer> {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 1; // bit depth 1
  header[9] = 0; // greyscale: one colour (zeros) compresses about 1000:1
  const row = Math.ceil(size / 8) + 1; // a filter byte and the row's bits
  const rows = Buffer.alloc(row * 1000);
  const stream = zlib.createDeflate({ level: 9 });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  for (let written = 0; written < size; written += 1000) stream.write(rows.subarray(0, row * Math.min(1000, size - written)));
  stream.end();
  await done;
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, pngChunk('IHDR', header), pngChunk('IDAT', Buffer.concat(chunks)), pngChunk('IEND', Buffer.alloc(0))]);
}

const noisyPng = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .png()
    .toBuffer();
const plain = (width: number, height: number) => sharp({ create: { width, height, channels: 4, background: '#d86b3b' } });

const svg = (body: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="256" height="256" viewBox="0 0 256 256">${body}</svg>`;

/** The hostile layer set's options: each passes the CLI's check of the set, and is refused by the worker before rendering. */
let hostileOptions: { name: string; file: string; reason: RegExp }[] = [];

async function writeLayerSets(lookoutUrl: string) {
  fs.mkdirSync(setsDir, { recursive: true });
  fs.mkdirSync(outsideDir, { recursive: true });
  fs.cpSync(path.join(projectRoot, 'samples', 'collections', 'critters'), path.join(setsDir, 'critters'), { recursive: true });
  const secretSvg = path.join(outsideDir, 'secret.svg');
  fs.writeFileSync(secretSvg, svg('<rect width="256" height="256" fill="#000"/>'));
  const set = (name: string, files: Record<string, string | Buffer>, collection?: unknown) => {
    const dir = path.join(setsDir, name);
    fs.mkdirSync(dir, { recursive: true });
    for (const [file, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), content);
    }
    if (collection !== undefined) fs.writeFileSync(path.join(dir, 'collection.json'), typeof collection === 'string' ? collection : JSON.stringify(collection));
  };
  const oneLayer = (file: string) => ({ name: 'one', size: 256, layers: [{ name: 'art', options: [{ name: 'a', file }] }] });
  const good = svg('<rect width="256" height="256" fill="#3b7dd8"/>');

  set('no-json', { 'art/a.svg': good });
  set('bad-json', { 'art/a.svg': good }, '{ "name": "half a file", "layers": [');
  set('bad-schema', { 'art/a.svg': good }, { ...oneLayer('art/a.svg'), size: 100000, colour: 'red' });
  set('escape-path', {}, oneLayer('../../outside/secret.svg'));
  set('escape-absolute', {}, oneLayer(secretSvg));
  set('escape-link', {}, oneLayer('art/a.svg'));
  fs.mkdirSync(path.join(setsDir, 'escape-link', 'art'));
  fs.symlinkSync(secretSvg, path.join(setsDir, 'escape-link', 'art', 'a.svg'));
  fs.mkdirSync(path.join(outsideDir, 'linked-set'));
  fs.writeFileSync(path.join(outsideDir, 'linked-set', 'a.svg'), good);
  fs.writeFileSync(path.join(outsideDir, 'linked-set', 'collection.json'), JSON.stringify(oneLayer('a.svg')));
  fs.symlinkSync(path.join(outsideDir, 'linked-set'), path.join(setsDir, 'link-set'));
  set('missing-file', { 'art/a.svg': good }, { ...oneLayer('art/a.svg'), layers: [{ name: 'art', options: [{ name: 'a', file: 'art/gone.svg' }] }] });
  set('wrong-type', { 'art/a.gif': await plain(64, 64).gif().toBuffer() }, oneLayer('art/a.gif'));

  // One set whose every option is hostile: the CLI takes it (its collection.json is fine), the worker refuses each file.
  const truncated = await noisyPng(256, 256);
  const hostile: Record<string, { content: string | Buffer; reason: RegExp }> = {
    'svg-http.svg': {
      content: svg(`<image href="${lookoutUrl}/layer.png" width="256" height="256"/>`),
      reason:
        /\(art\/svg-http\.svg\) has a reference outside itself \(href="http:\/\/127\.0\.0\.1:\d+\/layer\.png"\); an SVG layer may refer only to its own #ids/,
    },
    'svg-file.svg': {
      content: svg('<image xlink:href="file:///etc/hostname" width="256" height="256"/>'),
      reason: /\(art\/svg-file\.svg\) has a reference outside itself \(xlink:href="file:\/\/\/etc\/hostname"\)/,
    },
    'svg-absolute.svg': {
      content: svg(`<image href="${secretSvg}" width="256" height="256"/>`),
      reason: /\(art\/svg-absolute\.svg\) has a reference outside itself \(href="\/.*secret\.svg"\)/,
    },
    'svg-css.svg': {
      content: svg(`<rect width="256" height="256" style="fill: url(${lookoutUrl}/paint.svg#p)"/>`),
      reason: /\(art\/svg-css\.svg\) has a reference outside itself \(url\(http:\/\/127\.0\.0\.1:\d+\/paint\.svg#p\)\)/,
    },
    'svg-entities.svg': {
      content: `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>${svg('<text>&c;</text>')}`,
      reason: /\(art\/svg-entities\.svg\) has an entity declaration \(<!ENTITY a "aaaaaaaaaa">\)/,
    },
    'huge.png': { content: await bombPng(20_000), reason: /\(art\/huge\.png\) is 20000x20000 pixels; at most 4096 a side/ },
    'truncated.png': { content: truncated.subarray(0, truncated.length >> 1), reason: /\(art\/truncated\.png\) is truncated or corrupt \([^]*\)/ },
    'jpeg-named.png': { content: await plain(256, 256).jpeg().toBuffer(), reason: /\(art\/jpeg-named\.png\) is jpeg; expected png/ },
    'text-named.svg': { content: 'this is not a picture of anything', reason: /\(art\/text-named\.svg\) is not an image \(.*\)/ },
  };
  hostileOptions = Object.entries(hostile).map(([file, { reason }]) => ({ name: file.replace(/\.\w+$/, ''), file: `art/${file}`, reason }));
  set('hostile', Object.fromEntries(Object.entries(hostile).map(([file, { content }]) => [`art/${file}`, content])), {
    name: 'Hostile',
    size: 256,
    layers: [{ name: 'art', options: hostileOptions.map(({ name, file }) => ({ name, file })) }],
  });
}

/** An HTTP server that records every request: an SVG layer's external reference must never reach it. */
async function startLookout() {
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    requests.push(request.url ?? '');
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The Images API (POST /v1/images/generations) answering with the image the prompt names: the
 * real `openai` client in the worker reads these answers.
 */
async function startImagesServer() {
  const answers: Record<string, Buffer> = {
    fine: await plain(512, 512).png().toBuffer(),
    truncated: await noisyPng(512, 512).then((png) => png.subarray(0, png.length >> 1)),
    bomb: await bombPng(20_000),
    gif: await plain(512, 512).gif().toBuffer(),
    text: Buffer.from('{"error": "this is not an image at all"}'),
    wide: await plain(5000, 64).png().toBuffer(),
  };
  const calls: string[] = [];
  const server = http.createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk) => (raw += chunk));
    request.on('end', () => {
      const prompt = (JSON.parse(raw) as { prompt?: string }).prompt ?? '';
      calls.push(prompt);
      const kind = Object.keys(answers).find((k) => prompt.startsWith(`${k}:`)) ?? 'fine';
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ created: Math.floor(Date.now() / 1000), data: [{ b64_json: answers[kind]!.toString('base64') }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    calls,
    answers,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// What a person sees, and what the runs hold.

/** The real CLI in a child process, on this suite's queue and layer sets (and `extra` variables). */
async function cli(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(path.join(projectRoot, 'bin', 'atelier'), args, { env: { ...process.env, ...env, ...extra } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** The `temporal` CLI against the test server, as anyone with namespace access would use it. */
async function temporalCli(args: string[]): Promise<{ code: number; out: string }> {
  const common = ['--address', config.ATELIER_TEMPORAL_ADDRESS, '--namespace', config.ATELIER_TEMPORAL_NAMESPACE];
  try {
    const { stdout, stderr } = await promisify(execFile)(temporal, [...args, ...common], { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout + failed.stderr };
  }
}

async function eventTypes(workflowId: string): Promise<string[]> {
  const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).map((e) => temporalProto.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType));
}

async function expectNoFailedTasks(workflowId: string) {
  expect((await eventTypes(workflowId)).filter((t) => t === 'EVENT_TYPE_WORKFLOW_TASK_FAILED')).toEqual([]);
}

/** No run of this asset exists: the bad input started nothing. */
async function expectNothingStarted(collectionId: string, assetKey: string) {
  await expect(client.temporal.workflow.getHandle(workflowIdOf(collectionId, assetKey)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
}

/**
 * The run failed at its first generate attempt the worker ran, for good, with `reason`: no draft kept, no token,
 * no failed workflow task; `atelier status` shows the reason with exit code 1.
 */
async function expectFailedAtOnce(workflowId: string, reason: RegExp, { viaCli = false } = {}) {
  await expect(client.result(workflowId)).rejects.toThrow();
  const status = await client.status(workflowId);
  expect(status).toMatchObject({ stage: 'failed', draftCid: null, tokenId: null, decisions: [] });
  expect(status.error).toMatch(reason);
  const [generate, ...more] = await activityAttempts(client, workflowId, 'generateDraft');
  expect(more).toEqual([]);
  expect(generate).toMatchObject({ outcome: 'failed (non-retryable)' });
  if (generate!.attempt !== 1) {
    // An attempt the stack lost (a task the worker never got, or a worker too slow to answer in time)
    // may come first; never one the input failed retryably, which would be a wrong verdict on it.
    console.log(`[badInput] ${workflowId}: generateDraft failed for good at attempt ${generate!.attempt}, after ${generate!.retriedAfter}`);
    expect(generate!.retriedAfter).toMatch(/\(timeout\)$/);
  }
  await expectNoFailedTasks(workflowId);
  if (viaCli) {
    const shown = await cli(['status', workflowId]);
    expect(shown.code).toBe(1);
    expect(shown.stdout).toMatch(/^stage {6}failed \(/m);
    expect(shown.stdout).toMatch(reason);
  }
}

/** The run still awaits a decision on round 1 and holds none; nothing was accepted into its history. */
async function expectUntouched(workflowId: string) {
  const status = await client.status(workflowId);
  expect(status).toMatchObject({ stage: 'awaiting_approval', round: 1, decisions: [] });
  const types = await eventTypes(workflowId);
  expect(types.filter((t) => t.includes('UPDATE_ACCEPTED') || t === 'EVENT_TYPE_WORKFLOW_TASK_FAILED')).toEqual([]);
}

/** A manual run (unsigned decisions allowed) waiting for its first decision. */
async function awaitingRun(overrides: Partial<AssetSpec> = {}) {
  const spec = testSpec({ collectionId: uniqueCollection('bad'), ...overrides });
  const { workflowId } = await client.start(spec);
  runs.add(workflowId);
  return { spec, workflowId, ref: `${spec.collectionId}:${spec.assetKey}`, awaiting: await waitForStage(client, workflowId, 'awaiting_approval') };
}

function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return line ? Number(line[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const validSpec = (): Record<string, unknown> => ({
  collectionId: uniqueCollection('spec'),
  assetKey: '1',
  name: 'Critter',
  recipient,
  generator: { kind: 'layers', layerSet: 'critters', traits: { eyes: 'round' }, seed: 1 },
  approval: { policy: 'auto' },
});

async function startWithSpec(content: unknown, extra: Record<string, string> = {}) {
  const file = path.join(tmp, `spec-${randomBytes(4).toString('hex')}.json`);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return cli(['start', '--spec', file], extra);
}

// ---------------------------------------------------------------------------------------------

describe('spec files: exit code 2, every problem named by its field, nothing started', () => {
  /** An address with a letter's case flipped: mixed case whose EIP-55 checksum is wrong. */
  const badChecksum = (() => {
    const i = recipient.slice(2).search(/[a-fA-F]/) + 2;
    const c = recipient[i]!;
    return recipient.slice(0, i) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + recipient.slice(i + 1);
  })();
  const cases: [string, (spec: Record<string, unknown>) => void, RegExp][] = [
    ['a missing field', (s) => delete s.name, /^ {2}name: Invalid input: expected string, received undefined$/m],
    [
      'a wrong type',
      (s) => (s.generator = { kind: 'layers', layerSet: 'critters', seed: '7' }),
      /^ {2}generator\.seed: Invalid input: expected number, received string$/m,
    ],
    ['an unknown field', (s) => (s.colour = 'red'), /^ {2}\(spec\): unknown field "colour"$/m],
    ['an unknown nested field', (s) => (s.approval = { policy: 'auto', approvers: ['maria'] }), /^ {2}approval: unknown field "approvers"$/m],
    ['a 100,000-character name', (s) => (s.name = 'n'.repeat(100_000)), /^ {2}name: Too big: expected string to have <=200 characters$/m],
    [
      '101 attributes',
      (s) => (s.attributes = Array.from({ length: 101 }, (_, i) => ({ trait_type: `t${i}`, value: i }))),
      /^ {2}attributes: Too big: expected array to have <=100 items$/m,
    ],
    ['a non-canonical numeric key (0007 would be token 7)', (s) => (s.assetKey = '0007'), /^ {2}assetKey: .*no leading zeros/m],
    ['the zero address', (s) => (s.recipient = '0x0000000000000000000000000000000000000000'), /^ {2}recipient: the zero address cannot receive a token$/m],
    [
      'an address with a bad checksum',
      (s) => (s.recipient = badChecksum),
      /^ {2}recipient: expected a 0x-prefixed 20-byte address \(with a valid checksum if mixed case\)$/m,
    ],
    [
      'a duration in weeks',
      (s) => (s.approval = { policy: 'manual', remindAfter: '1w' }),
      /^ {2}approval\.remindAfter: expected a duration such as 90s, 15m, 4h or 2d$/m,
    ],
    ['a wait over 90 days', (s) => (s.approval = { policy: 'manual', expireAfter: '91d' }), /^ {2}approval\.expireAfter: expected at most 90d$/m],
    [
      'an expiry before the reminder',
      (s) => (s.approval = { policy: 'manual', remindAfter: '2d', expireAfter: '1d' }),
      /^ {2}approval\.expireAfter: 1d must be longer than remindAfter \(2d\)$/m,
    ],
    [
      'a layer set path outside the layer sets folder',
      (s) => (s.generator = { kind: 'layers', layerSet: '../outside', seed: 1 }),
      /^ {2}generator\.layerSet: expected the name of a layer set folder/m,
    ],
  ];
  for (const [what, spoil, message] of cases) {
    it(what, async () => {
      const spec = validSpec();
      spoil(spec);
      const { code, stderr, stdout } = await startWithSpec(spec);
      expect(stderr).toMatch(/^atelier: Invalid asset spec:$/m);
      expect(stderr).toMatch(message);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      // The error names the problem, never echoes a huge value back.
      expect(stderr.length).toBeLessThan(2_000);
      await expectNothingStarted(spec.collectionId as string, (spec.assetKey as string) ?? '1');
    });
  }

  it('an array of specs with one bad item: the item is named by its index and none of them starts', async () => {
    const good = validSpec();
    const bad: Record<string, unknown> = { ...validSpec(), recipient: '0x1234' };
    const { code, stderr } = await startWithSpec([good, bad]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^ {2}\[1\] recipient: expected a 0x-prefixed 20-byte address/m);
    await expectNothingStarted(good.collectionId as string, '1');
    await expectNothingStarted(bad.collectionId as string, '1');
  });

  it('a spec file that is not JSON, or not there', async () => {
    const broken = await startWithSpec('{ "collectionId": ');
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/spec-[0-9a-f]+\.json is not valid JSON: /);
    const missing = await cli(['start', '--spec', path.join(tmp, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read spec file .*nope\.json: ENOENT/);
  });
});

describe('layer sets: what the CLI refuses before starting (exit code 2), and what the worker refuses before rendering', () => {
  const cases: [string, string, RegExp][] = [
    ['a set without collection.json', 'no-json', /generator\.layerSet: layer set "no-json" not found: no .*no-json\/collection\.json/],
    ['a collection.json that is not JSON', 'bad-json', /generator\.layerSet: layer set "bad-json": collection\.json is not valid JSON \(/],
    [
      'a collection.json with a wrong size and an unknown field',
      'bad-schema',
      /generator\.layerSet: layer set "bad-schema" is malformed: (?=.*size: Too big: expected number to be <=4096)(?=.*\(collection\.json\): unknown field "colour")/,
    ],
    [
      "an option file outside the set's folder",
      'escape-path',
      /generator\.layerSet: layer set "escape-path" names files outside its folder: \.\.\/\.\.\/outside\/secret\.svg/,
    ],
    [
      'an option file by absolute path',
      'escape-absolute',
      /generator\.layerSet: layer set "escape-absolute" names files outside its folder: \/.*\/outside\/secret\.svg/,
    ],
    [
      'an option file that links out of the folder',
      'escape-link',
      /generator\.layerSet: layer set "escape-link" names files that are links out of its folder or not files: art\/a\.svg/,
    ],
    [
      'a set folder that links out of the layer sets folder',
      'link-set',
      /generator\.layerSet: layer set "link-set" is a link to .*\/outside\/linked-set, outside the layer sets folder/,
    ],
    ['an option file that does not exist', 'missing-file', /generator\.layerSet: layer set "missing-file" names files that do not exist: art\/gone\.svg/],
    [
      'an option file of a type a layer cannot be',
      'wrong-type',
      /generator\.layerSet: layer set "wrong-type" names files of types a layer cannot be \(.*\): art\/a\.gif/,
    ],
  ];
  for (const [what, layerSet, message] of cases) {
    it(what, async () => {
      const spec: Record<string, unknown> = { ...validSpec(), generator: { kind: 'layers', layerSet, seed: 1 } };
      const { code, stderr } = await startWithSpec(spec);
      expect(stderr).toMatch(message);
      expect(code).toBe(2);
      await expectNothingStarted(spec.collectionId as string, '1');
    });
  }

  it('a layer sets folder that does not exist (ATELIER_LAYER_SETS_DIR): the folder is named', async () => {
    const spec = validSpec();
    const { code, stderr } = await startWithSpec(spec, { ATELIER_LAYER_SETS_DIR: path.join(tmp, 'no-such-folder') });
    expect(code).toBe(2);
    expect(stderr).toMatch(/generator\.layerSet: the layer sets folder .*no-such-folder does not exist \(ATELIER_LAYER_SETS_DIR\)/);
    await expectNothingStarted(spec.collectionId as string, '1');
  });

  it('hostile layer files (SVG with http:, file: and absolute-path references, a CSS url or entities; a 20,000 x 20,000 PNG, truncated PNG, JPEG named .png, text named .svg): each run fails at once, naming the file and why; no reference is fetched', async () => {
    const collectionId = uniqueCollection('hostile');
    const specs = hostileOptions.map((option, i) => ({
      ...validSpec(),
      collectionId,
      assetKey: String(i + 1),
      generator: { kind: 'layers', layerSet: 'hostile', traits: { art: option.name }, seed: 1 },
    }));
    const started = await startWithSpec(specs);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    await Promise.all(
      hostileOptions.map(async (option, i) => {
        const workflowId = workflowIdOf(collectionId, String(i + 1));
        runs.add(workflowId);
        await expectFailedAtOnce(workflowId, option.reason, { viaCli: i === 0 });
      }),
    );
    expect(lookout.requests).toEqual([]);
  });
});

describe('images from the Images API: the run fails at once with the reason, nothing kept', () => {
  const openaiSpec = (prompt: string) =>
    testSpec({ collectionId: uniqueCollection('openai'), generator: { kind: 'openai', prompt, seed: 0 }, approval: { policy: 'auto' } });
  const cases: [string, string, RegExp][] = [
    ['a truncated PNG', 'truncated: a fox', /^CorruptImage: |the Images API's image is truncated or corrupt \([^]*\)/],
    ['a decompression bomb (20,000 x 20,000 of one colour, 50 KB)', 'bomb: a fox', /the Images API's image is 20000x20000 pixels; at most 4096 a side/],
    ['a GIF', 'gif: a fox', /the Images API's image is gif; expected png, jpeg, webp/],
    ['text instead of an image', 'text: a fox', /the Images API's image is not an image \(Input buffer contains unsupported image format\)/],
    ['an image wider than 4096 px', 'wide: a fox', /the Images API's image is 5000x64 pixels; at most 4096 a side/],
  ];
  for (const [what, prompt, reason] of cases) {
    it(what, async () => {
      const spec = openaiSpec(prompt);
      const { workflowId } = await client.start(spec);
      runs.add(workflowId);
      await expectFailedAtOnce(workflowId, reason);
      // Asked once: a bad image is not asked for again.
      expect(images.calls.filter((p) => p === prompt)).toHaveLength(1);
    });
  }

  it("a good image from the same server goes through to a token (the failures were the images')", async () => {
    const { workflowId } = await client.start(openaiSpec('fine: a fox'));
    runs.add(workflowId);
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.tokenId).not.toBeNull();
  });
});

describe('CLI flags and key files: exit code 2 with the reason, the run untouched', () => {
  let run: Awaited<ReturnType<typeof awaitingRun>>;
  const keyFile = (name: string, content: unknown) => {
    const file = path.join(tmp, `${name}.json`);
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
    return file;
  };
  beforeAll(async () => {
    run = await awaitingRun();
  });

  it('an unknown command', async () => {
    const { code, stderr } = await cli(['frobnicate', run.ref]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^atelier: unknown command "frobnicate"/);
  });

  it('an unknown option', async () => {
    const { code, stderr } = await cli(['approve', run.ref, '--colour', 'red']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/Unknown option '--colour'/);
  });

  it('a --round that is not a round number (0, 1.5, 1e3)', async () => {
    for (const round of ['0', '1.5', '1e3']) {
      const { code, stderr } = await cli(['approve', run.ref, '--by', 'maria', '--round', round, '--draft', run.awaiting.draftCid!]);
      expect(code).toBe(2);
      expect(stderr).toContain(`atelier: --round expects a round number, got "${round}"`);
    }
  });

  it('reject without --reason, cancel with an empty one', async () => {
    const reject = await cli(['reject', run.ref, '--by', 'maria']);
    expect(reject.code).toBe(2);
    expect(reject.stderr).toMatch(/^atelier: reject needs --reason <text>: it is the feedback for the next round/);
    const cancel = await cli(['cancel', run.ref, '--reason', '   ']);
    expect(cancel.code).toBe(2);
    expect(cancel.stderr).toMatch(/^atelier: cancel needs --reason <text>/);
  });

  it('a key file that is missing', async () => {
    const { code, stderr } = await cli(['approve', run.ref, '--key', path.join(tmp, 'no-key.json')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^atelier: cannot read key file .*no-key\.json: ENOENT/);
  });

  /** Whether any 8 characters in a row of `secret` show in `text`. */
  const leaks = (text: string, secret: string) =>
    Array.from({ length: secret.length - 7 }, (_, i) => secret.slice(i, i + 8)).some((part) => text.includes(part));

  it('a key file that is malformed: refused without echoing the secret', async () => {
    const secret = 'f00d' + randomBytes(30).toString('hex');
    const wrongKey = await cli(['approve', run.ref, '--key', keyFile('malformed', { name: 'maria', publicKey: 'ab', secretKey: `${secret}zz` })]);
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toMatch(/^atelier: .*malformed\.json is not an approver key file \(atelier keys new <name> makes one\)/);
    expect(leaks(wrongKey.stderr, secret)).toBe(false);
    const truncated = await cli(['approve', run.ref, '--key', keyFile('truncated', `{ "name": "maria", "secretKey": "${secret}"`)]);
    expect(truncated.code).toBe(2);
    expect(truncated.stderr).toMatch(/^atelier: cannot read key file .*truncated\.json: .*JSON/);
    expect(leaks(truncated.stderr, secret)).toBe(false);
  });

  // Known gap (client/cli.ts readKeyFile): the JSON error is printed as V8 words it, and for an
  // unexpected token V8 quotes the text around it, here 10 characters of the secret
  // (`Unexpected token 'a', ..."cretKey": ab12cd34ef"... is not valid JSON`). Turn back into `it`
  // once the CLI names the position only.
  it('a key file with the secret unquoted: the JSON error does not quote it', async () => {
    // Starting with a letter that begins no JSON literal, so V8 reports an unexpected token.
    const secret = 'ab' + randomBytes(31).toString('hex');
    const { code, stderr } = await cli(['approve', run.ref, '--key', keyFile('unquoted', `{"name": "maria", "secretKey": ${secret}}`)]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/cannot read key file .*unquoted\.json/);
    expect(leaks(stderr, secret)).toBe(false);
  });

  it("a key file whose public key is not its secret key's, and --by naming someone else", async () => {
    const maria = newDecisionKey();
    const mismatched = await cli([
      'approve',
      run.ref,
      '--key',
      keyFile('mismatched', { name: 'maria', publicKey: newDecisionKey().publicKey, secretKey: maria.secretKey }),
    ]);
    expect(mismatched.code).toBe(2);
    expect(mismatched.stderr).toMatch(/mismatched\.json: its public key does not belong to its secret key/);
    expect(mismatched.stderr).not.toContain(maria.secretKey);
    const otherName = await cli(['approve', run.ref, '--by', 'omar', '--key', keyFile('maria', { name: 'maria', ...maria })]);
    expect(otherName.code).toBe(2);
    expect(otherName.stderr).toMatch(/--by omar does not match the key file's approver \(maria\)/);
  });

  it('flags that make a bad spec: a seed that is not a number, a --trait without =', async () => {
    const base = ['start', '--collection', uniqueCollection('flags'), '--key', '1', '--name', 'n', '--recipient', recipient];
    const seed = await cli([...base, '--seed', '7abc']);
    expect(seed.code).toBe(2);
    expect(seed.stderr).toMatch(/--seed expects a whole number, got "7abc"/);
    const trait = await cli([...base, '--trait', 'eyes']);
    expect(trait.code).toBe(2);
    expect(trait.stderr).toMatch(/--trait expects layer=option, got "eyes"/);
  });

  it('an asset that does not exist: exit code 4', async () => {
    const { code, stderr } = await cli(['approve', `${uniqueCollection('ghost')}:1`, '--by', 'maria']);
    expect(code).toBe(4);
    expect(stderr).toMatch(/no asset run asset:ghost-/);
  });

  it('after all of it the run is untouched, and a good decision still goes through', async () => {
    await expectUntouched(run.workflowId);
    const approved = await cli(['approve', run.ref, '--by', 'maria']);
    expect(approved.code).toBe(0);
    expect((await client.result(run.workflowId)).stage).toBe('minted');
    await expectNoFailedTasks(run.workflowId);
  });
});

describe('configuration: the variable named with the problem, a secret never shown', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      'a URL that is not http(s)',
      { ATELIER_KUBO_API_URL: 'ftp://127.0.0.1:5001' },
      /ATELIER_KUBO_API_URL="ftp:\/\/127\.0\.0\.1:5001": expected an http\(s\) URL/,
    ],
    ['a port out of range', { ATELIER_TEMPORAL_UI_PORT: '70000' }, /ATELIER_TEMPORAL_UI_PORT="70000": expected a port 1-65535/],
    ['a boolean that is neither', { ATELIER_AVIF: 'maybe' }, /ATELIER_AVIF="maybe": expected true or false/],
    ['a number that is not one', { ATELIER_WORKER_MAX_ACTIVITIES: 'eight' }, /ATELIER_WORKER_MAX_ACTIVITIES="eight": /],
  ];
  for (const [what, variables, message] of cases) {
    it(what, async () => {
      const { code, stderr } = await cli(['list'], variables);
      expect(code).toBe(2);
      expect(stderr).toMatch(/^atelier: Invalid configuration:/);
      expect(stderr).toMatch(message);
      expect(stderr).toMatch(/\(example: ATELIER_\w+=/);
    });
  }

  it('malformed keys and a URL with credentials: named, never echoed', async () => {
    const secrets = {
      ATELIER_SIGNER_KEY: '0xdeadbeef-signer-secret',
      ATELIER_SLACK_DECISION_KEY: 'slack-decision-secret-value',
      ATELIER_ETH_RPC_URL: 'ftp://alice:hunter2-secret@rpc.example.org/v3/0123456789abcdef0123456789abcdef',
    };
    const { code, stderr } = await cli(['list'], secrets);
    expect(code).toBe(2);
    for (const name of Object.keys(secrets)) expect(stderr).toContain(name);
    for (const leak of ['deadbeef-signer-secret', 'slack-decision-secret-value', 'hunter2-secret', '0123456789abcdef0123456789abcdef'])
      expect(stderr).not.toContain(leak);
  });

  it('a worker with a bad configuration does not start: exit code 1, the variable named', async () => {
    const started = spawnWorkerProcess({ ...env, ATELIER_WORKER_MAX_ACTIVITIES: '0' }).then(
      () => 'started',
      (error: Error) => error.message,
    );
    const message = await started;
    expect(message).toMatch(/^worker exited with 1:/);
    expect(message).toMatch(/ATELIER_WORKER_MAX_ACTIVITIES="0": /);
  });
});

describe('Slack requests through the app: 401 or an ephemeral reason, nothing taken', () => {
  const requestMessage = (workflowId: string) => fake.waitFor(() => fake.requestMessages(workflowId, 1)[0], `the request of ${workflowId}`);
  const signedOnly = () =>
    awaitingRun({ approval: { policy: 'manual', approvers: [], keys: {}, unsigned: false, remindAfter: '1h', expireAfter: '2h', maxRounds: 3 } });
  const ephemeral = (user: SlackUser, pattern: RegExp, since: number) =>
    fake.waitFor(
      () => fake.ephemeralsFor(user.id).find((e) => e.at >= since && pattern.test(e.text)),
      `an ephemeral answer to ${user.name} matching ${pattern}`,
    );

  it('a forged signature, a timestamp over 5 minutes old, no signature at all: 401 each', async () => {
    const { workflowId } = await signedOnly();
    const message = await requestMessage(workflowId);
    const before = fake.ephemerals.length;
    const forged = await postInteraction(app.url!, signingSecret, buttonClick(message, APPROVE_ACTION, maria), { secret: randomBytes(16).toString('hex') });
    expect(forged.status).toBe(401);
    const old = await postInteraction(app.url!, signingSecret, buttonClick(message, APPROVE_ACTION, maria), {
      timestamp: Math.floor(Date.now() / 1000) - 6 * 60,
    });
    expect(old.status).toBe(401);
    const unsigned = await fetch(app.url!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'payload=%7B%7D' });
    expect(unsigned.status).toBe(401);
    await expectUntouched(workflowId);
    expect(fake.ephemerals.slice(before)).toEqual([]);
  });

  // Known gap, marked so the suite stays green until it is fixed: Bolt 5.1's HTTPReceiver refuses
  // only timestamps over 5 minutes in the past (receivers/verify-request.js), so a request signed
  // for 10 minutes ahead is taken (200, and the click approves). Slack's rule is |now - ts| <= 5 min;
  // the check belongs in client/slack/app.ts, before Bolt's. Turn this back into `it` then.
  it('a future-dated request (10 minutes ahead) is refused like a stale one', async () => {
    const { workflowId } = await signedOnly();
    const message = await requestMessage(workflowId);
    const future = await postInteraction(app.url!, signingSecret, buttonClick(message, APPROVE_ACTION, maria), {
      timestamp: Math.floor(Date.now() / 1000) + 10 * 60,
    });
    expect(future.status).toBe(401);
    await expectUntouched(workflowId);
  });

  it('someone who is not an approver: told so, nothing sent', async () => {
    const { workflowId } = await signedOnly();
    const message = await requestMessage(workflowId);
    const since = Date.now();
    expect((await postInteraction(app.url!, signingSecret, buttonClick(message, APPROVE_ACTION, mallory))).status).toBe(200);
    await ephemeral(mallory, /^You are not an approver for \*bad-[0-9a-f]+\*, so nothing was sent\./, since);
    await expectUntouched(workflowId);
  });

  it('a double click makes one decision; a replay of the same signed click inside the window is told it is decided', async () => {
    const { workflowId } = await signedOnly();
    const message = await requestMessage(workflowId);
    const click = buttonClick(message, APPROVE_ACTION, maria);
    const timestamp = Math.floor(Date.now() / 1000);
    const since = Date.now();
    const both = await Promise.all([
      postInteraction(app.url!, signingSecret, click, { timestamp }),
      postInteraction(app.url!, signingSecret, buttonClick(message, APPROVE_ACTION, maria)),
    ]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    await ephemeral(maria, new RegExp(`already decided[^]*approve by ${maria.id}`), since);
    // The very same request (body, timestamp, signature) again, a moment later.
    const replayedAt = Date.now();
    expect((await postInteraction(app.url!, signingSecret, click, { timestamp })).status).toBe(200);
    await ephemeral(maria, /(already decided|not awaiting a decision)/, replayedAt);
    const result = await client.result(workflowId);
    expect(result.stage).toBe('minted');
    expect(result.decisions).toHaveLength(1);
    const types = await eventTypes(workflowId);
    expect(types.filter((t) => t.includes('UPDATE_ACCEPTED'))).toHaveLength(1);
    await expectNoFailedTasks(workflowId);
  });

  it('a button for a run that does not exist: told so, nothing started', async () => {
    const ghost = workflowIdOf(uniqueCollection('ghost'), '404');
    const blocks = requestBlocks(
      { workflowId: ghost, collectionId: 'ghost', assetKey: '404', name: 'Ghost', round: 1, draftCid: 'bafkreighost', inputs: {}, feedback: [], approvers: [] },
      { previewBase: config.ATELIER_KUBO_GATEWAY_URL },
    ) as unknown as FakeMessage['blocks'];
    const message: FakeMessage = { channel: CHANNEL, ts: '1700000000.000404', user: fake.botUserId, bot_id: fake.botId, text: 'ghost', blocks, updates: 0 };
    const since = Date.now();
    expect((await postInteraction(app.url!, signingSecret, buttonClick(message, APPROVE_ACTION, omar))).status).toBe(200);
    await ephemeral(omar, new RegExp(`no asset run ${ghost}[^]*Nothing was taken\\.$`), since);
    await expect(client.temporal.workflow.getHandle(ghost).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });
});

describe('raw Update and signal payloads from the `temporal` CLI: refused with the reason, the run still decidable', () => {
  let run: Awaited<ReturnType<typeof awaitingRun>>;
  const update = (name: string, ...input: string[]) =>
    temporalCli(['workflow', 'update', 'execute', '--workflow-id', run.workflowId, '--name', name, ...input]);
  const signal = (name: string, ...input: string[]) => temporalCli(['workflow', 'signal', '--workflow-id', run.workflowId, '--name', name, ...input]);
  beforeAll(async () => {
    run = await awaitingRun();
  });

  it('an Update in an encoding the worker cannot decode, or of broken JSON', async () => {
    const { code, out } = await update('approve', '--input', '{"by":"x"}', '--input-meta', 'encoding=json/protobuf');
    expect(code).not.toBe(0);
    expect(out).toMatch(/could not be decoded/);
    // Bytes that are not JSON under json/plain (see the signals below for the `1234` trick).
    const broken = await update('approve', '--input', '1234', '--input-base64', '--input-meta', 'encoding=json/plain');
    expect(broken.code).not.toBe(0);
    expect(broken.out).toMatch(/could not be decoded/);
  });

  it('an Update whose input is not an object', async () => {
    for (const input of ['42', '"approve"', 'null', '[1,2]']) {
      const { code, out } = await update('reject', '--input', input);
      expect(code).not.toBe(0);
      expect(out).toMatch(/a decision must be an object/);
    }
  });

  it('an Update with a 1.5 MB comment: refused by its length', async () => {
    const file = path.join(tmp, 'huge-comment.json');
    fs.writeFileSync(file, JSON.stringify({ by: 'maria', via: 'script', round: 1, draftCid: run.awaiting.draftCid, comment: 'x'.repeat(1_500_000) }));
    const started = Date.now();
    const { code, out } = await update('reject', '--input-file', file);
    expect(code).not.toBe(0);
    expect(out).toMatch(/at most 2000/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('an Update name the workflow does not have', async () => {
    const { code, out } = await update('approveEverything', '--input', '{"by":"maria"}');
    expect(code).not.toBe(0);
    expect(out).toMatch(/approveEverything/);
  });

  it('cancel without a reason, and not as an object', async () => {
    const noReason = await update('cancel', '--input', '{"by":"mallory"}');
    expect(noReason.code).not.toBe(0);
    expect(noReason.out).toMatch(/\\?"reason\\?" must say why \(1-2000 characters\)/);
    const notObject = await update('cancel', '--input', '"now"');
    expect(notObject.code).not.toBe(0);
    expect(notObject.out).toMatch(/a cancel must be an object \{ by, reason \}/);
  });

  it('signals: a wrong encoding, broken JSON, not an object, a 1.5 MB comment, an unknown name: accepted by the server, refused by the run', async () => {
    const file = path.join(tmp, 'huge-signal.json');
    fs.writeFileSync(file, JSON.stringify({ by: 'maria', via: 'script', round: 1, draftCid: run.awaiting.draftCid, comment: 'y'.repeat(1_500_000) }));
    for (const args of [
      ['approve', '--input', '{"by":"x"}', '--input-meta', 'encoding=json/protobuf'],
      // Broken JSON: the CLI checks JSON input before it decodes base64, and `1234` is both JSON and
      // the base64 of three bytes that are not JSON (nor UTF-8).
      ['approve', '--input', '1234', '--input-base64', '--input-meta', 'encoding=json/plain'],
      ['reject', '--input', '42'],
      ['reject', '--input-file', file],
      ['approveEverything', '--input', '{}'],
    ]) {
      const { code, out } = await signal(args[0]!, ...args.slice(1));
      expect(code, `temporal workflow signal ${args.join(' ').slice(0, 80)}: ${out}`).toBe(0);
    }
    // The signals are in history (a signal always is) and the run has taken none of them.
    await waitFor('the five signals in history', async () =>
      (await eventTypes(run.workflowId)).filter((t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED').length >= 5 ? true : undefined,
    );
    const status = await client.status(run.workflowId);
    expect(status).toMatchObject({ stage: 'awaiting_approval', round: 1, decisions: [] });
  });

  it('after all of it: untouched, healthy, and a good decision mints', async () => {
    await expectUntouched(run.workflowId);
    await client.approve(run.workflowId, { by: 'maria', via: 'script' });
    const result = await client.result(run.workflowId);
    expect(result).toMatchObject({ stage: 'minted', decisions: [{ kind: 'approve', by: 'maria', round: 1 }] });
    await expectNoFailedTasks(run.workflowId);
  });
});

describe('the worker through all of it', () => {
  it('no run of this suite ever failed a workflow task', async () => {
    expect(runs.size).toBeGreaterThan(15);
    for (const workflowId of runs) await expectNoFailedTasks(workflowId);
  });

  it('stayed under 1 GiB RSS', () => {
    const peak = procStatus(worker!.child.pid!, 'VmHWM');
    const sampled = Math.max(...rss.samples);
    console.log(
      `worker RSS: peak (VmHWM) ${(peak / 2 ** 20).toFixed(0)} MiB, highest sample ${(sampled / 2 ** 20).toFixed(0)} MiB over ${rss.samples.length} samples, ` +
        `${(rss.afterStart / 2 ** 20).toFixed(0)} MiB peak by the time it polled`,
    );
    expect(worker!.child.exitCode).toBe(null);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(2 ** 30);
  });
});
