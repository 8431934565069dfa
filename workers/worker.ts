// Builds the Atelier worker(s): workflows from workflows/, activities wired from config, one Worker per
// task queue this process serves (ATELIER_WORKER_QUEUES).
import { fileURLToPath } from 'node:url';
import { ApplicationFailure, CancelledFailure, TemporalFailure } from '@temporalio/common';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { ActivityInterceptorsFactory, LogLevel, LogMetadata, Logger, WorkerPlugin, WorkflowBundle } from '@temporalio/worker';
import type { Config } from '../common/config.ts';
import { redactDeep, redactor } from '../common/redact.ts';
import { temporalConnectOptions } from '../common/temporalConnection.ts';
import { imagesTaskQueueOf } from '../workflows/activityOptions.ts';
import type { Redactor } from '../common/redact.ts';
import { createWorkerActivities } from './dependencies.ts';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Loaded by the worker and bundled with the workflows: undecodable payloads reach handlers as a marker. */
export const payloadConverterPath = fileURLToPath(new URL('../common/payloadConverter.js', import.meta.url));

/** The workflow code as one bundle, built once and shared by the workers of a process. */
export function bundleAtelierWorkflows(logger?: Parameters<typeof bundleWorkflowCode>[0]['logger']): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath, payloadConverterPath, logger });
}

/** What ATELIER_WORKER_QUEUES asks this process to serve. */
export function workerQueues(config: Pick<Config, 'ATELIER_WORKER_QUEUES' | 'ATELIER_TASK_QUEUE'>) {
  const parts = new Set(config.ATELIER_WORKER_QUEUES === 'all' ? ['workflows', 'io', 'images'] : config.ATELIER_WORKER_QUEUES.split(','));
  return {
    workflows: parts.has('workflows'),
    io: parts.has('io'),
    images: parts.has('images'),
    mainQueue: config.ATELIER_TASK_QUEUE,
    imagesQueue: imagesTaskQueueOf(config.ATELIER_TASK_QUEUE),
  };
}

/** Several Workers run, and shut down, as one: what createAtelierWorker's callers see as `worker`. */
export interface AtelierWorkers {
  /** Every Worker of this process: the main queue's (workflows and/or IO activities), the images queue's. */
  readonly workers: { taskQueue: string; serves: string; worker: Worker }[];
  /** Runs them all until shutdown() (or SIGINT/SIGTERM, through the Runtime); one failing stops the others. */
  run(): Promise<void>;
  /** Stops polling; running activities get ATELIER_WORKER_SHUTDOWN_GRACE_MS to finish. */
  shutdown(): void;
  /** A line for logs: which queue serves what. */
  describe(): string;
}

/**
 * The worker(s) of one process (ATELIER_WORKER_QUEUES): on ATELIER_TASK_QUEUE the workflows and the
 * chain/IO activities, on <ATELIER_TASK_QUEUE>-images the CPU-bound image activities (generate,
 * format, checks), each with its own slots. One connection, one set of activity dependencies. Every
 * activity is registered on both queues: activities that older workflow code scheduled on the main
 * queue still find a worker there.
 */
export async function createAtelierWorker(
  config: Config,
  options: { workflowBundle?: WorkflowBundle; plugins?: WorkerPlugin[] } = {},
): Promise<{ worker: AtelierWorkers; close(): Promise<void> }> {
  const queues = workerQueues(config);
  const connection = await NativeConnection.connect(temporalConnectOptions(config));
  const { activities, close } = createWorkerActivities(config);
  const redact = redactor(config);
  const base = {
    connection,
    namespace: config.ATELIER_TEMPORAL_NAMESPACE,
    dataConverter: { payloadConverterPath },
    // On SIGTERM/SIGINT (the SDK's Runtime shuts every worker down) or shutdown(): polling stops, running
    // activities get this long to finish, then they are cancelled; one that does not stop is retried by
    // another worker after its heartbeat timeout (10-30 s, workflows/activityOptions.ts).
    shutdownGraceTime: config.ATELIER_WORKER_SHUTDOWN_GRACE_MS,
    // An activity that ignores its cancellation does not hold the process for ever: 15 s later run()
    // rejects (GracefulShutdownPeriodExpiredError), the process exits, and the attempt is retried elsewhere.
    shutdownForceTime: config.ATELIER_WORKER_SHUTDOWN_GRACE_MS + 15_000,
    ...(options.plugins ? { plugins: options.plugins } : {}),
  };
  const activityPart = (maxActivities: number) => ({
    activities,
    // An error an activity throws becomes its failure in the run's history, `status`, the Web UI and
    // the worker's "Activity failed" log line: no secret or URL credential may be in it.
    interceptors: { activity: [redactingActivityErrors(redact)] },
    ...slots(config, maxActivities),
  });
  const created: AtelierWorkers['workers'] = [];
  try {
    if (queues.workflows || queues.io) {
      const worker = await Worker.create({
        ...base,
        taskQueue: queues.mainQueue,
        ...(queues.workflows
          ? {
              ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
              // A collection keeps thousands of asset runs open (waiting for their mint turn): the cache holds
              // the busy ones, the others are replayed from their short histories when their turn comes.
              maxCachedWorkflows: config.ATELIER_WORKER_MAX_CACHED_WORKFLOWS,
            }
          : {}),
        ...(queues.io ? activityPart(config.ATELIER_WORKER_MAX_ACTIVITIES) : {}),
        ...(queues.workflows && config.ATELIER_WORKER_TUNER === 'fixed' && config.ATELIER_WORKER_MAX_WORKFLOW_TASKS
          ? { maxConcurrentWorkflowTaskExecutions: config.ATELIER_WORKER_MAX_WORKFLOW_TASKS }
          : {}),
      });
      created.push({
        taskQueue: queues.mainQueue,
        serves: [queues.workflows && 'workflows', queues.io && 'io activities'].filter(Boolean).join(' + '),
        worker,
      });
    }
    if (queues.images) {
      const worker = await Worker.create({ ...base, taskQueue: queues.imagesQueue, ...activityPart(config.ATELIER_WORKER_MAX_IMAGE_ACTIVITIES) });
      created.push({ taskQueue: queues.imagesQueue, serves: 'image activities', worker });
    }
  } catch (error) {
    close();
    await connection.close();
    throw error;
  }
  const workers: AtelierWorkers = {
    workers: created,
    async run() {
      const runs = created.map(({ worker }) =>
        worker.run().catch((error: unknown) => {
          // One failed: the others stop too, so the process does not poll half its queues.
          for (const other of created) if (other.worker.getState() === 'RUNNING') other.worker.shutdown();
          throw error;
        }),
      );
      const results = await Promise.allSettled(runs);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    shutdown() {
      for (const { worker } of created) if (worker.getState() === 'RUNNING') worker.shutdown();
    },
    describe: () => created.map(({ taskQueue, serves }) => `${taskQueue} (${serves})`).join(', '),
  };
  return {
    worker: workers,
    /** Releases the connection and clients once the workers have stopped. */
    async close() {
      close();
      await connection.close();
    },
  };
}

/**
 * Slots of one Worker. Fixed (the default): `maxActivities` activities at once, not the SDK's 100.
 * Temporal records an activity's start before handing it to a waiting poller and gives that write 1 s
 * (matching's sync-match deadline); a write that lands later has marked the attempt started, yet the
 * task is dropped and no worker runs it until its start-to-close or heartbeat timeout. Bursts of dozens
 * of completions and starts queue the server's writes (the dev server has one history shard and one
 * SQLite connection) past that second; a few slots keep the queue short and let tasks wait in the task
 * queue instead, dispatched with a 10 s deadline. ATELIER_WORKER_TUNER=resource: the SDK's
 * resource-based tuner hands out slots while the host stays under the CPU and memory targets, never
 * more than `maxActivities` activities at once.
 */
function slots(config: Config, maxActivities: number) {
  if (config.ATELIER_WORKER_TUNER === 'fixed') return { maxConcurrentActivityTaskExecutions: maxActivities };
  return {
    tuner: {
      tunerOptions: { targetCpuUsage: config.ATELIER_WORKER_TARGET_CPU, targetMemoryUsage: config.ATELIER_WORKER_TARGET_MEMORY },
      activityTaskSlotOptions: { minimumSlots: 1, maximumSlots: maxActivities },
      ...(config.ATELIER_WORKER_MAX_WORKFLOW_TASKS ? { workflowTaskSlotOptions: { maximumSlots: config.ATELIER_WORKER_MAX_WORKFLOW_TASKS } } : {}),
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
