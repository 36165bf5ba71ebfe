import { context, createTraceState, isSpanContextValid, trace, TraceFlags, type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api';

/** The W3C Trace Context header carrying trace id, parent span id and flags. */
export const TRACEPARENT_HEADER = 'traceparent';
/** The W3C Trace Context header carrying vendor state. */
export const TRACESTATE_HEADER = 'tracestate';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Reads message headers (a string record) for a propagator. */
export const headerGetter: TextMapGetter<Record<string, string>> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};

/** Writes message headers (a string record) for a propagator. */
export const headerSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/**
 * W3C Trace Context (`traceparent`, `tracestate`) in message headers. Switchyard uses it by default
 * so traces cross brokers even when the application registered no global propagator; pass
 * `propagator: propagation` (from `@opentelemetry/api`) to use the globally registered one instead.
 *
 * @example
 * ```ts
 * const headers: Record<string, string> = {};
 * w3cTraceContext.inject(trace.setSpan(context.active(), span), headers, headerSetter);
 * // headers.traceparent === '00-<trace id>-<span id>-01'
 * ```
 */
export const w3cTraceContext: TextMapPropagator<Record<string, string>> = Object.freeze({
  inject(ctx: Context, carrier: Record<string, string>, setter: TextMapSetter<Record<string, string>>): void {
    const sc = trace.getSpanContext(ctx);
    if (!sc || !isSpanContextValid(sc)) return;
    setter.set(carrier, TRACEPARENT_HEADER, `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & TraceFlags.SAMPLED).toString(16)}`);
    const state = sc.traceState?.serialize();
    if (state) setter.set(carrier, TRACESTATE_HEADER, state);
  },
  extract(ctx: Context, carrier: Record<string, string>, getter: TextMapGetter<Record<string, string>>): Context {
    const raw = getter.get(carrier, TRACEPARENT_HEADER);
    const header = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    if (!header) return ctx;
    const m = TRACEPARENT.exec(header);
    // Version ff is invalid; version 00 has exactly four fields.
    if (!m || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return ctx;
    const rawState = getter.get(carrier, TRACESTATE_HEADER);
    const state = Array.isArray(rawState) ? rawState.join(',') : rawState;
    const sc = { traceId: m[2]!, spanId: m[3]!, traceFlags: Number.parseInt(m[4]!, 16), isRemote: true, ...(state ? { traceState: createTraceState(state) } : {}) };
    return isSpanContextValid(sc) ? trace.setSpanContext(ctx, sc) : ctx;
  },
  fields: () => [TRACEPARENT_HEADER, TRACESTATE_HEADER],
});

/**
 * The trace context a message carries (W3C by default), on top of the active context: for code
 * that consumes with a plain `subscribe()` rather than a Router with `tracing()`.
 *
 * @example
 * ```ts
 * await bus.subscribe('orders.placed', { group: 'audit' }, async (msg) => {
 *   const span = tracer.startSpan(`process ${msg.topic}`, { kind: SpanKind.CONSUMER }, messageContext(msg.headers));
 *   try { await audit(msg); } finally { span.end(); }
 * });
 * ```
 */
export function messageContext(headers: Readonly<Record<string, string>>, propagator: TextMapPropagator<Record<string, string>> = w3cTraceContext): Context {
  return propagator.extract(context.active(), headers as Record<string, string>, headerGetter);
}
