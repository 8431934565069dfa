// One artwork repository's syncs: pushes arrive by signal-with-start (the hook, webhooks, `atelier
// sync`), those that arrive together are synced once to the latest revision, and the last synced
// revision is kept here, durably, so each sync starts or revises only what changed since.
import { ApplicationFailure, condition, continueAsNew, log, proxyActivities, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type { RepositorySyncInput, SyncRecord, SyncRequest } from '../common/repository.ts';
import { checkSyncRequest, commitPattern, repositoryLocationProblem } from '../common/repository.ts';
import type { Activities } from '../activities/index.ts';
import { repositoryWork } from './activityOptions.ts';
import { failureMessage } from './failures.ts';
import { knowsDeliveryQuery, pushSignal, repositorySyncQuery } from './messages.ts';

const { readRepository, applyRepositoryChanges } = proxyActivities<Activities>(repositoryWork);

const KEPT_SYNCS = 20;
const KEPT_DELIVERIES = 1000;
const KEPT_REQUEST_IDS = 1000;
/** Syncs one run holds before it continues as new (its history stays short). */
const SYNCS_PER_RUN = 100;

export async function repositorySync(input: RepositorySyncInput): Promise<void> {
  const repository = input?.repository;
  const problem = repositoryLocationProblem(repository);
  if (problem) throw ApplicationFailure.nonRetryable(`repository: ${problem}`, 'InvalidRepository');
  let lastCommit = typeof input.lastCommit === 'string' && commitPattern.test(input.lastCommit) ? input.lastCommit : null;
  const syncs: SyncRecord[] = (input.syncs ?? []).slice(-KEPT_SYNCS);
  const deliveries: string[] = (input.deliveries ?? []).slice(-KEPT_DELIVERIES);
  let target: SyncRequest | undefined = input.pending?.target;
  let requestIds: string[] = input.pending?.requestIds ?? [];

  setHandler(pushSignal, (raw: unknown) => {
    const request = checkSyncRequest(raw);
    if (!request) return log.warn('push refused: not a sync request', { repository });
    if (request.deliveryId) {
      if (deliveries.includes(request.deliveryId)) return log.info('delivery already received: nothing new', { deliveryId: request.deliveryId });
      deliveries.push(request.deliveryId);
      if (deliveries.length > KEPT_DELIVERIES) deliveries.shift();
    }
    target = request;
    requestIds.push(request.requestId);
    if (requestIds.length > KEPT_REQUEST_IDS) requestIds.shift();
  });
  let syncing = false;
  setHandler(repositorySyncQuery, () => ({ repository, lastCommit, pending: requestIds.length, syncing, syncs }));
  setHandler(knowsDeliveryQuery, (deliveryId: string) => deliveries.includes(deliveryId));
  setCurrentDetails(details(repository, lastCommit, syncs));

  for (let handled = 0; ; handled++) {
    if (handled >= SYNCS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof repositorySync>({
        repository,
        lastCommit,
        syncs,
        deliveries,
        ...(target ? { pending: { target, requestIds } } : {}),
      });
    }
    await condition(() => target !== undefined);
    const request = target!;
    const answered = requestIds;
    target = undefined;
    requestIds = [];
    syncing = true;
    const at = new Date().toISOString();
    let record: SyncRecord;
    try {
      const read = await readRepository.executeWithOptions(
        { ...repositoryWork, summary: `Read ${request.commit?.slice(0, 12) ?? request.ref} (since ${lastCommit?.slice(0, 12) ?? 'never'})` },
        [{ repository, ref: request.ref, commit: request.commit, since: lastCommit }],
      );
      const lines = read.changes.length
        ? await applyRepositoryChanges.executeWithOptions(
            { ...repositoryWork, summary: `Bring ${read.changes.length} asset runs to ${read.commit.slice(0, 12)}` },
            [{ commit: read.commit, changes: read.changes }],
          )
        : [];
      record = { requestIds: answered, commit: read.commit, previousCommit: lastCommit, lines, error: null, at };
      lastCommit = read.commit;
    } catch (error) {
      // A revision that cannot be read (unknown ref, repository not allowed) is answered, not retried.
      record = { requestIds: answered, commit: null, previousCommit: lastCommit, lines: [], error: failureMessage(error), at };
    }
    syncs.push(record);
    if (syncs.length > KEPT_SYNCS) syncs.shift();
    syncing = false;
    setCurrentDetails(details(repository, lastCommit, syncs));
  }
}

function details(repository: string, lastCommit: string | null, syncs: SyncRecord[]): string {
  const last = syncs.at(-1);
  const counts = new Map<string, number>();
  for (const line of last?.lines ?? []) counts.set(line.action, (counts.get(line.action) ?? 0) + 1);
  return [
    `**Repository** ${repository}`,
    `**Synced to** ${lastCommit ?? 'nothing yet'}`,
    last ? `**Last sync** ${last.at}: ${last.error ?? ([...counts].map(([action, n]) => `${n} ${action}`).join(', ') || 'nothing changed')}` : '',
  ]
    .filter(Boolean)
    .join('\n\n');
}
