import { randomBytes } from 'node:crypto';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { declareGroup } from '../core/declare-group.ts';
import type { Transport } from '../core/transport.ts';
import { Router } from '../router/router.ts';
import { Inbox } from '../testing/inbox.ts';
import { kafka } from '../transports/kafka/index.ts';
import { startOwnCluster, testBrokers, uniqueTopic } from '../transports/kafka/test-cluster.ts';
import { nats, planStream } from '../transports/nats/index.ts';
import { rabbitmq, type RabbitMQTransport } from '../transports/rabbitmq/index.ts';
import { deleteDeclared } from '../transports/rabbitmq/test-support.ts';
import { instrument } from './instrument.ts';
import { lagMonitor, type LagEvent } from './lag.ts';
import { kafkaLagSource, natsLagSource, rabbitmqLagSource } from './lag-sources.ts';
import { expectKnownWorkload, knownWorkload, parseProm, quiet, valueOf } from './harness.test-support.ts';
import { METRIC_NAMES } from './metric-names.ts';
import { tracing } from './tracing.ts';

// Against the real brokers (SWITCHYARD_AMQP_URL, SWITCHYARD_NATS_URL): the same metric names and
// figures as on the memory transport, lag through each broker's LagSource, and one trace across both.
const run = randomBytes(4).toString('hex');
const rabbits: RabbitMQTransport[] = [];
const rabbit = (): RabbitMQTransport => {
  const t = rabbitmq({ exchange: `switchyard.obs.${run}`, redeliveryDelaysMs: [100] });
  rabbits.push(t);
  return t;
};
// A first token of its own per run: the topics live in one JetStream stream, deleted afterwards.
const prefix = `sy-obs-${run}`;
const natsOptions = { mode: 'jetstream' as const, consumers: { ackWaitMs: 10_000, redeliveryDelayMs: 50 } };

afterAll(async () => {
  await deleteDeclared(rabbits);
  const admin = nats(natsOptions);
  await admin.connect();
  await admin.native.manager!.streams.delete(planStream(`${prefix}.x`, admin.options).name).catch(() => undefined);
  await admin.close();
});

/** Publishes n, consumes m and holds the next delivery; `release()` lets the group drain. */
async function backlog(bus: Pick<Transport, 'subscribe' | 'publish'>, topic: string, n: number, m: number): Promise<{ release(): void; drained: Promise<void> }> {
  const handled = new Inbox();
  const gate = Promise.withResolvers<void>();
  const held = Promise.withResolvers<void>();
  const sub = await bus.subscribe(topic, { group: 'billing', from: 'earliest' }, async (msg) => {
    if (handled.messages.length === m) {
      held.resolve();
      await gate.promise;
    }
    handled.push(msg);
  });
  await bus.publish(topic, Array.from({ length: n }, (_, i) => ({ payload: new Uint8Array([i]) })));
  await held.promise;
  // Drained: every message handled and (closing the subscription waits for it) acknowledged.
  return { release: () => gate.resolve(), drained: handled.untilCount(n, 20_000).then(() => sub.close()) };
}

describe('observability on RabbitMQ', () => {
  it('counts the known workload with the same names as on the memory transport', async () => {
    const bus = rabbit();
    const topic = `obs-${run}.orders`;
    expectKnownWorkload(await knownWorkload(bus, topic), 'rabbitmq', topic);
    await bus.close();
  });

  it('reads lag as ready + unacked through rabbitmqLagSource; lag.high once, lag.recovered once', async () => {
    const bus = rabbit();
    const topic = `obs-${run}.lag`;
    const { release, drained } = await backlog(bus, topic, 30, 10);
    const monitor = lagMonitor({ sources: [rabbitmqLagSource(bus, [{ topic, group: 'billing' }])], high: { messages: 15 }, registry: false });
    const events: LagEvent[] = [];
    monitor.on((e) => events.push(e));
    const [reading] = await monitor.sample();
    expect(reading).toMatchObject({ transport: 'rabbitmq', topic, group: 'billing', messages: 20 });
    release();
    await drained;
    expect((await monitor.sample())[0]).toMatchObject({ messages: 0 });
    expect(events.map((e) => e.type)).toEqual(['lag.high', 'lag.recovered']);
    await bus.close();
  });

  it('closes a lagging group\'s alert as gone once its queue is deleted, instead of raising lag.error every sample', async () => {
    const bus = rabbit();
    const topic = `obs-${run}.gone`;
    await declareGroup(bus, topic, 'billing');
    await bus.publish(topic, Array.from({ length: 20 }, (_, i) => ({ payload: new Uint8Array([i]) })));
    const monitor = lagMonitor({ sources: [rabbitmqLagSource(bus, [{ topic, group: 'billing' }])], high: { messages: 15 }, registry: false });
    const events: LagEvent[] = [];
    monitor.on((e) => events.push(e));
    expect(await monitor.sample()).toMatchObject([{ group: 'billing', messages: 20 }]);
    await bus.native.connection.queueDelete({ queue: bus.queueFor(topic, 'billing') });
    expect(await monitor.sample()).toEqual([]);
    expect(await monitor.sample()).toEqual([]);
    expect(events.map((e) => [e.type, e.type === 'lag.recovered' ? e.gone : undefined])).toEqual([
      ['lag.high', undefined],
      ['lag.recovered', true],
    ]);
    await bus.close();
  });
});

describe('observability on NATS JetStream', () => {
  it('counts the known workload with the same names as on the memory transport', async () => {
    const bus = nats(natsOptions);
    const topic = `${prefix}.orders`;
    expectKnownWorkload(await knownWorkload(bus, topic), 'nats', topic);
    await bus.close();
  });

  it('reads lag as pending + ack pending through natsLagSource; lag.high once, lag.recovered once', async () => {
    const bus = nats(natsOptions);
    const topic = `${prefix}.lag`;
    const { release, drained } = await backlog(bus, topic, 30, 10);
    const monitor = lagMonitor({ sources: [natsLagSource(bus, [{ topic, group: 'billing' }])], high: { messages: 15 }, registry: false });
    const events: LagEvent[] = [];
    monitor.on((e) => events.push(e));
    const [reading] = await monitor.sample();
    // Acks are asynchronous: one the server has not processed yet may still count as pending.
    expect(reading).toMatchObject({ transport: 'nats', topic, group: 'billing' });
    expect(reading!.messages).toBeGreaterThanOrEqual(20);
    expect(reading!.messages).toBeLessThanOrEqual(30);
    release();
    await drained;
    expect((await monitor.sample())[0]).toMatchObject({ messages: 0 });
    expect(events.map((e) => e.type)).toEqual(['lag.high', 'lag.recovered']);
    await bus.close();
  });
});

// Kafka: librdkafka's mock cluster unless SWITCHYARD_KAFKA_BROKERS points elsewhere.
const kafkaOptions = { brokers: testBrokers(), consumer: { maxWaitMs: 100, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500 } };

describe('observability on Kafka', () => {
  it('counts the known workload with the same names as on the memory transport', async () => {
    const bus = kafka(kafkaOptions);
    const topic = uniqueTopic('obs-orders');
    try {
      expectKnownWorkload(await knownWorkload(bus, topic), 'kafka', topic);
    } finally {
      await bus.close();
    }
  });

  it('reads lag as high watermark minus committed offset through kafkaLagSource; lag.high once, lag.recovered once', async () => {
    const bus = kafka(kafkaOptions);
    const topic = uniqueTopic('obs-lag');
    try {
      const { release, drained } = await backlog(bus, topic, 30, 10);
      const monitor = lagMonitor({ sources: [kafkaLagSource({ brokers: kafkaOptions.brokers }, 'billing', [topic])], high: { messages: 15 }, registry: false });
      const events: LagEvent[] = [];
      monitor.on((e) => events.push(e));
      const [reading] = await monitor.sample();
      // Kafka commits lazily (contiguous successes, on an interval): at least the unprocessed 20 are behind.
      expect(reading).toMatchObject({ transport: 'kafka', topic, group: 'billing' });
      expect(reading!.messages).toBeGreaterThanOrEqual(20);
      release();
      await drained; // closing the subscription commits
      expect((await monitor.sample())[0]).toMatchObject({ messages: 0 });
      expect(events.map((e) => e.type)).toEqual(['lag.high', 'lag.recovered']);
    } finally {
      await bus.close();
    }
  });

  it('monitors the same group on two clusters: kafkaLagSource takes a name, and the gauges keep the two apart by source', async () => {
    const other = await startOwnCluster();
    const topic = uniqueTopic('obs-lag-two');
    try {
      for (const [brokers, n] of [[kafkaOptions.brokers, 3], [other.brokers, 5]] as const) {
        const bus = kafka({ ...kafkaOptions, brokers: [...brokers] });
        await bus.publish(topic, Array.from({ length: n }, (_, i) => ({ payload: new Uint8Array([i]) }))).finally(() => bus.close());
      }
      const registry = new Registry();
      const monitor = lagMonitor({
        sources: [
          kafkaLagSource({ brokers: kafkaOptions.brokers }, 'billing', [topic], { name: 'kafka-shared' }),
          kafkaLagSource({ brokers: other.brokers }, 'billing', [topic], { name: 'kafka-own' }),
        ],
        registry,
      });
      const errors: LagEvent[] = [];
      monitor.on((e) => void (e.type === 'lag.error' && errors.push(e)));
      await monitor.sample();
      expect(errors).toEqual([]);
      const samples = parseProm(await registry.metrics());
      const lag = (source: string) => valueOf(samples, METRIC_NAMES.consumerLag, { transport: 'kafka', topic, group: 'billing', source });
      expect([lag('kafka-shared'), lag('kafka-own')]).toEqual([3, 5]);
      // Without a name each is "kafka:billing": refused, saying how to name them.
      expect(() => lagMonitor({ sources: [kafkaLagSource({ brokers: kafkaOptions.brokers }, 'billing', [topic]), kafkaLagSource({ brokers: other.brokers }, 'billing', [topic])] })).toThrow(
        /"kafka:billing" appears more than once; give each its own name \(kafkaLagSource\(…, \{ name \}\)/,
      );
    } finally {
      await other.stop();
    }
  }, 60_000);
});

describe('one trace across brokers', () => {
  it('carries one trace id Kafka → RabbitMQ → NATS: publish → consume → publish → consume → publish → consume', async () => {
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('test');
    const log = instrument(kafka(kafkaOptions), { registry: false, tracer });
    const amqp = instrument(rabbit(), { registry: false, tracer });
    const js = instrument(nats(natsOptions), { registry: false, tracer });
    const codec = json<{ orderId: string }>();
    const [placed, charged, shipped] = [uniqueTopic('obs-placed'), `obs-${run}.charged`, `${prefix}.shipped`];
    const done = new Inbox();
    const router = new Router({ logger: quiet });
    router.use(tracing({ tracer }));
    router.handle('charge', { from: log, to: amqp, topic: placed, group: 'billing', codec, start: 'earliest' }, async (msg, ctx) => ctx.publish(charged, codec.encode(msg.payload)));
    router.handle('ship', { from: amqp, to: js, topic: charged, group: 'shipping', codec }, async (msg, ctx) => ctx.publish(shipped, codec.encode(msg.payload)));
    router.handle('notify', { from: js, topic: shipped, group: 'notify', codec }, async (msg) => done.push({ ...msg, payload: msg.bytes }));
    await router.start();
    try {
      await log.publish(placed, codec.encode({ orderId: 'o-1' }));
      await done.untilCount(1, 30_000);
    } finally {
      await router.stop();
    }
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual([`process ${charged}`, `process ${placed}`, `process ${shipped}`, `send ${charged}`, `send ${placed}`, `send ${shipped}`].sort());
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const system = (name: string): unknown => spans.find((s) => s.name === name)?.attributes['messaging.system'];
    expect([system(`process ${placed}`), system(`process ${charged}`), system(`process ${shipped}`)]).toEqual(['kafka', 'rabbitmq', 'nats']);
  });
});
