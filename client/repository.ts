// Artwork repositories from the client side: asking for a sync (the CLI, the post-receive hook, the
// webhook endpoint), waiting for its answer, and installing the hook into a bare repository.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { SyncRecord, SyncRequest } from '../common/repository.ts';
import { refPattern, repositoryLocationProblem, repositorySyncWorkflowId } from '../common/repository.ts';
import type { Config } from '../common/config.ts';
import { projectRoot, repositoryRootsOf } from '../common/config.ts';
import type { repositorySync } from '../workflows/repositorySync.ts';
import { knowsDeliveryQuery, pushSignal, repositorySyncQuery } from '../workflows/messages.ts';

export class RepositoryRefused extends Error {
  override name = 'RepositoryRefused';
}

/**
 * Hands a push to the repository's sync workflow (started if it is not running): pushes that
 * arrive together are synced once, to the latest. Answers at once; `waitForSync` waits for the sync.
 */
export async function requestSync(
  client: Client,
  taskQueue: string,
  request: { repository: string; ref: string; commit?: string; deliveryId?: string; requestedBy: string },
): Promise<{ workflowId: string; requestId: string }> {
  const problem = repositoryLocationProblem(request.repository);
  if (problem) throw new RepositoryRefused(`repository: ${problem}`);
  if (!refPattern.test(request.ref)) throw new RepositoryRefused(`"${request.ref}" is not a branch, tag or commit name`);
  const workflowId = repositorySyncWorkflowId(request.repository);
  const push: SyncRequest = { requestId: randomUUID(), ...request };
  await client.workflow.signalWithStart<typeof repositorySync, [SyncRequest]>('repositorySync', {
    workflowId,
    taskQueue,
    args: [{ repository: request.repository }],
    signal: pushSignal,
    signalArgs: [push],
    staticSummary: `Artwork repository ${path.basename(request.repository)}`,
    staticDetails: `Syncs ${request.repository}: pushes start, revise or withdraw its asset runs`,
  });
  return { workflowId, requestId: push.requestId };
}

/** True when the repository's sync workflow has already taken this webhook delivery. */
export async function syncKnowsDelivery(client: Client, repository: string, deliveryId: string): Promise<boolean> {
  try {
    return await client.workflow.getHandle(repositorySyncWorkflowId(repository)).query(knowsDeliveryQuery, deliveryId);
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/** The sync that answered the request, once it has (polls the workflow's state; no history is written). */
export async function waitForSync(client: Client, repository: string, requestId: string, timeoutMs = 120_000): Promise<SyncRecord> {
  const handle = client.workflow.getHandle(repositorySyncWorkflowId(repository));
  const deadline = Date.now() + timeoutMs;
  for (let wait = 100; ; wait = Math.min(1000, wait * 2)) {
    const state = await handle.query(repositorySyncQuery);
    const record = state.syncs.find((s) => s.requestIds.includes(requestId));
    if (record) return record;
    if (Date.now() > deadline) throw new Error(`no sync of ${repository} answered within ${timeoutMs / 1000} s (the worker may be down); it will still run`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** The repository's absolute path, checked against ATELIER_REPOSITORIES (the same rule the worker applies). */
export function repositoryPath(config: Config, location: string): string {
  const absolute = path.resolve(location);
  if (!fs.existsSync(absolute)) throw new RepositoryRefused(`${absolute} does not exist`);
  const real = fs.realpathSync(absolute);
  const roots = repositoryRootsOf(config).map((root) => (fs.existsSync(root) ? fs.realpathSync(root) : root));
  if (!roots.some((root) => real === root || real.startsWith(root + path.sep))) {
    throw new RepositoryRefused(`${real} is not within ATELIER_REPOSITORIES (${repositoryRootsOf(config).join(', ')}): workers would not read it`);
  }
  return real;
}

/**
 * Installs a post-receive hook into a bare repository: a push to `branch` runs `atelier sync` for
 * the pushed commit, and the pusher sees its lines. The Temporal settings in force now are written
 * in as defaults; the environment the hook runs in wins.
 */
export function installHook(config: Config, repository: string, branch: string): string {
  const repo = repositoryPath(config, repository);
  const hooks = path.join(repo, 'hooks');
  if (!fs.existsSync(path.join(repo, 'objects')) || !fs.existsSync(path.join(repo, 'refs'))) {
    throw new RepositoryRefused(`${repo} is not a bare git repository (no objects/ and refs/): install the hook where pushes arrive`);
  }
  if (!/^[\w./-]{1,200}$/.test(branch) || branch.includes('..')) throw new RepositoryRefused(`"${branch}" is not a branch name`);
  const file = path.join(hooks, 'post-receive');
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const defaults = (['ATELIER_TEMPORAL_ADDRESS', 'ATELIER_TEMPORAL_NAMESPACE', 'ATELIER_TASK_QUEUE', 'ATELIER_REPOSITORIES'] as const)
    .map((name) => `: "\${${name}:=${String(config[name]).replace(/["$`\\]/g, '')}}"; export ${name}`)
    .join('\n');
  const script = `#!/bin/sh
# Installed by \`atelier repo install-hook\`: a push to ${branch} syncs this repository's asset runs
# (docs/artwork.md). The sync is durable: if this hook is interrupted, the push is still synced.
${defaults}
unset GIT_DIR
while read -r old new ref; do
  if [ "$ref" = ${quote(`refs/heads/${branch}`)} ] && [ "$new" != "0000000000000000000000000000000000000000" ]; then
    ${quote(path.join(projectRoot, 'bin', 'atelier'))} sync ${quote(repo)} --ref "$new" --requested-by hook || echo "atelier: the sync reported problems (exit $?)"
  fi
done
exit 0
`;
  fs.mkdirSync(hooks, { recursive: true });
  fs.writeFileSync(file, script, { mode: 0o755 });
  fs.chmodSync(file, 0o755);
  return file;
}
