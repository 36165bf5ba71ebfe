import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { PermanentError } from '../core/errors.ts';
import { deadLetter } from '../middleware/dead-letter.ts';
import { retry } from '../middleware/retry.ts';
import { Router } from '../router/router.ts';
import { Inbox } from '../testing/inbox.ts';
import { embedded } from '../transports/embedded/index.ts';
import { memory } from '../transports/memory/index.ts';
import { metrics } from './metrics.ts';
import { instrument } from './instrument.ts';
import { quiet } from './harness.test-support.ts';
import { headerGetter, headerSetter, messageContext, w3cTraceContext } from './trace-context.ts';
import { tracing } from './tracing.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
let seq = 0;
const topicName = (name: string): string => `trace-test.${process.pid}.${++seq}.${name}`;

function sdk(): { exporter: InMemorySpanExporter; provider: BasicTracerProvider } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, provider };
}

describe('tracing', () => {
  it('one span per delivery, with each in-process retry and a dead-lettering as events (the documented order: metrics, tracing, retry, deadLetter)', async () => {
    const { exporter, provider } = sdk();
    const tracer = provider.getTracer('test');
    const dir = mkdtempSync(join(tmpdir(), 'sy-trace-retry-'));
    const bus = embedded({ dir });
    cleanups.push(async () => {
      await bus.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const topic = topicName('orders');
    const handled = new Inbox();
    const deadLetters = new Inbox();
    const watch = await bus.subscribe(`${topic}.dlq`, { group: 'watch' }, async (m) => deadLetters.push(m));
    cleanups.push(() => watch.close());
    const router = new Router({ logger: quiet, closeTransports: false });
    router.use(metrics({ registry: new Registry() }), tracing({ tracer }), retry({ attempts: 3, initialDelayMs: 1 }), deadLetter({ maxAttempts: 3 }));
    let flaky = 0;
    router.handle('billing', { from: bus, topic, group: 'billing' }, async (msg) => {
      if (msg.id === 'flaky' && ++flaky < 3) throw new Error('payment service down');
      if (msg.id === 'bad') throw new PermanentError('customer unknown');
      handled.push(msg);
    });
    await router.start();
    cleanups.push(() => router.stop());
    await bus.publish(topic, { id: 'flaky', payload: new Uint8Array([1]) });
    await handled.untilCount(1, 10_000);
    await bus.publish(topic, { id: 'bad', payload: new Uint8Array([2]) });
    await deadLetters.untilCount(1, 10_000);
    await router.stop();

    const spans = exporter.getFinishedSpans().filter((s) => s.name === `process ${topic}`);
    const events = (id: string) => spans.find((s) => s.attributes['messaging.message.id'] === id)?.events.map((e) => [e.name, e.attributes?.['switchyard.attempt']]);
    expect(spans).toHaveLength(2); // one per delivery, not per attempt
    expect(events('flaky')).toEqual([['switchyard.retry', 1], ['switchyard.retry', 2]]);
    expect(events('bad')).toEqual([['switchyard.dead_lettered', 1]]);
  });

  it('carries one trace id through publish → consume → publish → consume across two brokers', async () => {
    const { exporter, provider } = sdk();
    const tracer = provider.getTracer('test');
    // Two separate in-process brokers stand for two kinds of broker (Kafka → RabbitMQ, say).
    const first = instrument(memory(), { registry: false, tracer });
    const second = instrument(memory(), { registry: false, tracer });
    const orders = topicName('orders');
    const payments = topicName('payments');
    const codec = json<{ orderId: string }>();
    const done = new Inbox();
    const router = new Router({ logger: quiet });
    router.use(tracing({ tracer }));
    router.handle('request-payment', { from: first, to: second, topic: orders, group: 'billing', codec }, async (msg, ctx) => {
      ctx.publish(payments, codec.encode({ orderId: msg.payload.orderId }));
    });
    router.handle('charge', { from: second, topic: payments, group: 'payments', codec }, async (msg) => {
      done.push({ ...msg, payload: msg.bytes });
    });
    await router.start();
    cleanups.push(() => router.stop());

    await first.publish(orders, codec.encode({ orderId: 'o-1' }, { id: 'm-1' }));
    await done.untilCount(1, 10_000);
    await router.stop();

    const spans = exporter.getFinishedSpans();
    const byName = (name: string): ReadableSpan => {
      const found = spans.filter((s) => s.name === name);
      expect(found, `spans named ${name} among ${spans.map((s) => s.name).join(', ')}`).toHaveLength(1);
      return found[0]!;
    };
    const send1 = byName(`send ${orders}`);
    const process1 = byName(`process ${orders}`);
    const send2 = byName(`send ${payments}`);
    const process2 = byName(`process ${payments}`);
    expect(spans).toHaveLength(4);
    const traceId = send1.spanContext().traceId;
    for (const s of spans) expect(s.spanContext().traceId).toBe(traceId);
    expect(send1.parentSpanContext).toBeUndefined();
    expect(process1.parentSpanContext?.spanId).toBe(send1.spanContext().spanId);
    expect(send2.parentSpanContext?.spanId).toBe(process1.spanContext().spanId);
    expect(process2.parentSpanContext?.spanId).toBe(send2.spanContext().spanId);
    expect([send1.kind, process1.kind, send2.kind, process2.kind]).toEqual([SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.PRODUCER, SpanKind.CONSUMER]);
    expect(send1.attributes).toMatchObject({
      'messaging.system': 'switchyard.memory',
      'messaging.operation.type': 'send',
      'messaging.destination.name': orders,
      'messaging.message.id': 'm-1',
    });
    expect(process1.attributes).toMatchObject({
      'messaging.operation.type': 'process',
      'messaging.destination.name': orders,
      'messaging.consumer.group.name': 'billing',
      'messaging.message.id': 'm-1',
      'switchyard.handler': 'request-payment',
      'switchyard.attempt': 1,
    });
    // The message that arrived carried the producer span's context in W3C form.
    expect(done.messages[0]!.headers.traceparent).toBe(`00-${traceId}-${send2.spanContext().spanId}-01`);
  });

  it('records a failed attempt on the consumer span', async () => {
    const { exporter, provider } = sdk();
    const tracer = provider.getTracer('test');
    const bus = memory();
    const topic = topicName('failing');
    const failed = new Inbox();
    const router = new Router({ logger: quiet, closeTransports: false });
    router.use(tracing({ tracer }));
    router.handle('fails-once', { from: bus, topic, group: 'g' }, async (msg) => {
      if (msg.attempt === 1) throw new TypeError('boom');
      failed.push({ ...msg, payload: msg.bytes });
    });
    await router.start();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
    });
    await bus.publish(topic, { payload: new Uint8Array([1]) });
    await failed.untilCount(1, 10_000);
    await router.stop();
    const [firstTry, secondTry] = exporter.getFinishedSpans();
    expect(firstTry!.status).toMatchObject({ code: 2, message: 'boom' });
    expect(firstTry!.attributes['error.type']).toBe('TypeError');
    expect(firstTry!.events.map((e) => e.name)).toContain('exception');
    expect(secondTry!.status.code).toBe(0);
    expect(secondTry!.attributes['switchyard.attempt']).toBe(2);
  });

  it('names the span of a pattern route after the pattern (low cardinality), with the topic as destination', async () => {
    const { exporter, provider } = sdk();
    const tracer = provider.getTracer('test');
    const bus = memory();
    const base = topicName('tenant');
    const handled = new Inbox();
    const router = new Router({ logger: quiet, closeTransports: false });
    router.use(tracing({ tracer }));
    router.handle('tenants', { from: bus, topic: `${base}.*`, group: 'g' }, async (msg) => void handled.push(msg));
    await router.start();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
    });
    await bus.publish(`${base}.t1`, { payload: new Uint8Array([1]) });
    await bus.publish(`${base}.t2`, { payload: new Uint8Array([2]) });
    await handled.untilCount(2, 10_000);
    await router.stop();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual([`process ${base}.*`, `process ${base}.*`]);
    expect(spans.map((s) => s.attributes['messaging.destination.name'])).toEqual([`${base}.t1`, `${base}.t2`]);
    expect(spans[0]!.attributes['messaging.destination.template']).toBe(`${base}.*`);
  });

  it('starts a new trace for a message whose traceparent is invalid, and drops the tracestate that came with it', async () => {
    const { exporter, provider } = sdk();
    const tracer = provider.getTracer('test');
    const bus = instrument(memory(), { registry: false, tracer });
    const topic = topicName('foreign');
    const out = new Inbox();
    await bus.subscribe(topic, { group: 'watch' }, async (m) => out.push(m));
    cleanups.push(() => bus.close());
    await bus.publish(topic, { payload: new Uint8Array([1]), headers: { traceparent: '00-not-a-valid-traceparent-01', tracestate: 'foreign=1' } });
    await out.untilCount(1, 10_000);
    const [send] = exporter.getFinishedSpans();
    expect(send!.parentSpanContext).toBeUndefined();
    expect(out.messages[0]!.headers.traceparent).toBe(`00-${send!.spanContext().traceId}-${send!.spanContext().spanId}-01`);
    expect(out.messages[0]!.headers.tracestate).toBeUndefined();
  });

  it('without an SDK, passes an incoming traceparent on unchanged and adds nothing to messages that had none', async () => {
    const bus = instrument(memory(), { registry: false });
    const topic = topicName('no-sdk');
    const out = new Inbox();
    await bus.subscribe(`${topic}.out`, { group: 'watch' }, async (m) => out.push(m));
    const router = new Router({ logger: quiet, closeTransports: false });
    router.use(tracing());
    router.handle('relay', { from: bus, topic, group: 'g' }, async (msg, ctx) => {
      ctx.publish(`${topic}.out`, { payload: msg.bytes });
    });
    await router.start();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
    });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await bus.publish(topic, [{ payload: new Uint8Array([1]), headers: { traceparent, tracestate: 'vendor=1' } }, { payload: new Uint8Array([2]) }]);
    await out.untilCount(2, 10_000);
    const [carried, plain] = out.messages;
    expect(carried!.headers).toMatchObject({ traceparent, tracestate: 'vendor=1' });
    expect(plain!.headers.traceparent).toBeUndefined();
  });

  it('skips spans while no SDK is registered, and records them once one is, without being rebuilt', async () => {
    const bus = memory();
    const topic = topicName('late-sdk');
    const handled = new Inbox();
    const router = new Router({ logger: quiet, closeTransports: false });
    router.use(tracing()); // the default tracer: the global provider, no SDK yet
    router.handle('late', { from: bus, topic, group: 'g' }, async (msg) => void handled.push(msg));
    await router.start();
    const { exporter, provider } = sdk();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
      trace.disable();
    });
    await bus.publish(topic, { payload: new Uint8Array([1]) });
    await handled.untilCount(1, 10_000);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    await bus.publish(topic, { payload: new Uint8Array([2]) });
    await handled.untilCount(2, 10_000);
    // The span ends just after the handler returns.
    await expect.poll(() => exporter.getFinishedSpans().length, { timeout: 5_000 }).toBe(1);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual([`process ${topic}`]);
    expect(spans[0]!.kind).toBe(SpanKind.CONSUMER);
  });
});

describe('w3cTraceContext', () => {
  it('writes and reads traceparent and tracestate', () => {
    const sc = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true };
    const headers: Record<string, string> = {};
    w3cTraceContext.inject(trace.setSpanContext(ROOT_CONTEXT, sc), headers, headerSetter);
    expect(headers).toEqual({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    const back = trace.getSpanContext(w3cTraceContext.extract(context.active(), { ...headers, tracestate: 'a=1,b=2' }, headerGetter));
    expect(back).toMatchObject({ ...sc, isRemote: true });
    expect(back?.traceState?.get('b')).toBe('2');
  });

  it('messageContext() gives plain subscribers the context a message carries', () => {
    const ctx = messageContext({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' });
    expect(trace.getSpanContext(ctx)).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 0 });
    expect(trace.getSpanContext(messageContext({}))).toBeUndefined();
  });

  it('ignores malformed, all-zero and version-ff traceparent headers', () => {
    for (const traceparent of ['garbage', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra']) {
      expect(trace.getSpanContext(w3cTraceContext.extract(ROOT_CONTEXT, { traceparent }, headerGetter)), traceparent).toBeUndefined();
    }
  });
});
