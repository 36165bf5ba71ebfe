import { context, ProxyTracerProvider, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import { toError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import type { Middleware, RouterContext } from '../router/types.ts';
import {
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_PARTITION_ID,
  ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME,
  ATTR_MESSAGING_DESTINATION_TEMPLATE,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_SWITCHYARD_ATTEMPT,
  ATTR_SWITCHYARD_HANDLER,
  messagingSystem,
} from './semconv.ts';
import { headerGetter, headerSetter, TRACEPARENT_HEADER, w3cTraceContext } from './trace-context.ts';

/** Settings of `tracing()` and `instrument()`. */
export interface TracingOptions {
  /** Where spans go. Default `trace.getTracer('switchyard')`: the global provider, a no-op until an SDK registers. */
  tracer?: Tracer;
  /** How trace context travels in headers. Default W3C Trace Context (`traceparent`, `tracestate`). */
  propagator?: TextMapPropagator<Record<string, string>>;
}

/** The tracer `tracing()` and `instrument()` use when given none. */
export function defaultTracer(): Tracer {
  return trace.getTracer('switchyard');
}

/** What the global provider delegates to while no SDK is registered (the API's no-op provider). */
const NO_SDK = new ProxyTracerProvider().getDelegate();

/**
 * True while no OpenTelemetry SDK is registered: every span of the default tracer would be a
 * no-op. Checked per message (an SDK may be registered later); a global lookup, no allocation.
 */
export function noSdkRegistered(): boolean {
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider && provider.getDelegate() === NO_SDK;
}

/**
 * Router middleware that runs each delivery in a CONSUMER span `process <topic>` (OpenTelemetry
 * messaging conventions; `process <pattern>` for a pattern route, with the pattern in
 * `messaging.destination.template`), a child of the trace context the message carries in its headers, and
 * puts the span's context into `ctx.outgoingHeaders`, so what the handler publishes with
 * `ctx.publish()` continues the trace on any transport. Messages queued by `ctx.publish()` are
 * sent inside the span. The span records the error of a delivery that fails, and as events
 * each failed attempt that `retry()` runs again (`switchyard.retry`) or `deadLetter()` takes
 * (`switchyard.dead_lettered`), with `switchyard.attempt`: one span per delivery, however often it is tried.
 *
 * Without an OpenTelemetry SDK every span is a no-op: an incoming `traceparent` is passed on
 * unchanged and nothing else happens. Install it near the start, right after `metrics()` (which the router then runs outside the chain).
 *
 * @example
 * ```ts
 * router.use(metrics({ registry }), tracing(), retry());
 * ```
 */
export function tracing(options: TracingOptions = {}): Middleware {
  const tracer = options.tracer ?? defaultTracer();
  const propagator = options.propagator ?? w3cTraceContext;
  const w3c = propagator === w3cTraceContext;

  const defaultTracing = options.tracer === undefined;
  // Nothing to continue and nothing to record: no span, not even a no-op one; the chain skips it.
  const idle = (msg: Message): boolean => defaultTracing && w3c && msg.headers[TRACEPARENT_HEADER] === undefined && noSdkRegistered();

  // Not async: the no-span paths hand back next()'s own promise, adding no promise of their own.
  const middleware = function tracing(msg: Message, ctx: RouterContext, next: () => Promise<void>): Promise<void> {
    if (idle(msg)) return next();
    const carries = !w3c || msg.headers[TRACEPARENT_HEADER] !== undefined;
    const active = context.active();
    const parent = carries ? propagator.extract(active, msg.headers, headerGetter) : active;
    // Named after the route: for a pattern (`tenant.*`) one name, not one per matching topic, as
    // span names must have low cardinality; the topic is in messaging.destination.name.
    const span = tracer.startSpan(`process ${ctx.route}`, { kind: SpanKind.CONSUMER }, parent);
    if (!span.isRecording()) {
      if (carries) propagator.inject(trace.setSpan(parent, span), ctx.outgoingHeaders, headerSetter);
      return next();
    }
    span.setAttributes({
      [ATTR_MESSAGING_SYSTEM]: messagingSystem(ctx.from.name),
      [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
      [ATTR_MESSAGING_OPERATION_NAME]: 'process',
      [ATTR_MESSAGING_DESTINATION_NAME]: msg.topic,
      [ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME]: ctx.route,
      [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: ctx.group,
      [ATTR_MESSAGING_MESSAGE_ID]: msg.id,
      [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: msg.payload.byteLength,
      [ATTR_SWITCHYARD_HANDLER]: ctx.handler,
      [ATTR_SWITCHYARD_ATTEMPT]: msg.attempt,
      ...(msg.partition !== undefined ? { [ATTR_MESSAGING_DESTINATION_PARTITION_ID]: String(msg.partition) } : {}),
      ...(ctx.route !== msg.topic ? { [ATTR_MESSAGING_DESTINATION_TEMPLATE]: ctx.route } : {}),
    });
    const spanContext = trace.setSpan(parent, span);
    propagator.inject(spanContext, ctx.outgoingHeaders, headerSetter);
    return traced(span, spanContext, ctx, next);
  };
  return Object.assign(middleware, { skip: idle });
}

/** Span events for what `retry()` and `deadLetter()` inside the span do with a failed attempt. */
const COUNTED_EVENTS: Readonly<Record<string, string>> = { retried: 'switchyard.retry', 'dead-lettered': 'switchyard.dead_lettered' };

async function traced(span: Span, spanContext: Context, ctx: RouterContext, next: () => Promise<void>): Promise<void> {
  // A delivery's failed attempts that retry() runs again, or deadLetter() takes, end nothing the
  // span sees fail: without these events its trace would read as one clean success.
  const outer = ctx.onCount;
  ctx.onCount = (counter) => {
    const event = COUNTED_EVENTS[counter];
    if (event !== undefined) span.addEvent(event, { [ATTR_SWITCHYARD_ATTEMPT]: ctx.attempt });
    outer?.(counter);
  };
  try {
    await context.with(spanContext, next);
    // Send what the handler queued while the span is open, so the producer spans nest in it.
    if (ctx.pending > 0) await context.with(spanContext, () => ctx.flush());
  } catch (thrown) {
    const error = toError(thrown);
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    span.setAttribute(ATTR_ERROR_TYPE, error.name);
    throw thrown;
  } finally {
    ctx.onCount = outer;
    span.end();
  }
}
