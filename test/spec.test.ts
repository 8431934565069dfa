// Bad input gets a clear, specific error at the edge, and no run starts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierClient } from '../client/atelier.ts';
import { atelierCli, config, recipient, uniqueCollection } from './support/harness.ts';

let client: AtelierClient;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-spec-'));
beforeAll(async () => {
  client = await AtelierClient.connect(config);
});
afterAll(async () => {
  await client?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const validSpec = () => ({
  collectionId: uniqueCollection('spec'),
  assetKey: '1',
  name: 'Critter',
  recipient,
  generator: { kind: 'layers', layerSet: 'critters', traits: { eyes: 'round' }, seed: 1 },
  approval: { policy: 'auto' },
});

async function startWithSpec(spec: Record<string, unknown>) {
  const file = path.join(dir, `${spec.collectionId}.json`);
  fs.writeFileSync(file, JSON.stringify(spec));
  return atelierCli(['start', '--spec', file]);
}

describe('atelier start refuses bad specs before any run starts', () => {
  const cases: [string, (spec: Record<string, unknown>) => void, RegExp][] = [
    [
      'an unknown generator',
      (s) => (s.generator = { kind: 'midjourney', prompt: 'a cat' }),
      /generator\.kind: expected generator\.kind "layers", "openai" or "artwork"/,
    ],
    ['a bad recipient address', (s) => (s.recipient = '0x1234'), /recipient: expected a 0x-prefixed 20-byte address/],
    [
      'a trait the layer set does not have',
      (s) => (s.generator = { kind: 'layers', traits: { eyes: 'laser' }, seed: 1 }),
      /generator\.traits: layer "eyes" has no option "laser" \(options: round, sleepy, starry\)/,
    ],
    ['a layer the set does not have', (s) => (s.generator = { kind: 'layers', traits: { wings: 'bat' }, seed: 1 }), /generator\.traits: unknown layer "wings"/],
    ['an oversize rendition', (s) => (s.renditions = ['original', 'webp-8192']), /renditions\.1: .*webp-1024.*/],
    [
      'an expiry shorter than the reminder',
      (s) => (s.approval = { policy: 'manual', remindAfter: '2d', expireAfter: '1d' }),
      /approval\.expireAfter: 1d must be longer than remindAfter \(2d\)/,
    ],
    ['a malformed duration', (s) => (s.approval = { policy: 'manual', remindAfter: 'tomorrow' }), /approval\.remindAfter: expected a duration such as 90s/],
    [
      'an endless wait',
      (s) => (s.approval = { policy: 'manual', remindAfter: '1d', expireAfter: '99999999999999999999d' }),
      /approval\.expireAfter: expected at most 90d/,
    ],
    ['a key with leading zeros (0007 would be token 7)', (s) => (s.assetKey = '0007'), /assetKey: .*no leading zeros/],
    [
      'the zero address as recipient',
      (s) => (s.recipient = '0x0000000000000000000000000000000000000000'),
      /recipient: the zero address cannot receive a token/,
    ],
    [
      'a layer set outside the layer sets folder',
      (s) => (s.generator = { kind: 'layers', layerSet: '../../etc', seed: 1 }),
      /generator\.layerSet: expected the name of a layer set folder/,
    ],
    [
      'an absolute layer set path',
      (s) => (s.generator = { kind: 'layers', layerSet: '/tmp/layers', seed: 1 }),
      /generator\.layerSet: expected the name of a layer set folder/,
    ],
    [
      'an approver key that is not an ed25519 public key',
      (s) => (s.approval = { policy: 'manual', approvers: ['maria'], keys: { maria: 'abc' } }),
      /approval\.keys\.maria: expected an ed25519 public key/,
    ],
  ];
  for (const [what, spoil, message] of cases) {
    it(`${what}: exit code 2, the field named, nothing started`, async () => {
      const spec = validSpec();
      spoil(spec);
      const { code, stderr } = await startWithSpec(spec);
      expect(stderr).toMatch(message);
      expect(code).toBe(2);
      expect(await client.list({ collection: spec.collectionId as string })).toEqual([]);
    });
  }

  it('a spec file that is not JSON: exit code 2 and the parse error', async () => {
    const file = path.join(dir, 'broken.json');
    fs.writeFileSync(file, '{ "collectionId": ');
    const { code, stderr } = await atelierCli(['start', '--spec', file]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/broken\.json is not valid JSON/);
  });

  it('flags: a malformed --trait is refused with the expected form', async () => {
    const { code, stderr } = await atelierCli(['start', '--collection', 'c', '--key', '1', '--name', 'n', '--recipient', recipient, '--trait', 'eyes']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--trait expects layer=option, got "eyes"/);
  });

  it('a bad configuration names the variable and an example', async () => {
    const { code, stderr } = await atelierCliWithEnv({ ATELIER_ETH_RPC_URL: 'localhost:8545' }, ['list']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/ATELIER_ETH_RPC_URL="localhost:8545": expected an http\(s\) URL \(example: ATELIER_ETH_RPC_URL=http:\/\/127\.0\.0\.1:8545\)/);
  });
});

async function atelierCliWithEnv(env: Record<string, string>, args: string[]) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await atelierCli(args);
  } finally {
    for (const key of Object.keys(env)) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

it('a malformed private key is refused without echoing it', async () => {
  const saved = process.env.ATELIER_SIGNER_KEY;
  process.env.ATELIER_SIGNER_KEY = '0xdeadbeef-not-a-key';
  try {
    const { code, stderr } = await atelierCli(['list']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/ATELIER_SIGNER_KEY=\(value not shown\): expected a 0x-prefixed 32-byte hex private key/);
    expect(stderr).not.toContain('deadbeef');
  } finally {
    if (saved === undefined) delete process.env.ATELIER_SIGNER_KEY;
    else process.env.ATELIER_SIGNER_KEY = saved;
  }
});
