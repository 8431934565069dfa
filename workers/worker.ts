// Builds the Atelier worker: workflows from workflows/, activities wired from config.
import { fileURLToPath } from 'node:url';
import { ApplicationFailure, CancelledFailure, TemporalFailure } from '@temporalio/common';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { ActivityInterceptorsFactory, LogLevel, LogMetadata, Logger, WorkflowBundle } from '@temporalio/worker';
import type { Config } from '../common/config.ts';
import { redactDeep, redactor } from '../common/redact.ts';
import type { Redactor } from '../common/redact.ts';
import { createWorkerActivities } from './dependencies.ts';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Loaded by the worker and bundled with the workflows: undecodable payloads reach handlers as a marker. */
export const payloadConverterPath = fileURLToPath(new URL('../common/payloadConverter.js', import.meta.url));

/** The workflow code as one bundle, built once and shared by the workers of a process. */
export function bundleAtelierWorkflows(logger?: Parameters<typeof bundleWorkflowCode>[0]['logger']): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath, payloadConverterPath, logger });
}

export async function createAtelierWorker(config: Config, options: { workflowBundle?: WorkflowBundle } = {}) {
  const connection = await NativeConnection.connect({ address: config.ATELIER_TEMPORAL_ADDRESS });
  const { activities, close } = createWorkerActivities(config);
  const redact = redactor(config);
  const worker = await Worker.create({
    connection,
    namespace: config.ATELIER_TEMPORAL_NAMESPACE,
    taskQueue: config.ATELIER_TASK_QUEUE,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    dataConverter: { payloadConverterPath },
    activities,
    // An error an activity throws becomes its failure in the run's history, `status`, the Web UI and
    // the worker's "Activity failed" log line: no secret or URL credential may be in it.
    interceptors: { activity: [redactingActivityErrors(redact)] },
    // Not the SDK's 100. Temporal records an activity's start before handing it to a waiting poller
    // and gives that write 1 s (matching's sync-match deadline); a write that lands later has marked
    // the attempt started, yet the task is dropped and no worker runs it until its start-to-close or
    // heartbeat timeout. Bursts of dozens of completions and starts queue the server's writes (the
    // dev server has one history shard and one SQLite connection) past that second; a few slots keep
    // the queue short and let tasks wait in the task queue instead, dispatched with a 10 s deadline.
    maxConcurrentActivityTaskExecutions: config.ATELIER_WORKER_MAX_ACTIVITIES,
    // A collection keeps thousands of asset runs open (waiting for their mint turn): the cache holds
    // the busy ones, the others are replayed from their short histories when their turn comes.
    maxCachedWorkflows: config.ATELIER_WORKER_MAX_CACHED_WORKFLOWS,
  });
  return {
    worker,
    /** Releases the connection and clients once the worker has stopped. */
    async close() {
      close();
      await connection.close();
    },
  };
}

/**
 * Rewrites any error an activity throws before the SDK logs it and turns it into a failure: the
 * message, stack and cause chain with every configured secret and URL credential replaced by
 * [redacted] (ethers, for one, puts the whole RPC URL into its error text). An ApplicationFailure
 * keeps its type, nonRetryable, details (redacted), retry delay and category; other errors keep their
 * name (the failure's type) and lose their extra fields (ethers' request, info), which only logs showed.
 * Cancellation is passed on untouched, so the SDK still recognises it.
 */
export function redactingActivityErrors(redact: Redactor): ActivityInterceptorsFactory {
  return () => ({
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (error) {
          throw redactThrown(error, redact);
        }
      },
    },
  });
}

/** A thrown value with its secrets redacted (see redactingActivityErrors). */
export function redactThrown(error: unknown, redact: Redactor, depth = 0): unknown {
  if (typeof error === 'string') return redact(error);
  if (!(error instanceof Error) || depth > 10) return error;
  if (error instanceof CancelledFailure || error.name === 'AbortError' || error.name === 'CompleteAsyncError') return error;
  const cause = error.cause instanceof Error ? (redactThrown(error.cause, redact, depth + 1) as Error) : undefined;
  if (error instanceof ApplicationFailure) {
    const copy = ApplicationFailure.create({
      message: redact(error.message),
      type: error.type ?? undefined,
      nonRetryable: error.nonRetryable ?? undefined,
      details: error.details ? (redactDeep(error.details, redact) as unknown[]) : undefined,
      nextRetryDelay: error.nextRetryDelay ?? undefined,
      category: error.category ?? undefined,
      cause,
    });
    copy.stack = error.stack === undefined ? undefined : redact(error.stack);
    return copy;
  }
  if (error instanceof TemporalFailure) {
    // Other failure kinds (rare from an activity) are rewritten in place; their original proto, if
    // any, would otherwise be sent as it was.
    error.message = redact(error.message);
    if (error.stack !== undefined) error.stack = redact(error.stack);
    error.failure = undefined;
    if (cause) (error as { cause?: unknown }).cause = cause;
    return error;
  }
  const copy = new Error(redact(error.message), cause ? { cause } : undefined);
  copy.name = error.name;
  copy.stack = error.stack === undefined ? undefined : redact(error.stack);
  return copy;
}

/** A logger that redacts each line's message and the strings and errors in its metadata. */
export function redactingLogger(inner: Logger, redact: Redactor): Logger {
  const meta = (m?: LogMetadata) => (m === undefined ? undefined : (redactDeep(m, redact) as LogMetadata));
  return {
    log: (level: LogLevel, message: string, m?: LogMetadata) => inner.log(level, redact(message), meta(m)),
    trace: (message, m) => inner.trace(redact(message), meta(m)),
    debug: (message, m) => inner.debug(redact(message), meta(m)),
    info: (message, m) => inner.info(redact(message), meta(m)),
    warn: (message, m) => inner.warn(redact(message), meta(m)),
    error: (message, m) => inner.error(redact(message), meta(m)),
  };
}

/**
 * Everything the process writes to stdout and stderr (console, the SDK's default logger, an uncaught
 * error's report), redacted. For the worker process (workers/main.ts); a chunk is redacted as a
 * whole, and the SDK and console write a line at a time.
 */
export function redactProcessOutput(redact: Redactor): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const encoding = typeof rest[0] === 'string' ? rest[0] : 'utf8';
      if (typeof chunk === 'string' && /^utf-?8$/i.test(encoding)) return write(redact(chunk), ...rest);
      if (chunk instanceof Uint8Array) return write(redact(Buffer.from(chunk).toString('utf8')), ...rest);
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
}
