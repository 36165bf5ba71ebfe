import { context, isSpanContextValid, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { register as defaultRegistry, type Registry } from 'prom-client';
import { ConfigError, toError } from '../core/errors.ts';
import type { OutgoingMessage } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import { metricSet, topicLabelOf, type PublishSeries } from './metric-set.ts';
import {
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  messagingSystem,
} from './semconv.ts';
import { headerGetter, headerSetter, TRACEPARENT_HEADER, w3cTraceContext } from './trace-context.ts';
import { defaultTracer, noSdkRegistered, type TracingOptions } from './tracing.ts';

/** Settings of `instrument()`. */
export interface InstrumentOptions extends TracingOptions {
  /** The prom-client registry to count publishes on; `false` for none. Default: prom-client's global `register`. */
  registry?: Registry | false;
  /** Track messages per key for the key-skew alert. Default: when an alert rule asks for it. */
  trackKeys?: boolean;
  /**
   * The `topic` label of the publish counters for a topic. Default: the topic itself. Fold an
   * open-ended set of topics (one per tenant, say) into a few labels, as `metrics({ topicLabel })`
   * does on the consuming side; a function that throws or returns no string leaves the topic.
   */
  topicLabel?: (topic: string) => string;
}

/** A transport wrapped by `instrument()`; `inner` is the original (for native and transport-specific calls). */
export interface InstrumentedTransport<T extends Transport = Transport> extends Transport {
  readonly inner: T;
}

/**
 * Wraps a transport so every publish — plain `publish()` and the router's `ctx.publish()` alike —
 * is counted (`switchyard_messages_published_total`, `…_publish_failed_total`) and runs in a
 * PRODUCER span `send <topic>` whose context goes into each message's `traceparent`/`tracestate`
 * headers. The parent is the trace context the messages already carry (from `tracing()`), else the
 * active span. Subscribing, connecting, closing and `connected` pass straight through. With the
 * default tracer, no OpenTelemetry SDK registered and no span context active, a publish is only
 * counted: every span would be a no-op that leaves the messages as they are.
 *
 * @example
 * ```ts
 * const bus = instrument(kafka({ brokers }), { registry });
 * router.handle('ship', { from: bus, topic: 'orders.paid', group: 'shipping' }, ship);
 * ```
 */
export function instrument<T extends Transport>(transport: T, options: InstrumentOptions = {}): InstrumentedTransport<T> {
  const set = options.registry === false ? undefined : metricSet(options.registry ?? defaultRegistry);
  const tracer = options.tracer ?? defaultTracer();
  const propagator = options.propagator ?? w3cTraceContext;
  const fields = propagator.fields();
  const series = new Map<string, PublishSeries>();
  const name = transport.name;
  const system = messagingSystem(name);

  const topicLabel = options.topicLabel;
  if (topicLabel !== undefined && typeof topicLabel !== 'function') throw new ConfigError(`instrument: topicLabel must be a function, got ${typeof topicLabel}`);
  const labelFor = (topic: string): string => (topicLabel ? topicLabelOf(() => topicLabel(topic), topic).label : topic);

  const defaultTracing = options.tracer === undefined;
  // With no SDK every span is a no-op, and a no-op span changes a message only by passing on a
  // valid active span context (one a message carries stays as it is): with none active, there is
  // nothing to do — no span, no grouping, no copies. Checked per publish: an SDK may register later.
  const idle = (): boolean => defaultTracing && noSdkRegistered() && !activeSpanContextValid();

  const seriesFor = (topic: string): PublishSeries | undefined => {
    if (!set) return undefined;
    let s = series.get(topic);
    if (!s) {
      s = set.publishSeries(name, labelFor(topic));
      series.set(topic, s);
    }
    return s;
  };

  return {
    inner: transport,
    name,
    capabilities: transport.capabilities,
    get connected() {
      return transport.connected;
    },
    connect: () => transport.connect(),
    subscribe: (topic, opts, handler) => transport.subscribe(topic, opts, handler),
    close: () => transport.close(),
    async publish(topic, messages) {
      const s = seriesFor(topic);
      if (s && (options.trackKeys ?? set!.trackKeys)) {
        s.keys ??= new Map();
        if (Array.isArray(messages)) for (const m of messages as readonly OutgoingMessage[]) countKey(s.keys, m);
        else countKey(s.keys, messages as OutgoingMessage);
      }
      if (idle()) {
        const count = Array.isArray(messages) ? messages.length : 1;
        try {
          await transport.publish(topic, messages);
          if (s) s.published += count;
        } catch (thrown) {
          if (s) s.failed += count;
          throw thrown;
        }
        return;
      }
      const list: readonly OutgoingMessage[] = Array.isArray(messages) ? messages : [messages as OutgoingMessage];
      // Messages that carry trace context (from tracing(), or set by the caller) continue their own
      // trace; the others continue the active one. One PRODUCER span per distinct parent.
      const w3c = propagator === w3cTraceContext;
      const carriedBy = (m: OutgoingMessage | undefined): string | undefined =>
        m?.headers ? (w3c ? m.headers[TRACEPARENT_HEADER] : carriedKey(fields, m.headers)) : undefined;
      // Usually no message carries trace context: then they are one group, with no list of members.
      const groups = new Map<string | undefined, number[] | undefined>();
      if (list.every((m) => carriedBy(m) === undefined)) groups.set(undefined, undefined);
      else {
        list.forEach((m, i) => {
          const carried = carriedBy(m);
          const members = groups.get(carried);
          if (members) members.push(i);
          else groups.set(carried, [i]);
        });
      }
      const active = context.active();
      let out: OutgoingMessage[] | undefined; // a copy only when a message gets headers
      const spans: Span[] = [];
      for (const [carried, listed] of groups) {
        const members = listed ?? list.keys();
        const parent = carried === undefined ? active : propagator.extract(active, list[listed![0]!]!.headers!, headerGetter);
        const span = tracer.startSpan(`send ${topic}`, { kind: SpanKind.PRODUCER }, parent);
        spans.push(span);
        const recording = span.isRecording();
        // Not recording: a message's own context is already in its headers; others get the active one, if any.
        if (recording || (carried === undefined && isSpanContextValid(span.spanContext()))) {
          const spanContext = trace.setSpan(parent, span);
          for (const i of members) {
            const m = list[i]!;
            if (typeof m !== 'object' || m === null) continue; // the transport reports bad input
            const headers = { ...m.headers };
            // What the message carried is replaced, not merged: a tracestate left from an invalid
            // traceparent (a new trace starts) or carried alone would describe another trace.
            for (const f of fields) if (headers[f] !== undefined) delete headers[f];
            propagator.inject(spanContext, headers, headerSetter);
            out ??= [...list];
            out[i] = { ...m, headers };
          }
        }
        if (recording) {
          const size = listed?.length ?? list.length;
          const one = size === 1 ? list[listed?.[0] ?? 0] : undefined;
          span.setAttributes({
            [ATTR_MESSAGING_SYSTEM]: system,
            [ATTR_MESSAGING_OPERATION_TYPE]: 'send',
            [ATTR_MESSAGING_OPERATION_NAME]: 'send',
            [ATTR_MESSAGING_DESTINATION_NAME]: topic,
            ...(one ? { ...(one.id ? { [ATTR_MESSAGING_MESSAGE_ID]: one.id } : {}), [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: one.payload?.byteLength ?? 0 } : { [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: size }),
          });
        }
      }
      try {
        await transport.publish(topic, out ?? messages);
        if (s) s.published += list.length;
      } catch (thrown) {
        if (s) s.failed += list.length;
        const error = toError(thrown);
        for (const span of spans) {
          if (!span.isRecording()) continue;
          span.recordException(error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
          span.setAttribute(ATTR_ERROR_TYPE, error.name);
        }
        throw thrown;
      } finally {
        for (const span of spans) span.end();
      }
    },
  };
}

/** Counts one published message's key for the key-skew alert. */
function countKey(keys: Map<string, number>, m: OutgoingMessage | undefined): void {
  if (!m?.key) return;
  const n = keys.get(m.key);
  // At most 10,000 distinct keys per alert window: enough to see a hot key, bounded memory.
  if (n !== undefined) keys.set(m.key, n + 1);
  else if (keys.size < 10_000) keys.set(m.key, 1);
}

/** Whether the active context holds a span context a publish would pass on. */
function activeSpanContextValid(): boolean {
  const sc = trace.getSpanContext(context.active());
  return sc !== undefined && isSpanContextValid(sc);
}

/** The values of a propagator's fields in `headers`, as one key; undefined when it carries none. */
function carriedKey(fields: readonly string[], headers: Record<string, string>): string | undefined {
  const values = fields.map((f) => headers[f]);
  return values.some((v) => v !== undefined) ? values.join('\n') : undefined;
}

/**
 * The transport inside an `instrument()` wrapper, or `transport` itself.
 *
 * @example
 * ```ts
 * const topics = await unwrap(bus).inspect(); // an embedded transport's own method
 * ```
 */
export function unwrap<T extends Transport>(transport: T | InstrumentedTransport<T>): T {
  return 'inner' in transport && typeof (transport as InstrumentedTransport<T>).inner?.publish === 'function' ? (transport as InstrumentedTransport<T>).inner : (transport as T);
}
