// `atelier sync` and `atelier repo install-hook`: a designer's push becomes asset runs, and the
// lines say what happened to each asset (exit 1 when a check failed or an asset is invalid).
import { parseArgs } from 'node:util';
import type { AssetStatus } from '../common/asset.ts';
import { finalStages } from '../common/asset.ts';
import type { Config } from '../common/config.ts';
import type { SyncLine } from '../common/repository.ts';
import { refPattern } from '../common/repository.ts';
import { AtelierClient } from './atelier.ts';
import { installHook, repositoryPath, requestSync, waitForSync } from './repository.ts';

export const repositoryUsage = `  sync <repository> [--ref <rev>] [--no-wait] [--timeout <seconds>]
                                           start, revise or withdraw the runs of the assets that
                                           changed since the last sync; exit 1 if a check failed
  repo install-hook <bare repository> [--branch <name>]   a push to the branch runs atelier sync`;

export class RepositoryUsageError extends Error {}

export async function repositoryCommand(command: 'sync' | 'repo', argv: string[], config: Config, user: string): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ref: { type: 'string' },
      branch: { type: 'string' },
      'no-wait': { type: 'boolean' },
      timeout: { type: 'string' },
      'requested-by': { type: 'string' },
    },
  });
  if (command === 'repo') {
    const [verb, repository, ...extra] = positionals;
    if (verb !== 'install-hook' || !repository || extra.length)
      throw new RepositoryUsageError('usage: atelier repo install-hook <bare repository> [--branch <name>]');
    const file = installHook(config, repository, values.branch ?? 'main');
    console.log(`installed ${file}: a push to ${values.branch ?? 'main'} runs atelier sync`);
    return 0;
  }
  if (positionals.length !== 1) throw new RepositoryUsageError(`sync takes one <repository> (got ${positionals.length})`);
  const ref = values.ref ?? 'HEAD';
  if (!refPattern.test(ref)) throw new RepositoryUsageError(`--ref: "${ref}" is not a branch, tag or commit name`);
  const timeoutS = values.timeout === undefined ? 120 : Number(values.timeout);
  if (!Number.isInteger(timeoutS) || timeoutS < 1 || timeoutS > 3600)
    throw new RepositoryUsageError(`--timeout expects whole seconds 1-3600, got "${values.timeout}"`);
  const repository = repositoryPath(config, positionals[0]!);

  const client = await AtelierClient.connect(config);
  try {
    const { requestId } = await requestSync(client.temporal, config.ATELIER_TASK_QUEUE, {
      repository,
      ref,
      requestedBy: values['requested-by'] ?? `cli:${user}`,
    });
    const deadline = Date.now() + timeoutS * 1000;
    const record = await waitForSync(client.temporal, repository, requestId, timeoutS * 1000);
    if (record.error) {
      console.error(`sync of ${repository} at ${ref} failed: ${record.error}`);
      return 1;
    }
    const since = record.previousCommit ? `since ${record.previousCommit.slice(0, 12)}` : 'first sync';
    if (record.lines.length === 0) {
      console.log(`${repository} at ${record.commit!.slice(0, 12)} (${since}): no asset changed`);
      return 0;
    }
    console.log(`${repository} at ${record.commit!.slice(0, 12)} (${since}): ${record.lines.length} asset${record.lines.length === 1 ? '' : 's'}`);
    let problems = 0;
    for (const line of record.lines) {
      const outcome = values['no-wait'] ? undefined : await roundOutcome(client, line, deadline);
      if (line.action === 'invalid' || outcome?.failed) problems++;
      const round = line.round ? `round ${line.round}` : '';
      console.log(
        [line.action.padEnd(9), `${line.collectionId}/${line.assetKey}`.padEnd(28), round.padEnd(8), outcome?.text ?? line.detail].join(' ').trimEnd(),
      );
    }
    return problems ? 1 : 0;
  } finally {
    await client.close();
  }
}

/** Where the round the sync started stands once its draft is made and checked (or at the deadline). */
async function roundOutcome(client: AtelierClient, line: SyncLine, deadline: number): Promise<{ text: string; failed: boolean } | undefined> {
  if (!['started', 'restarted', 'revised'].includes(line.action) || !line.round) return undefined;
  for (let wait = 100; ; wait = Math.min(1000, wait * 2)) {
    const status = await client.status(line.workflowId);
    const settled = finalStages.includes(status.stage) || (status.round >= line.round && status.stage !== 'generating');
    if (settled) return describeRound(status, line.round);
    if (Date.now() > deadline) return { text: `${line.detail}; still ${status.stage.replace('_', ' ')} (atelier status ${line.workflowId})`, failed: false };
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

function describeRound(status: AssetStatus, round: number): { text: string; failed: boolean } {
  const checks = status.checks?.round === round ? status.checks : undefined;
  if (checks?.failed.length) return { text: `checks failed: ${checks.failed.map((c) => `${c.check}: ${c.detail}`).join('; ')}`, failed: true };
  const passed = checks ? ` · checks passed: ${checks.passed.map((c) => c.check).join(', ')}` : '';
  if (status.stage === 'failed') return { text: `failed: ${status.error ?? 'see atelier status'}`, failed: true };
  return { text: `${status.stage.replace('_', ' ')}${passed}`, failed: false };
}
