import { AsyncLocalStorage } from 'node:async_hooks';
import { context, ProxyTracer, ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Context, type ContextManager } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { OutgoingMessage } from '../core/message.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory } from '../transports/memory/index.ts';
import { instrument } from './instrument.ts';
import { metricSet } from './metric-set.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
let seq = 0;
const topicName = (name: string): string => `instrument-test.${process.pid}.${++seq}.${name}`;

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const active = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true };

/**
 * A memory bus wrapped with the default tracer, what it delivered, its publish counts, and how
 * often the default tracer (a ProxyTracer of the global provider) was asked for a span.
 */
async function setUp(name: string): Promise<{ bus: ReturnType<typeof instrument>; topic: string; out: Inbox; published: () => number; spansStarted: () => number }> {
  const registry = new Registry();
  const bus = instrument(memory(), { registry });
  const topic = topicName(name);
  const out = new Inbox();
  await bus.subscribe(topic, { group: 'watch' }, async (m) => out.push(m));
  cleanups.push(() => bus.close());
  const startSpan = vi.spyOn(ProxyTracer.prototype, 'startSpan');
  cleanups.push(() => startSpan.mockRestore());
  return {
    bus,
    topic,
    out,
    published: () => metricSet(registry).publish.reduce((n, s) => n + s.published, 0),
    spansStarted: () => startSpan.mock.calls.length,
  };
}

/** Active contexts without an SDK: what an application that registered only a context manager has. */
class StoreContextManager implements ContextManager {
  readonly #store = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#store.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#store.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#store.disable();
    return this;
  }
}

const plain = (n: number, headers?: Record<string, string>): OutgoingMessage => ({ payload: new Uint8Array([n]), ...(headers ? { headers } : {}) });

describe('instrument() without an OpenTelemetry SDK', () => {
  it('starts no span when no context is active, whether or not the messages carry a traceparent, and still counts', async () => {
    const { bus, topic, out, published, spansStarted } = await setUp('idle');
    await bus.publish(topic, plain(1));
    await bus.publish(topic, [plain(2), plain(3, { traceparent, tracestate: 'vendor=1' })]);
    await out.untilCount(3, 10_000);
    expect(spansStarted()).toBe(0);
    expect(published()).toBe(3);
    // Messages pass through as they were: nothing added, a carried trace context kept.
    expect(out.messages[0]!.headers.traceparent).toBeUndefined();
    expect(out.messages[1]!.headers.traceparent).toBeUndefined();
    expect(out.messages[2]!.headers).toMatchObject({ traceparent, tracestate: 'vendor=1' });
  });

  it('passes the active span context on, as before', async () => {
    const { bus, topic, out, published, spansStarted } = await setUp('active');
    expect(context.setGlobalContextManager(new StoreContextManager())).toBe(true);
    cleanups.push(() => context.disable());
    await context.with(trace.setSpanContext(ROOT_CONTEXT, active), () => bus.publish(topic, [plain(1), plain(2, { traceparent })]));
    await out.untilCount(2, 10_000);
    expect(spansStarted()).toBeGreaterThan(0);
    expect(published()).toBe(2);
    expect(out.messages[0]!.headers.traceparent).toBe(`00-${active.traceId}-${active.spanId}-01`);
    expect(out.messages[1]!.headers.traceparent).toBe(traceparent);
  });

  it('records PRODUCER spans once an SDK is registered, without being rebuilt', async () => {
    const { bus, topic, out, published, spansStarted } = await setUp('late-sdk');
    await bus.publish(topic, plain(1));
    expect(spansStarted()).toBe(0);
    const exporter = new InMemorySpanExporter();
    expect(trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))).toBe(true);
    cleanups.push(() => trace.disable());
    await bus.publish(topic, [plain(2), plain(3, { traceparent })]);
    await out.untilCount(3, 10_000);
    expect(published()).toBe(3);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.kind])).toEqual([
      [`send ${topic}`, SpanKind.PRODUCER],
      [`send ${topic}`, SpanKind.PRODUCER],
    ]);
    const [own, continued] = spans;
    expect(own!.parentSpanContext).toBeUndefined();
    expect(continued!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(out.messages[1]!.headers.traceparent).toBe(`00-${own!.spanContext().traceId}-${own!.spanContext().spanId}-01`);
    expect(out.messages[2]!.headers.traceparent).toBe(`00-0af7651916cd43dd8448eb211c80319c-${continued!.spanContext().spanId}-01`);
  });
});
