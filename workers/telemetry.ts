// The worker process's logs, metrics and traces (README: "Logs, metrics and traces").
//
// Logs: every line the SDK, workflows (`log` from @temporalio/workflow), activities and the SDK's
// native core write goes through one Temporal Logger (Runtime.install({ logger })), redacted
// (redactingLogger in workers/worker.ts), then out as text for a person (the SDK's DefaultLogger, on
// stderr) or as one JSON object a line on stdout for a collector (pino), with the run's workflowId,
// runId and activity as fields.
// Metrics: the SDK's runtime metrics and Atelier's own (workflows/metrics.ts, activities/metrics.ts)
// on a Prometheus endpoint when ATELIER_METRICS_ADDRESS is set.
// Traces: OpenTelemetry spans of client calls, workflows and activities when ATELIER_OTEL=console.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context as OtelContext, ContextManager } from '@opentelemetry/api';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { OpenTelemetryPlugin, OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { DefaultLogger } from '@temporalio/worker';
import type { LogLevel, LogMetadata, Logger, ReplayWorkerOptions, RuntimeOptions, WorkerOptions, WorkerPlugin } from '@temporalio/worker';
import { pino } from 'pino';
import type { Config } from '../common/config.ts';
import type { Redactor } from '../common/redact.ts';
import { activityMetricNames } from '../activities/metrics.ts';
import { workflowMetricNames } from '../workflows/metrics.ts';
import { redactingLogger } from './worker.ts';

type TelemetryConfig = Pick<Config, 'ATELIER_LOG_FORMAT' | 'ATELIER_LOG_LEVEL' | 'ATELIER_METRICS_ADDRESS' | 'ATELIER_OTEL'>;

/** The SDK puts the line's own time (nanoseconds since the epoch) under this symbol (worker/lib/logger.js). */
const LogTimestamp = Symbol.for('log_timestamp');
/** The same time under a string key: redactDeep keeps string keys only. */
const timeKey = '__atelierTimeNanos';

/**
 * A line's metadata with Atelier's field names: `workflowId`, `runId` (an activity's `workflowRunId`
 * too), `activity` (the activity type), `component` (the SDK's `sdkComponent`: worker, workflow,
 * activity, core). The activity's task token is dropped: it is a credential (it completes the
 * activity) and noise. Errors become { type, message, stack } (already redacted).
 */
export function logFields(meta: LogMetadata | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta ?? {})) {
    if (key === timeKey || key === 'taskToken') continue;
    const name = key === 'sdkComponent' ? 'component' : key === 'workflowRunId' ? 'runId' : key === 'activityType' ? 'activity' : key;
    fields[name] = value instanceof Error ? pino.stdSerializers.err(value) : value;
  }
  return fields;
}

/** A Temporal Logger writing one JSON object a line through pino. */
export function pinoTemporalLogger(out: pino.Logger): Logger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const nanos = meta?.[timeKey];
    const time = new Date(typeof nanos === 'bigint' ? Number(nanos / 1_000_000n) : Date.now()).toISOString();
    out[level.toLowerCase() as 'info']({ time, ...logFields(meta) }, message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

/** Moves the SDK's symbol-keyed timestamp to a string key, so that it survives redaction. */
function keepingTimestamps(inner: Logger): Logger {
  const meta = (m?: LogMetadata) => {
    const nanos = (m as Record<symbol, unknown> | undefined)?.[LogTimestamp];
    return nanos === undefined ? m : { ...m, [timeKey]: nanos };
  };
  return {
    log: (level, message, m) => inner.log(level, message, meta(m)),
    trace: (message, m) => inner.trace(message, meta(m)),
    debug: (message, m) => inner.debug(message, meta(m)),
    info: (message, m) => inner.info(message, meta(m)),
    warn: (message, m) => inner.warn(message, meta(m)),
    error: (message, m) => inner.error(message, meta(m)),
  };
}

export interface ProcessLogger {
  /** For Runtime.install: the SDK's, workflows' and activities' lines. */
  logger: Logger;
  /**
   * The worker's own milestones ("worker polling ..."), written whatever ATELIER_LOG_LEVEL says:
   * scripts and tests wait for them. Text: a plain line on stdout, as the console writes it.
   */
  announce(message: string, fields?: Record<string, unknown>): void;
}

/**
 * The process's logger: JSON lines on stdout (through process.stdout, so redactProcessOutput sees
 * them too) or the SDK's text lines on stderr; redacted either way. In JSON mode the console's
 * lines become JSON lines as well, so that stdout holds nothing else.
 */
export function createLogger(config: TelemetryConfig, redact: Redactor): ProcessLogger {
  const level = config.ATELIER_LOG_LEVEL;
  if (config.ATELIER_LOG_FORMAT === 'text') {
    return {
      logger: redactingLogger(new DefaultLogger(level.toUpperCase() as LogLevel), redact),
      announce: (message) => console.log(redact(message)),
    };
  }
  const json = pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: false,
      messageKey: 'msg',
      formatters: { level: (label) => ({ level: label }) },
    },
    process.stdout,
  );
  const toJson =
    (method: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) =>
      json[method]({ time: new Date().toISOString() }, redact(format(...args)));
  console.log = toJson('info');
  console.info = toJson('info');
  console.debug = toJson('debug');
  console.warn = toJson('warn');
  console.error = toJson('error');
  console.dir = (value: unknown) => json.info({ time: new Date().toISOString(), value }, 'console.dir');
  const milestones = json.child({}, { level: 'info' });
  return {
    logger: keepingTimestamps(redactingLogger(pinoTemporalLogger(json), redact)),
    announce: (message, fields = {}) => milestones.info({ time: new Date().toISOString(), ...fields }, redact(message)),
  };
}

/** Histogram buckets for Atelier's histograms (the SDK's defaults are latencies in ms). */
export const histogramBuckets: Record<string, number[]> = {
  [activityMetricNames.mintGas]: [50_000, 100_000, 150_000, 200_000, 300_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000, 30_000_000],
  // 1 s, 10 s, 1 min, 10 min, 1 h, 6 h, 1 d, 3 d, 7 d, 30 d.
  [workflowMetricNames.approvalWait]: [1_000, 10_000, 60_000, 600_000, 3_600_000, 21_600_000, 86_400_000, 259_200_000, 604_800_000, 2_592_000_000],
};

/**
 * Runtime.install's options: the logger, the SDK core's own log lines forwarded to it (WARN and up
 * unless the level asks for debug or trace), and the Prometheus endpoint when configured.
 */
export function runtimeOptions(config: TelemetryConfig, logger: Logger): RuntimeOptions {
  const level = config.ATELIER_LOG_LEVEL.toUpperCase() as LogLevel;
  const core: LogLevel = level === 'TRACE' || level === 'DEBUG' || level === 'ERROR' ? level : 'WARN';
  return {
    logger,
    telemetryOptions: {
      logging: { filter: { core, other: 'ERROR' }, forward: {} },
      ...(config.ATELIER_METRICS_ADDRESS
        ? { metrics: { prometheus: { bindAddress: config.ATELIER_METRICS_ADDRESS, histogramBucketOverrides: histogramBuckets } } }
        : {}),
    },
  };
}

/** The workflow interceptors of tracing (see the module), bundled in place of the SDK's module. */
export const workflowTracingModule = fileURLToPath(new URL('../workflows/tracing.ts', import.meta.url));
const sdkWorkflowTracingModule = createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/**
 * The SDK's OpenTelemetryPlugin (client and activity interceptors, the workflow spans' sink) with
 * workflows/tracing.ts as its workflow interceptors: a trace-context propagator in the sandbox, and
 * no span around Update handlers (it reorders commands: old histories would not replay). The bundle
 * is built by the worker: a prebuilt bundle has no interceptor module.
 */
class TracingPlugin implements WorkerPlugin {
  readonly name = 'AtelierTracing';
  constructor(private readonly otel: OpenTelemetryPlugin) {}
  private static withModule<T extends WorkerOptions | ReplayWorkerOptions>(options: T): T {
    const modules = (options.interceptors?.workflowModules ?? []).filter((m) => m !== sdkWorkflowTracingModule);
    return { ...options, interceptors: { ...options.interceptors, workflowModules: [...modules, workflowTracingModule] } };
  }
  async configureWorker(options: WorkerOptions): Promise<WorkerOptions> {
    return TracingPlugin.withModule(await this.otel.configureWorker(options));
  }
  async configureReplayWorker(options: ReplayWorkerOptions): Promise<ReplayWorkerOptions> {
    return TracingPlugin.withModule(await this.otel.configureReplayWorker(options));
  }
}

/** The active OpenTelemetry context across awaits (what @opentelemetry/context-async-hooks does, which is not installed). */
class AsyncLocalContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<OtelContext>();
  active(): OtelContext {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: OtelContext, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(context, () => fn.apply(thisArg, args));
  }
  bind<T>(context: OtelContext, target: T): T {
    if (typeof target !== 'function') return target;
    const run = (thisArg: unknown, args: unknown[]) => this.with(context, () => (target as (...a: unknown[]) => unknown).apply(thisArg, args));
    return function (this: unknown, ...args: unknown[]) {
      return run(this, args);
    } as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

export interface Tracing {
  /** For Worker.create's `plugins`: client, workflow (bundled interceptor modules + span sink) and activity interceptors. */
  workerPlugins: WorkerPlugin[];
  /** For a Client's `interceptors.workflow` (the CLI, scripts): starts, signals and updates as spans. */
  clientInterceptors: WorkflowClientInterceptor[];
  /** Flushes the spans not yet written. */
  shutdown(): Promise<void>;
}

/**
 * OpenTelemetry tracing when ATELIER_OTEL=console (spans written by sdk-trace-base's
 * ConsoleSpanExporter: a JSON line each in JSON mode); undefined when off. Workflow spans are made
 * inside the sandbox and leave it through a sink, which is not called on replay: tracing changes no
 * command and no history.
 */
export function createTracing(config: TelemetryConfig, serviceName = 'atelier-worker'): Tracing | undefined {
  if (config.ATELIER_OTEL === 'off') return undefined;
  const resource = new Resource({ 'service.name': serviceName });
  const spanProcessor = new SimpleSpanProcessor(new ConsoleSpanExporter());
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // W3C trace context (the default propagator) between processes; the context manager within one.
  provider.register({ contextManager: new AsyncLocalContextManager() });
  const tracer = trace.getTracer('atelier');
  return {
    workerPlugins: [new TracingPlugin(new OpenTelemetryPlugin({ resource, spanProcessor, tracer }))],
    clientInterceptors: [new OpenTelemetryWorkflowClientInterceptor({ tracer })],
    shutdown: () => provider.shutdown(),
  };
}
