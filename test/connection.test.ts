// Connections as Temporal users set them (common/temporalConnection.ts): TOML profiles and TEMPORAL_*
// variables under Atelier's ATELIER_TEMPORAL_ADDRESS/NAMESPACE; wrong settings named at start, the API
// key never shown; a TLS + API key connection checked against a local gRPC server; the stack beside
// an external Temporal (the test stack's own dev server, taken as external) starting only Kubo and
// Anvil and registering the search attributes; image activities on their own task queue.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../common/config.ts';
import { redactor } from '../common/redact.ts';
import { atelierSearchAttributes } from '../common/searchAttributes.ts';
import { describeTemporal, temporalConnectOptions } from '../common/temporalConnection.ts';
import { AtelierClient } from '../client/atelier.ts';
import { Stack, registerSearchAttributes } from '../scripts/lib/stack.ts';
import { imagesTaskQueueOf } from '../workflows/activityOptions.ts';
import { workerQueues } from '../workers/worker.ts';
import { testSlotOffset } from './support/env.ts';
import { config, startWorker, testSpec, waitFor, waitForStage } from './support/harness.ts';

const API_KEY = 'atelier-test-api-key-0123456789abcdef';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-connection-'));
const file = (name: string) => path.join(dir, name);

/** Only what the test gives: no developer's TEMPORAL_* variables or ~/.config/temporalio/temporal.toml. */
const isolated = (env: Record<string, string>) => loadConfig({ HOME: dir, ...env });

/** The ConfigError's text for an environment (fails the test if the configuration loads). */
function configProblem(env: Record<string, string>): string {
  try {
    isolated(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration loaded');
}

/** A CA, a server certificate for localhost/127.0.0.1 and a client certificate, made by openssl. */
function makeCertificates() {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=atelier-test-ca');
  fs.writeFileSync(
    file('server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  fs.writeFileSync(file('client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', 'localhost'],
    ['client', 'atelier-worker'],
  ] as const) {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  }
}

beforeAll(() => {
  makeCertificates();
  fs.writeFileSync(
    file('temporal.toml'),
    `
[profile.default]
address = "127.0.0.1:7233"

[profile.cloud]
address = "my-ns.a1b2c.tmprl.cloud:7233"
namespace = "my-ns.a1b2c"
api_key = "${API_KEY}"

[profile.mtls]
address = "temporal.internal:7233"
namespace = "studio"
[profile.mtls.tls]
client_cert_path = "${file('client.pem')}"
client_key_path = "${file('client.key')}"
server_ca_cert_path = "${file('ca.pem')}"
server_name = "temporal.internal"
`,
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('resolving the connection', () => {
  it('without any setting: the embedded dev server, plain gRPC, not external', () => {
    const c = isolated({});
    expect(temporalConnectOptions(c)).toEqual({ address: '127.0.0.1:7233' });
    expect(c.ATELIER_TEMPORAL_NAMESPACE).toBe('default');
    expect(c.temporal).toMatchObject({ external: false, origin: { address: 'default', namespace: 'default' } });
  });

  it('a TOML profile gives the address, namespace and API key (TLS on); external; the key is never printed', () => {
    const c = isolated({ TEMPORAL_CONFIG_FILE: file('temporal.toml'), TEMPORAL_PROFILE: 'cloud' });
    expect(temporalConnectOptions(c)).toEqual({ address: 'my-ns.a1b2c.tmprl.cloud:7233', tls: true, apiKey: API_KEY });
    expect(c.ATELIER_TEMPORAL_ADDRESS).toBe('my-ns.a1b2c.tmprl.cloud:7233');
    expect(c.ATELIER_TEMPORAL_NAMESPACE).toBe('my-ns.a1b2c');
    expect(c.temporal).toMatchObject({ external: true, profile: { name: 'cloud', file: file('temporal.toml') } });
    expect(c.temporal.origin.address).toBe(`address in profile "cloud" of ${file('temporal.toml')}`);
    // Shown nowhere: not in the line the worker logs, and redacted from any text (the redactor covers it).
    expect(describeTemporal(c)).toBe('my-ns.a1b2c.tmprl.cloud:7233 namespace my-ns.a1b2c (TLS + API key, external)');
    expect(redactor(c)(`failed with Bearer ${API_KEY} and key=${API_KEY}`)).not.toContain(API_KEY);
  });

  it('a profile with mTLS: the certificate pair and CA are read at start, the server name kept', () => {
    const c = isolated({ TEMPORAL_CONFIG_FILE: file('temporal.toml'), TEMPORAL_PROFILE: 'mtls' });
    const options = temporalConnectOptions(c);
    expect(options.address).toBe('temporal.internal:7233');
    expect(c.ATELIER_TEMPORAL_NAMESPACE).toBe('studio');
    expect(options.apiKey).toBeUndefined();
    expect(options.tls).toEqual({
      serverNameOverride: 'temporal.internal',
      serverRootCACertificate: fs.readFileSync(file('ca.pem')),
      clientCertPair: { crt: fs.readFileSync(file('client.pem')), key: fs.readFileSync(file('client.key')) },
    });
    expect(describeTemporal(c)).toContain('(mTLS, external)');
  });

  it('precedence: ATELIER_TEMPORAL_* > TEMPORAL_* > the profile; the default profile is read without TEMPORAL_PROFILE', () => {
    const base = { TEMPORAL_CONFIG_FILE: file('temporal.toml') };
    expect(isolated(base).temporal).toMatchObject({ address: '127.0.0.1:7233', external: false });
    const env = isolated({ ...base, TEMPORAL_PROFILE: 'cloud', TEMPORAL_NAMESPACE: 'other.a1b2c' });
    expect(env.ATELIER_TEMPORAL_NAMESPACE).toBe('other.a1b2c');
    expect(env.temporal.origin.namespace).toBe('TEMPORAL_NAMESPACE');
    const atelier = isolated({ ...base, TEMPORAL_PROFILE: 'cloud', TEMPORAL_ADDRESS: 'elsewhere:7233', ATELIER_TEMPORAL_ADDRESS: 'studio.example:7233' });
    expect(temporalConnectOptions(atelier)).toEqual({ address: 'studio.example:7233', tls: true, apiKey: API_KEY });
    expect(atelier.temporal.origin.address).toBe('ATELIER_TEMPORAL_ADDRESS');
    // TEMPORAL_TLS_* over the profile's tls table; TEMPORAL_GRPC_META_* as gRPC metadata.
    const overridden = isolated({ ...base, TEMPORAL_PROFILE: 'mtls', TEMPORAL_TLS_SERVER_NAME: 'other.internal', TEMPORAL_GRPC_META_X_TEAM: 'art' });
    expect(overridden.temporal.tls).toMatchObject({ serverNameOverride: 'other.internal' });
    expect(overridden.temporal.metadata).toEqual({ 'x-team': 'art' });
  });

  it('external or embedded: loopback ATELIER_TEMPORAL_ADDRESS is the dev server, other addresses and TLS are external, the flag decides', () => {
    expect(isolated({ ATELIER_TEMPORAL_ADDRESS: '127.0.0.1:17233' }).temporal.external).toBe(false);
    expect(isolated({ TEMPORAL_ADDRESS: 'localhost:7233' }).temporal.external).toBe(false);
    expect(isolated({ TEMPORAL_ADDRESS: '127.0.0.1:27233' }).temporal).toMatchObject({
      external: true,
      externalReason: expect.stringContaining('TEMPORAL_ADDRESS'),
    });
    expect(isolated({ ATELIER_TEMPORAL_ADDRESS: 'temporal.internal:7233' }).temporal.external).toBe(true);
    expect(isolated({ TEMPORAL_TLS: 'true' }).temporal).toMatchObject({ external: true, tls: {} });
    expect(isolated({ ATELIER_TEMPORAL_EXTERNAL: 'true' }).temporal).toMatchObject({ external: true, externalReason: 'ATELIER_TEMPORAL_EXTERNAL=true' });
    expect(isolated({ TEMPORAL_ADDRESS: '127.0.0.1:27233', ATELIER_TEMPORAL_EXTERNAL: 'false' }).temporal.external).toBe(false);
    expect(configProblem({ TEMPORAL_ADDRESS: 'temporal.internal:7233', ATELIER_TEMPORAL_EXTERNAL: 'false' })).toMatch(
      /ATELIER_TEMPORAL_EXTERNAL=false, but TEMPORAL_ADDRESS names temporal.internal:7233/,
    );
  });
});

describe('wrong settings stop the program at start, named', () => {
  it('a missing certificate file', () => {
    expect(configProblem({ TEMPORAL_TLS_CLIENT_CERT_PATH: file('nope.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: file('client.key') })).toContain(
      `TEMPORAL_TLS_CLIENT_CERT_PATH="${file('nope.pem')}": no such file`,
    );
    expect(configProblem({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: dir })).toContain(`TEMPORAL_TLS_SERVER_CA_CERT_PATH="${dir}": a folder, not a file`);
  });

  it('a key without a certificate, and a certificate without its key', () => {
    expect(configProblem({ TEMPORAL_TLS_CLIENT_KEY_PATH: file('client.key') })).toContain(
      'TEMPORAL_TLS_CLIENT_KEY_PATH is set but no client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH or _DATA)',
    );
    expect(configProblem({ TEMPORAL_TLS_CLIENT_CERT_DATA: fs.readFileSync(file('client.pem'), 'utf8') })).toContain(
      'TEMPORAL_TLS_CLIENT_CERT_DATA is set but no client key',
    );
  });

  it('an API key with TLS explicitly off, never showing the key', () => {
    const message = configProblem({ TEMPORAL_API_KEY: API_KEY, TEMPORAL_TLS: 'false' });
    expect(message).toContain('TEMPORAL_API_KEY is set but TEMPORAL_TLS=false: an API key is sent only over TLS');
    expect(message).not.toContain(API_KEY);
    const malformed = configProblem({ TEMPORAL_API_KEY: `${API_KEY} trailing` });
    expect(malformed).toContain('TEMPORAL_API_KEY (value not shown): contains whitespace');
    expect(malformed).not.toContain(API_KEY);
  });

  it('a bad address, a bad boolean, a key that is not PEM, both a path and the data, and an unsupported option', () => {
    expect(configProblem({ TEMPORAL_ADDRESS: 'https://my-ns.tmprl.cloud:7233' })).toContain(
      'TEMPORAL_ADDRESS="https://my-ns.tmprl.cloud:7233": expected host:port without a scheme',
    );
    expect(configProblem({ TEMPORAL_ADDRESS: 'temporal.internal' })).toContain('TEMPORAL_ADDRESS="temporal.internal": expected host:port');
    expect(configProblem({ ATELIER_TEMPORAL_ADDRESS: 'nope' })).toContain('ATELIER_TEMPORAL_ADDRESS="nope": expected host:port');
    expect(configProblem({ TEMPORAL_TLS: 'maybe' })).toContain('TEMPORAL_TLS="maybe": expected true or false');
    const notPem = configProblem({ TEMPORAL_TLS_CLIENT_CERT_PATH: file('client.pem'), TEMPORAL_TLS_CLIENT_KEY_DATA: 'not-a-key-but-secret-material' });
    expect(notPem).toContain('TEMPORAL_TLS_CLIENT_KEY_DATA (value not shown): not a PEM private key');
    expect(notPem).not.toContain('secret-material');
    expect(configProblem({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('ca.pem'), TEMPORAL_TLS_SERVER_CA_CERT_DATA: 'x' })).toContain(
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH and TEMPORAL_TLS_SERVER_CA_CERT_DATA',
    );
    expect(configProblem({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' })).toContain(
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION=true: not supported by the TypeScript SDK 1.24',
    );
  });

  it('a missing config file or profile', () => {
    expect(configProblem({ TEMPORAL_CONFIG_FILE: file('missing.toml') })).toContain(`TEMPORAL_CONFIG_FILE="${file('missing.toml')}": no such file`);
    expect(configProblem({ TEMPORAL_CONFIG_FILE: file('temporal.toml'), TEMPORAL_PROFILE: 'staging' })).toContain(
      `TEMPORAL_PROFILE="staging": no such profile in ${file('temporal.toml')} (profiles there: default, cloud, mtls)`,
    );
    fs.writeFileSync(file('broken.toml'), '[profile.default\naddress = 1');
    expect(configProblem({ TEMPORAL_CONFIG_FILE: file('broken.toml') })).toContain(
      `TEMPORAL_CONFIG_FILE ${file('broken.toml')}: not a valid Temporal config file`,
    );
  });
});

describe('a TLS + API key connection, against a local gRPC server with TLS', () => {
  let server: grpc.Server;
  let port: number;
  const seen: { authorization?: string; team?: string }[] = [];

  beforeAll(async () => {
    server = new grpc.Server();
    // GetSystemInfo is what a connection calls first; an empty message is a valid answer.
    server.register(
      '/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo',
      (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        seen.push({ authorization: call.metadata.get('authorization')[0]?.toString(), team: call.metadata.get('x-team')[0]?.toString() });
        callback(null, Buffer.alloc(0));
      },
      (b: Buffer) => b,
      (b: Buffer) => b,
      'unary',
    );
    const credentials = grpc.ServerCredentials.createSsl(
      fs.readFileSync(file('ca.pem')),
      [{ private_key: fs.readFileSync(file('server.key')), cert_chain: fs.readFileSync(file('server.pem')) }],
      true, // client certificates required: mTLS
    );
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (error, p) => (error ? reject(error) : resolve(p))));
  });
  afterAll(() => server?.forceShutdown());

  it('the client and the worker connect with the resolved options (mTLS from TEMPORAL_TLS_*, the key as a Bearer token)', async () => {
    const c = isolated({
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      TEMPORAL_API_KEY: API_KEY,
      TEMPORAL_TLS_CLIENT_CERT_PATH: file('client.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: file('client.key'),
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('ca.pem'),
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
      TEMPORAL_GRPC_META_X_TEAM: 'art',
    });
    expect(c.temporal.external).toBe(true);
    const connection = await Connection.connect(temporalConnectOptions(c));
    await connection.close();
    expect(seen.at(-1)).toEqual({ authorization: `Bearer ${API_KEY}`, team: 'art' });
    const native = await NativeConnection.connect(temporalConnectOptions(c));
    await native.close();
    expect(seen.at(-1)?.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('without the client certificate the server refuses the handshake', async () => {
    const c = isolated({ TEMPORAL_ADDRESS: `127.0.0.1:${port}`, TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('ca.pem'), TEMPORAL_TLS_SERVER_NAME: 'localhost' });
    await expect(Connection.connect({ ...temporalConnectOptions(c), connectTimeout: 3_000 })).rejects.toThrow();
  });
});

describe('search attributes on a namespace whose credentials may not add them', () => {
  it('names each missing attribute and the command an admin runs', async () => {
    const operator = {
      listSearchAttributes: async () => ({ customAttributes: { AtelierCollection: 2 } }),
      addSearchAttributes: async () => {
        throw Object.assign(new Error('7 PERMISSION_DENIED: Request unauthorized.'), { code: 7, details: 'Request unauthorized.' });
      },
    };
    const error = await registerSearchAttributes(operator, 'studio', 'temporal.internal:7233').catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain('needs the search attributes AtelierStage (Keyword), AtelierApprover (Keyword), AtelierTokenId (Int)');
    expect(message).not.toContain('AtelierCollection (');
    expect(message).toContain('(PermissionDenied: Request unauthorized.)');
    expect(message).toContain('temporal operator search-attribute create --address temporal.internal:7233 --namespace studio --name AtelierTokenId --type Int');
  });
});

describe("the stack beside an external Temporal (the test stack's dev server, taken as external)", () => {
  const namespace = `external-${Date.now().toString(36)}`;
  const externalConfig = loadConfig({
    HOME: dir,
    ATELIER_DATA_DIR: `.data/test-external-${testSlotOffset}`,
    ATELIER_TEMPORAL_ADDRESS: config.ATELIER_TEMPORAL_ADDRESS,
    ATELIER_TEMPORAL_NAMESPACE: namespace,
    ATELIER_TEMPORAL_EXTERNAL: 'true',
    ATELIER_KUBO_API_URL: `http://127.0.0.1:${45001 + testSlotOffset}`,
    ATELIER_KUBO_GATEWAY_URL: `http://127.0.0.1:${48080 + testSlotOffset}`,
    ATELIER_ETH_RPC_URL: `http://127.0.0.1:${48545 + testSlotOffset}`,
  });
  const stack = new Stack(externalConfig);

  beforeAll(async () => {
    // A namespace of its own, without Atelier's search attributes (the dev server added them only to
    // the namespace it started with).
    const connection = await Connection.connect({ address: config.ATELIER_TEMPORAL_ADDRESS });
    try {
      await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    } finally {
      await connection.close();
    }
    await stack.reset(() => {});
  });
  afterAll(async () => {
    await stack.reset(() => {});
  });

  it('up starts only Kubo and Anvil, registers the search attributes on the namespace, and down leaves Temporal alone', async () => {
    expect(stack.temporalExternal).toBe(true);
    expect(stack.services).toEqual(['kubo', 'anvil']);
    const before = await Connection.connect(temporalConnectOptions(externalConfig));
    try {
      const { customAttributes } = await before.operatorService.listSearchAttributes({ namespace });
      expect(Object.keys(customAttributes ?? {})).not.toContain('AtelierStage');
    } finally {
      await before.close();
    }
    const lines: string[] = [];
    await stack.up((line) => lines.push(line));
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^kubo\s+started/),
        expect.stringMatching(/^anvil\s+started/),
        `temporal external at ${config.ATELIER_TEMPORAL_ADDRESS}, namespace ${namespace} (ATELIER_TEMPORAL_EXTERNAL=true)`,
      ]),
    );
    expect(lines.some((line) => /^temporal\s+started/.test(line))).toBe(false);
    expect(stack.running('temporal')).toBeUndefined();
    const status = await stack.status();
    const temporalRow = status.find((s) => s.name === 'temporal');
    expect(temporalRow).toMatchObject({ state: 'up', external: true });
    expect(temporalRow?.pid).toBeUndefined();
    expect(status.filter((s) => s.name !== 'temporal').every((s) => s.state === 'up' && s.pid)).toBe(true);
    await expect(stack.start('temporal', () => {})).rejects.toThrow(/Temporal is external \(ATELIER_TEMPORAL_EXTERNAL=true\): the stack does not start it/);

    const connection = await Connection.connect(temporalConnectOptions(externalConfig));
    try {
      // Visible to the namespace's visibility store once added (the dev server's cache refreshes in moments).
      await waitFor('the search attributes on the new namespace', async () => {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
        return atelierSearchAttributes.every((key) => key.name in (customAttributes ?? {})) ? true : undefined;
      });
      // A second up finds them there and adds nothing; the running Kubo and Anvil are reused.
      const again: string[] = [];
      await stack.up((line) => again.push(line));
      expect(again.filter((line) => /already running/.test(line))).toHaveLength(2);

      await stack.down(() => {});
      expect((await stack.status()).filter((s) => s.name !== 'temporal').map((s) => s.state)).toEqual(['down', 'down']);
      const described = await connection.workflowService.describeNamespace({ namespace });
      expect(described.namespaceInfo?.name).toBe(namespace);
    } finally {
      await connection.close();
    }
  });
});

describe('task queues', () => {
  it('ATELIER_WORKER_QUEUES picks the queues; the images queue is <task queue>-images', () => {
    expect(imagesTaskQueueOf('atelier')).toBe('atelier-images');
    expect(workerQueues({ ATELIER_WORKER_QUEUES: 'all', ATELIER_TASK_QUEUE: 'atelier' })).toEqual({
      workflows: true,
      io: true,
      images: true,
      mainQueue: 'atelier',
      imagesQueue: 'atelier-images',
    });
    expect(workerQueues({ ATELIER_WORKER_QUEUES: 'images', ATELIER_TASK_QUEUE: 'atelier' })).toMatchObject({ workflows: false, io: false, images: true });
    expect(configProblem({ ATELIER_WORKER_QUEUES: 'workflows,gpu' })).toContain(
      'ATELIER_WORKER_QUEUES="workflows,gpu": expected all, or some of workflows,io,images',
    );
  });

  it('image work waits for a worker of the images queue; chain and IO work run on the main queue', async () => {
    const taskQueue = `atelier-queues-${Date.now().toString(36)}`;
    const client = await AtelierClient.connect({ ...config, ATELIER_TASK_QUEUE: taskQueue });
    const main = await startWorker({ ATELIER_TASK_QUEUE: taskQueue, ATELIER_WORKER_QUEUES: 'workflows,io' });
    let images: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const { workflowId } = await client.start(testSpec({ approval: { policy: 'auto' } }));
      const scheduledOn = async (activity: string) => {
        const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
        const event = history.events?.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity);
        return event?.activityTaskScheduledEventAttributes?.taskQueue?.name ?? undefined;
      };
      expect(await waitFor('generateDraft to be scheduled', () => scheduledOn('generateDraft'))).toBe(`${taskQueue}-images`);
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await client.status(workflowId)).stage).toBe('generating');

      images = await startWorker({ ATELIER_TASK_QUEUE: taskQueue, ATELIER_WORKER_QUEUES: 'images' });
      await waitForStage(client, workflowId, 'minted', 90_000);
      expect(await scheduledOn('formatAsset')).toBe(`${taskQueue}-images`);
      expect(await scheduledOn('pinAsset')).toBe(taskQueue);
      expect(await scheduledOn('mintAsset')).toBe(taskQueue);
    } finally {
      await images?.stop();
      await main.stop();
      await client.close();
    }
  });
});
