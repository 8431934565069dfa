// All activities, each built by its factory from the dependencies the worker wires.
import { createApprovalActivities } from './approval.ts';
import type { ApprovalDependencies } from './approval.ts';
import { createArweaveActivities } from './arweave.ts';
import type { ArweaveDependencies } from './arweave.ts';
import { createChangeSourceActivities } from './changeSources.ts';
import type { ChangeSourceDependencies } from './changeSources.ts';
import { createCheckActivities } from './checks.ts';
import type { CheckDependencies } from './checks.ts';
import { createCollectionActivities } from './collection.ts';
import type { CollectionDependencies } from './collection.ts';
import { createEventActivities } from './events.ts';
import type { EventDependencies } from './events.ts';
import { createFormatActivities } from './format.ts';
import type { FormatDependencies } from './format.ts';
import { createGenerateActivities } from './generate.ts';
import type { GenerateDependencies } from './generate.ts';
import { createMintActivities } from './mint.ts';
import type { MintDependencies } from './mint.ts';
import { createMintBatchActivities } from './mintBatch.ts';
import type { MintBatchDependencies } from './mintBatch.ts';
import { createMintRequestActivities } from './mintRequests.ts';
import { createPinActivities } from './pin.ts';
import { createConfirmActivities } from './confirm.ts';
import type { ConfirmDependencies } from './confirm.ts';
import { createRepositoryActivities } from './repository.ts';
import { createRevealActivities } from './reveal.ts';
import type { RepositoryDependencies } from './repository.ts';
import { createTrustActivities } from './trust.ts';
import type { TrustDependencies } from './trust.ts';

export type ActivityDependencies = GenerateDependencies &
  ApprovalDependencies &
  FormatDependencies &
  MintDependencies &
  MintBatchDependencies &
  TrustDependencies &
  ConfirmDependencies &
  CollectionDependencies &
  RepositoryDependencies &
  CheckDependencies &
  EventDependencies &
  ChangeSourceDependencies &
  ArweaveDependencies;

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createGenerateActivities(deps),
    ...createApprovalActivities(deps),
    ...createFormatActivities(deps),
    ...createPinActivities(deps),
    ...createArweaveActivities(deps),
    ...createChangeSourceActivities(deps),
    ...createMintActivities(deps),
    ...createMintBatchActivities(deps),
    ...createTrustActivities(deps),
    ...createConfirmActivities(deps),
    ...createMintRequestActivities(),
    ...createCollectionActivities(deps),
    ...createRevealActivities(deps),
    ...createRepositoryActivities(deps),
    ...createCheckActivities(deps),
    ...createEventActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
