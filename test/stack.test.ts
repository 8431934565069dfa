// The real servers answer, and what they hold survives a restart (Temporal even a SIGKILL).
import fs from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { create as createKubo } from 'kubo-rpc-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANVIL_DEV_KEY, loadConfig } from '../common/config.ts';
import { atelierSearchAttributes } from '../common/searchAttributes.ts';
import { Stack, jsonRpc } from '../scripts/lib/stack.ts';
import { testSlotOffset } from './support/env.ts';
import { finishSignal } from './workflows/durability.ts';

const config = loadConfig();

describe('the local stack answers', () => {
  it('Temporal describes the namespace, has the custom search attributes and serves the Web UI', async () => {
    const connection = await Connection.connect({ address: config.ATELIER_TEMPORAL_ADDRESS });
    try {
      const described = await connection.workflowService.describeNamespace({ namespace: config.ATELIER_TEMPORAL_NAMESPACE });
      expect(described.namespaceInfo?.name).toBe(config.ATELIER_TEMPORAL_NAMESPACE);
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: config.ATELIER_TEMPORAL_NAMESPACE });
      for (const key of atelierSearchAttributes) expect(Object.keys(customAttributes ?? {})).toContain(key.name);
    } finally {
      await connection.close();
    }
    const ui = await fetch(`http://127.0.0.1:${config.ATELIER_TEMPORAL_UI_PORT}/`);
    expect(ui.status).toBe(200);
  });

  it('Kubo answers `id` on loopback and runs offline', async () => {
    const kubo = createKubo({ url: config.ATELIER_KUBO_API_URL });
    const id = await kubo.id();
    expect(id.id.toString()).toMatch(/^12D3|^Qm/);
    // Offline: no swarm addresses, no peers.
    expect(id.addresses ?? []).toEqual([]);
    expect(id.agentVersion).toMatch(/^kubo\/0\.4[23]\./);
    await expect(kubo.swarm.peers()).rejects.toThrow(/online mode/);
  });

  it('Anvil answers eth_chainId with the local chain id', async () => {
    expect(await jsonRpc(config.ATELIER_ETH_RPC_URL, 'eth_chainId')).toBe('0x7a69');
  });
});

describe('stack manager', () => {
  it('refuses to start a service whose port another program holds, naming the port and the variable to change', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(39545 + testSlotOffset, '127.0.0.1', resolve));
    try {
      const stack = new Stack(
        loadConfig({ ATELIER_DATA_DIR: `.data/test-conflict-${testSlotOffset}`, ATELIER_ETH_RPC_URL: `http://127.0.0.1:${39545 + testSlotOffset}` }),
      );
      await expect(stack.start('anvil', () => {})).rejects.toThrow(
        new RegExp(
          `port ${39545 + testSlotOffset} on 127.0.0.1 is held by another process that atelier did not start.\\nStop that process, or pick another port with ATELIER_ETH_RPC_URL`,
        ),
      );
      expect(stack.running('anvil')).toBeUndefined();
    } finally {
      squatter.close();
    }
  });

  it('up is idempotent: a second up reuses the running services', async () => {
    const stack = new Stack(config);
    const before = (await stack.status()).map((s) => s.pid);
    const lines: string[] = [];
    await stack.up((line) => lines.push(line));
    expect(lines.every((line) => /already running/.test(line))).toBe(true);
    expect((await stack.status()).map((s) => s.pid)).toEqual(before);
  });
});

describe('durability across restarts (a stack of its own, so other tests are not disturbed)', () => {
  const stack = new Stack(
    loadConfig({
      ATELIER_DATA_DIR: `.data/test-durability-${testSlotOffset}`,
      ATELIER_TEMPORAL_ADDRESS: `127.0.0.1:${37233 + testSlotOffset}`,
      ATELIER_TEMPORAL_UI_PORT: `${38233 + testSlotOffset}`,
      ATELIER_KUBO_API_URL: `http://127.0.0.1:${35001 + testSlotOffset}`,
      ATELIER_KUBO_GATEWAY_URL: `http://127.0.0.1:${38080 + testSlotOffset}`,
      ATELIER_ETH_RPC_URL: `http://127.0.0.1:${38545 + testSlotOffset}`,
    }),
  );
  const quiet = () => {};

  beforeAll(async () => {
    await stack.reset(quiet);
    await stack.up(quiet);
  });
  afterAll(async () => {
    await stack.down(quiet);
  });

  it('a workflow started before the Temporal server is SIGKILLed is still there after the restart, and completes', async () => {
    const address = stack.config.ATELIER_TEMPORAL_ADDRESS;
    const workflowId = `durability-${Date.now()}`;
    const taskQueue = 'durability';

    let connection = await Connection.connect({ address });
    const handle = await new Client({ connection }).workflow.start('waitForFinish', { workflowId, taskQueue });
    await connection.close();

    await stack.stop('temporal', { signal: 'SIGKILL' });
    expect((await stack.status()).find((s) => s.name === 'temporal')?.state).toBe('down');
    await stack.start('temporal', quiet);

    connection = await Connection.connect({ address });
    const client = new Client({ connection });
    const worker = await Worker.create({
      connection: await NativeConnection.connect({ address }),
      taskQueue,
      workflowsPath: fileURLToPath(new URL('./workflows/durability.ts', import.meta.url)),
    });
    try {
      const result = await worker.runUntil(async () => {
        const described = await client.workflow.getHandle(workflowId).describe();
        expect(described.status.name).toBe('RUNNING');
        await client.workflow.getHandle(workflowId).signal(finishSignal, 'after restart');
        return client.workflow.getHandle(workflowId).result();
      });
      expect(result).toBe('finished: after restart');
      expect(handle.workflowId).toBe(workflowId);
    } finally {
      await connection.close();
    }
  });

  it('a file added to Kubo is retrievable after a Kubo restart', async () => {
    const url = stack.config.ATELIER_KUBO_API_URL;
    const content = `durable ${Date.now()}`;
    const { cid } = await createKubo({ url }).add(content, { cidVersion: 1, pin: true });

    await stack.stop('kubo');
    await stack.start('kubo', quiet);

    const chunks: Uint8Array[] = [];
    for await (const chunk of createKubo({ url }).cat(cid)) chunks.push(chunk);
    expect(Buffer.concat(chunks).toString()).toBe(content);
    const gateway = await fetch(`${stack.config.ATELIER_KUBO_GATEWAY_URL}/ipfs/${cid}`);
    expect(await gateway.text()).toBe(content);
  });

  it("a transaction's effect on Anvil survives an Anvil restart", async () => {
    const rpc = stack.config.ATELIER_ETH_RPC_URL;
    const recipient = Wallet.createRandom().address;
    let provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
    const tx = await new Wallet(ANVIL_DEV_KEY, provider).sendTransaction({ to: recipient, value: parseEther('1.5') });
    await tx.wait();
    provider.destroy();

    await stack.stop('anvil');
    expect(fs.existsSync(stack.anvilStateFile)).toBe(true);
    await stack.start('anvil', quiet);

    provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
    try {
      expect(await provider.getBalance(recipient)).toBe(parseEther('1.5'));
      const receipt = await provider.getTransactionReceipt(tx.hash);
      expect(receipt?.status).toBe(1);
    } finally {
      provider.destroy();
    }
  });
});
