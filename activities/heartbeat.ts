// Heartbeats while an activity awaits something slow (a remote call, a pin, a queue), so a
// heartbeat timeout measures whether the worker is alive, not how long one call takes.
import { Context } from '@temporalio/activity';

/** How often a waiting activity reports; the SDK sends at most one heartbeat per 0.8 x heartbeatTimeout. */
export const HEARTBEAT_EVERY_MS = 1_000;

/**
 * Awaits `work`, heartbeating at once and then every second until it settles. `details` gives the
 * heartbeat details to send: an activity that keeps progress in them (a signed transaction) must
 * pass that progress, or a heartbeat would replace it.
 */
export async function heartbeatWhile<T>(work: Promise<T> | (() => Promise<T>), details?: () => unknown): Promise<T> {
  const context = Context.current();
  // Nested waits: only the innermost reports, so its details are not overwritten by an outer one.
  const level = (depths.get(context) ?? 0) + 1;
  depths.set(context, level);
  const beat = () => {
    if (depths.get(context) === level) context.heartbeat(details?.());
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
  try {
    return await (typeof work === 'function' ? work() : work);
  } finally {
    clearInterval(timer);
    depths.set(context, level - 1);
  }
}

const depths = new WeakMap<Context, number>();
