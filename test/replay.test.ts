// Runs that wait days outlive deploys: today's workflow code must replay yesterday's histories.
// Histories are refreshed with `ATELIER_SAVE_HISTORIES=1 npx vitest run test/lifecycle.test.ts`, the
// minter's (minter-batches.json: a full batch, a batch window, answers, continue-as-new) with
// `ATELIER_SAVE_HISTORIES=1 npx vitest run test/timeskip/minter.test.ts`, and an asset minted in batch
// mode through the minter (batch-mode.json) with `ATELIER_SAVE_HISTORIES=1 npx vitest run test/batchHistory.test.ts`
// a collection's run and one of its assets' (collection-sample.json, collection-asset-sampled.json) with
// `ATELIER_SAVE_HISTORIES=1 npx vitest run test/collection.test.ts -t sample`, and artwork runs (revised,
// rejected by checks) with the repository's sync run with `ATELIER_SAVE_HISTORIES=1 npx vitest run test/repository.test.ts`
// (add, never replace, when the workflow changes: old ones are what running workflows look like).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowBundle } from './support/harness.ts';

const historiesDir = fileURLToPath(new URL('./histories/', import.meta.url));
const saved = fs.readdirSync(historiesDir).filter((f) => f.endsWith('.json'));

describe('replay of saved histories', () => {
  it('has histories of every ending to replay', () => {
    expect(saved).toEqual(
      expect.arrayContaining([
        'approved-from-cli.json',
        'rejected-then-approved.json',
        'expired.json',
        'auto-policy.json',
        'minter-batches.json',
        'batch-mode.json',
        'collection-sample.json',
        'collection-asset-sampled.json',
        'artwork-revised.json',
        'artwork-checks-failed.json',
        'repository-sync.json',
        'dynamic-minted.json',
        'dynamic-asset.json',
        'dynamic-refresh.json',
        'chain-watcher.json',
        'chain-watcher-continued.json',
        'scheduled-change.json',
        'collection-reveal.json',
      ]),
    );
  });

  it('replays each saved history with the current workflow code without nondeterminism', async () => {
    const histories = saved.map((file) => ({
      workflowId: path.basename(file, '.json'),
      history: JSON.parse(fs.readFileSync(path.join(historiesDir, file), 'utf8')),
    }));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});
