// The workflow code bundled ahead of time (`npm run build`): a worker that starts from it skips
// webpack (seconds, and a few hundred MiB it keeps). Used only while it matches the sources.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowBundle } from '@temporalio/worker';
import { projectRoot } from '../common/config.ts';

export const prebuiltBundleFile = path.join(projectRoot, '.build', 'workflow-bundle.js');
const digestFile = path.join(projectRoot, '.build', 'workflow-bundle.sources');

/** A digest of everything the bundle is built from: workflow and shared code, and the locked dependencies. */
export function workflowSourcesDigest(): string {
  const hash = createHash('sha256');
  const files = ['workflows', 'common'].flatMap((dir) =>
    fs
      .readdirSync(path.join(projectRoot, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(ts|js)$/.test(f))
      .map((f) => path.join(dir, f)),
  );
  for (const file of [...files.sort(), 'package-lock.json'])
    hash
      .update(`${file}\0`)
      .update(fs.readFileSync(path.join(projectRoot, file)))
      .update('\0');
  return hash.digest('hex');
}

export function writePrebuiltBundle(bundle: WorkflowBundle): void {
  fs.mkdirSync(path.dirname(prebuiltBundleFile), { recursive: true });
  fs.writeFileSync(prebuiltBundleFile, bundle.code);
  fs.writeFileSync(digestFile, workflowSourcesDigest());
}

/** The prebuilt bundle if it was built from the sources as they are now; else why not. */
export function prebuiltBundle(): { bundle: WorkflowBundle } | { reason: string } {
  if (!fs.existsSync(prebuiltBundleFile) || !fs.existsSync(digestFile)) return { reason: 'no prebuilt bundle (npm run build makes one)' };
  if (fs.readFileSync(digestFile, 'utf8') !== workflowSourcesDigest())
    return { reason: 'the prebuilt bundle is older than the workflow sources (npm run build)' };
  return { bundle: { code: fs.readFileSync(prebuiltBundleFile, 'utf8') } };
}
