// How workflows word a failure for status, history and people: the activity's own message, not the
// SDK's "Activity task failed" wrapper.
import { ApplicationFailure } from '@temporalio/workflow';
import type { ActivityFailure } from '@temporalio/workflow';

/** The message of what failed: an activity's cause, or the error itself. */
export function failureMessage(error: unknown): string {
  const cause = (error as ActivityFailure)?.cause;
  return cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
}

/** The message, after the failure's type when it has one (`InvalidSpec: ...`). */
export function describeFailure(error: unknown): string {
  const message = failureMessage(error);
  return error instanceof ApplicationFailure && error.type ? `${error.type}: ${message}` : message;
}
