// The workflow interceptors of tracing (ATELIER_OTEL, workers/telemetry.ts), bundled only when it is
// on, in place of @temporalio/interceptors-opentelemetry's own module:
// - the sandbox has its own @opentelemetry/api, with no propagator, so a workflow's spans would not
//   reach the headers of the activities and child runs it starts: W3C trace context, as outside;
// - an Update's handler is not wrapped in a span: the wrapper's extra awaits complete the Update after
//   commands issued in the same activation (a collection starting its next child), so histories made
//   without tracing (test/histories/collection-sample.json) would no longer replay.
// Headers are not part of a run's commands: otherwise replay and determinism are unchanged.
import { propagation } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import type { Next, UpdateInput, WorkflowInboundCallsInterceptor, WorkflowInterceptors } from '@temporalio/workflow';

propagation.setGlobalPropagator(new W3CTraceContextPropagator());

class InboundWithoutUpdateSpans extends OpenTelemetryInboundInterceptor {
  // Not async: even an async pass-through adds awaits.
  override handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    return next(input);
  }
}

export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new InboundWithoutUpdateSpans()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
