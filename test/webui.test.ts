// The Temporal Web UI as a person sees it: headless Chromium (Debian's `chromium`, driven by
// playwright-core) on the test stack's Web UI, over real runs: the list filtered by collection and
// stage, and a run's summary, current details and activities with their summaries.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssetResult, AssetSpec, Stage } from '../common/asset.ts';
import { projectRoot } from '../common/config.ts';
import { AtelierClient } from '../client/atelier.ts';
import { config, startWorker, testSpec, uniqueCollection, waitFor, waitForStage } from './support/harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const ui = `http://127.0.0.1:${config.ATELIER_TEMPORAL_UI_PORT}`;
const workflowsPage = `${ui}/namespaces/${encodeURIComponent(config.ATELIER_TEMPORAL_NAMESPACE)}/workflows`;
const artifacts = path.join(projectRoot, '.data', 'test-artifacts');
/** How long the UI may take to show something (it loads lazily, page by page). */
const UI_TIMEOUT = 30_000;

let client: AtelierClient;
let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
let browser: Browser | undefined;
const collectionId = uniqueCollection('webui');
let waiting: { spec: AssetSpec; workflowId: string };
let minted: { spec: AssetSpec; workflowId: string; result: AssetResult };

beforeAll(async () => {
  // Fails (never skips) without the browser: CI installs it (.ci/run).
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`chromium is not installed (no ${CHROMIUM}): the Web UI test drives Debian's chromium. Install it with: apt-get install -y chromium`);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  client = await AtelierClient.connect(config);
  worker = await startWorker();

  // Two real runs of one collection: one left awaiting approval, one approved and minted.
  const waitingSpec = testSpec({ collectionId, assetKey: 'waiting', name: 'Waiting Critter' });
  const mintedSpec = testSpec({ collectionId, assetKey: 'minted', name: 'Minted Critter' });
  const [a, b] = await Promise.all([client.start(waitingSpec), client.start(mintedSpec)]);
  await Promise.all([awaitingApproval(a.workflowId), awaitingApproval(b.workflowId)]);
  await client.approve(b.workflowId, { by: 'maria', via: 'script' });
  const result = await client.result(b.workflowId);
  expect(result.stage).toBe('minted');
  waiting = { spec: waitingSpec, workflowId: a.workflowId };
  minted = { spec: mintedSpec, workflowId: b.workflowId, result };

  // The UI reads the same visibility store: wait until it holds both runs' final stages.
  await waitFor('visibility to show both runs at their stages', async () => {
    const rows = await client.list({ collection: collectionId });
    const stages = Object.fromEntries(rows.map((r) => [r.workflowId, r.stage]));
    return stages[a.workflowId] === 'awaiting_approval' && stages[b.workflowId] === 'minted' && rows.length === 2 ? true : undefined;
  });
});

/** Waits for the run's first draft; a run that does not get there fails with what it shows. */
async function awaitingApproval(workflowId: string): Promise<void> {
  await waitForStage(client, workflowId, 'awaiting_approval', 90_000).catch(async (error: Error) => {
    const status = await client.status(workflowId).catch((e: Error) => e.message);
    throw new Error(`${error.message}; it shows ${JSON.stringify(status)}`);
  });
}

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await client?.close();
});

describe('the Temporal Web UI', () => {
  it('lists exactly the runs of a collection, and of a collection at a stage', async () => {
    await inBrowser('list', async (page) => {
      await openList(page, `AtelierCollection = "${collectionId}"`);
      await expectListedIds(page, [waiting.workflowId, minted.workflowId]);

      const stages: [Stage, string[]][] = [
        ['awaiting_approval', [waiting.workflowId]],
        ['minted', [minted.workflowId]],
      ];
      for (const [stage, ids] of stages) {
        await openList(page, `AtelierCollection = "${collectionId}" AND AtelierStage = "${stage}"`);
        await expectListedIds(page, ids);
        // The UI took the query as its filter (shown as chips a person can edit).
        await page.getByText(`"${stage}"`, { exact: true }).first().waitFor({ timeout: UI_TIMEOUT });
      }
    });
  });

  it('shows a run awaiting approval: its summary, its current details and its activities with their summaries', async () => {
    await inBrowser('awaiting', async (page) => {
      await openRunFromList(page, 'awaiting_approval', waiting.workflowId);
      await page.getByText('Running', { exact: true }).first().waitFor({ timeout: UI_TIMEOUT });

      // History: the timeline names each activity with its summary, the event table too.
      await expectTimelineEntry(page, 'subscribedEvents', "Who listens to this asset's events (worker configuration)");
      await expectTimelineEntry(page, 'approvalTrust', 'Who may decide (worker configuration)');
      await expectTimelineEntry(page, 'generateDraft', 'Generate the round 1 draft (layers)');
      await expectTimelineEntry(page, 'announceApproval', 'requested notice, round 1');
      await expectEventRow(page, 'generateDraft', 'Generate the round 1 draft (layers)');

      await openUserMetadata(page);
      const { spec } = waiting;
      const summary = `${spec.name} · ${spec.collectionId}/${spec.assetKey}`;
      expect(await waitForText(page, 'Summary', summary)).toBe(summary);
      const { draftCid } = await client.status(waiting.workflowId);
      await waitForText(
        page,
        'Current Details',
        `Stage: awaiting_approval · round 1 Draft: ${draftCid} Who may decide: any approver whose decision checks out`,
      );
      // Markdown rendered, not shown raw: the name and the stage are bold.
      expect(await renderedUnder(page, 'Current Details').locator('strong').allInnerTexts()).toEqual([spec.name, 'awaiting_approval']);
      await expectMetadataEvent(page, 'Generate the round 1 draft (layers)');
    });
  });

  it('shows a minted run: its summary, its current details with the token, and the mint among its activities', async () => {
    await inBrowser('minted', async (page) => {
      await openRunFromList(page, 'minted', minted.workflowId);
      await page.getByText('Completed', { exact: true }).first().waitFor({ timeout: UI_TIMEOUT });

      const { spec, result } = minted;
      await expectTimelineEntry(page, 'generateDraft', 'Generate the round 1 draft (layers)');
      await expectTimelineEntry(page, 'formatAsset', 'Renditions and metadata of the round 1 draft');
      await expectTimelineEntry(page, 'pinAsset', 'Pin 4 renditions and the metadata');
      await expectTimelineEntry(page, 'mintAsset', `Mint ${spec.collectionId}/${spec.assetKey} to ${spec.recipient}`);
      await expectEventRow(page, 'mintAsset', `Mint ${spec.collectionId}/${spec.assetKey} to ${spec.recipient}`);

      await openUserMetadata(page);
      const summary = `${spec.name} · ${spec.collectionId}/${spec.assetKey}`;
      expect(await waitForText(page, 'Summary', summary)).toBe(summary);
      await waitForText(page, 'Current Details', `Stage: minted · round 1 Draft: ${result.draftCid} Token ${result.tokenId} · tx ${result.txHash}`);
      expect(await renderedUnder(page, 'Current Details').locator('strong').allInnerTexts()).toEqual([spec.name, 'minted']);
      await expectMetadataEvent(page, `Mint ${spec.collectionId}/${spec.assetKey} to ${spec.recipient}`);
    });
  });
});

/** Runs `body` on a fresh page; on failure keeps a screenshot and names it in the error. */
async function inBrowser(name: string, body: (page: Page) => Promise<void>): Promise<void> {
  if (!browser) throw new Error('no browser (see the first error)');
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, timezoneId: 'UTC' });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  try {
    await body(page);
  } catch (error) {
    const file = path.join(artifacts, `webui-${name}.png`);
    fs.mkdirSync(artifacts, { recursive: true });
    const saved = await page.screenshot({ path: file, fullPage: true }).then(
      () => `screenshot: ${file}`,
      (e: Error) => `no screenshot (${e.message})`,
    );
    if (error instanceof Error) error.message += `\n  at ${page.url()}\n  ${saved}`;
    throw error;
  } finally {
    await context.close();
  }
}

/** The workflow list with the UI's own query parameter, as a person would bookmark it. */
async function openList(page: Page, query: string): Promise<void> {
  await page.goto(`${workflowsPage}?query=${encodeURIComponent(query)}`);
}

const workflowsTable = (page: Page) => page.getByRole('table', { name: 'Workflows' });

/** Waits until the list shows exactly `ids` (by the Workflow ID column's text). */
async function expectListedIds(page: Page, ids: string[]): Promise<void> {
  const expected = [...ids].sort();
  let seen: string[] = [];
  await waitFor(
    `the workflow list to show exactly ${expected.join(', ')}`,
    async () => {
      const rows = workflowsTable(page).locator('tbody tr');
      const texts = await rows.getByRole('link', { name: /^asset:/ }).allInnerTexts();
      seen = texts.map((t) => t.trim()).sort();
      return (await rows.count()) === expected.length && JSON.stringify(seen) === JSON.stringify(expected) ? true : undefined;
    },
    UI_TIMEOUT,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; it shows ${seen.length ? seen.join(', ') : 'no runs'}`);
  });
}

/** From the list filtered by collection and stage, a click on the run's id opens its history. */
async function openRunFromList(page: Page, stage: Stage, workflowId: string): Promise<void> {
  await openList(page, `AtelierCollection = "${collectionId}" AND AtelierStage = "${stage}"`);
  await expectListedIds(page, [workflowId]);
  await workflowsTable(page).getByRole('link', { name: workflowId, exact: true }).click();
  await page.waitForURL(/\/history$/);
  await page.getByRole('heading', { name: workflowId }).first().waitFor();
}

/** The timeline's entry for an activity reads "<activity type> • <summary>". */
async function expectTimelineEntry(page: Page, activityType: string, summary: string): Promise<void> {
  await page
    .locator('svg text')
    .filter({ hasText: `${activityType} • ${summary}` })
    .first()
    .waitFor();
}

/** The event table's row of the activity's scheduling shows its type and its summary. */
async function expectEventRow(page: Page, activityType: string, summary: string): Promise<void> {
  await page.getByRole('row').filter({ hasText: 'Activity Task Scheduled' }).filter({ hasText: activityType }).filter({ hasText: summary }).first().waitFor();
}

async function openUserMetadata(page: Page): Promise<void> {
  await page.getByRole('tab', { name: 'User Metadata' }).click();
  await page.waitForURL(/\/user-metadata$/);
}

/** The UI renders summaries and details (Markdown) in an iframe below their heading. */
function renderedUnder(page: Page, heading: string): FrameLocator {
  return page.locator(`xpath=//h3[normalize-space()="${heading}"]/following::iframe[1]`).contentFrame();
}

/** Waits until the rendered text under `heading` holds `text` (whitespace as a person reads it). */
async function waitForText(page: Page, heading: string, text: string): Promise<string> {
  let seen = '';
  await waitFor(
    `"${text}" under "${heading}"`,
    async () => {
      seen = (await renderedUnder(page, heading).locator('body').innerText({ timeout: 1_000 })).replace(/\s+/g, ' ').trim();
      return seen.includes(text) ? true : undefined;
    },
    UI_TIMEOUT,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; it reads: ${seen || '(nothing)'}`);
  });
  return seen;
}

/** "Events with Metadata" lists the activity by its summary. */
async function expectMetadataEvent(page: Page, summary: string): Promise<void> {
  const section = page.locator('xpath=//h3[normalize-space()="Events with Metadata"]/../..');
  await section.getByText(summary, { exact: true }).waitFor();
}
