// The README's first command keeps working: the demo runs end to end (here on the test stack).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { projectRoot } from '../common/config.ts';

it('npm run demo mints every asset and ends with the summary line', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'scripts', 'demo.ts'), '--count', '3'], {
    cwd: projectRoot,
    env: process.env,
    maxBuffer: 16 * 1024 * 1024,
  });
  const lines = stdout.trim().split('\n');
  expect(lines.at(-1)).toMatch(/^minted 3\/3 assets in \d+\.\d s$/);
  expect(stdout).toMatch(/asset\s+stage\s+token\s+tx\s+metadata cid\s+gateway url/);
  expect(stdout.match(/^asset:critters-\w+:\d\s+minted\s+\d+/gm)).toHaveLength(3);
  expect(stdout).toMatch(
    /stage times of asset:critters-\w+:1: subscribedEvents \d+ ms, generateDraft \d+ ms, formatAsset \d+ ms, pinAsset \d+ ms, mintAsset \d+ ms/,
  );
});
