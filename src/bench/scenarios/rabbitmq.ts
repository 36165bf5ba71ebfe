import { randomBytes } from 'node:crypto';
import { Connection, type Consumer, type Publisher } from 'rabbitmq-client';
import { declareGroup } from '../../core/declare-group.ts';
import { defaultAmqpUrl, rabbitmq, type RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { dropQueues } from '../cleanup.ts';
import { requireService } from '../reachable.ts';
import { timed } from '../stats.ts';
import type { BenchCase, Sample, Scenario } from '../types.ts';
import { fixedRateLatency, publishAndConsume, transportLatency, type FixedRateOptions } from '../workloads.ts';

const BATCH = 500;
let run = 0;

/** rabbitmq-client on its own, set up as the adapter is: a durable queue bound to a topic exchange, a confirming publisher. */
async function openRaw(url: string): Promise<{ connection: Connection; publisher: Publisher; send(payload: Buffer): Promise<void>; queue: string; close(): Promise<void> }> {
  const connection = new Connection({ url, noDelay: true, connectionName: 'switchyard bench raw' });
  const exchange = 'switchyard.bench.raw';
  const queue = `switchyard.bench.raw.${process.pid}.${++run}`;
  await connection.exchangeDeclare({ exchange, type: 'topic', durable: true });
  await connection.queueDeclare({ queue, durable: true });
  await connection.queueBind({ exchange, queue, routingKey: queue });
  const publisher = connection.createPublisher({ confirm: true });
  return {
    connection,
    publisher,
    queue,
    send: (payload) => publisher.send({ exchange, routingKey: queue, durable: true }, payload),
    async close() {
      await publisher.close();
      await connection.queueDelete({ queue });
      await connection.close();
    },
  };
}

/** A consumer with the adapter's prefetch. */
function rawConsumer(raw: { connection: Connection; queue: string }, onMessage: (body: Buffer) => void): Consumer {
  return raw.connection.createConsumer({ queue: raw.queue, queueOptions: { durable: true }, qos: { prefetchCount: 100 } }, async (msg) => onMessage(msg.body as Buffer));
}

/** rabbitmq-client on its own, confirms on, persistent, prefetch 100, noDelay. */
async function raw(url: string, count: number, payload: Buffer, consume: boolean): Promise<Sample> {
  const r = await openRaw(url);
  let received = 0;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const consumer = consume
    ? rawConsumer(r, () => {
        if (++received === count) resolve();
      })
    : undefined;
  try {
    return await timed(async () => {
      for (let sent = 0; sent < count; sent += BATCH) {
        const n = Math.min(BATCH, count - sent);
        await Promise.all(Array.from({ length: n }, () => r.send(payload)));
      }
      if (consume) await done;
      return count;
    });
  } finally {
    await consumer?.close();
    await r.close();
  }
}

/** The raw client at a fixed rate: every message confirmed, persistent, read with prefetch 100. */
function rawLatency(url: string, fixed: FixedRateOptions): Promise<Sample> {
  return fixedRateLatency(async (received) => {
    const r = await openRaw(url);
    const consumer = rawConsumer(r, received);
    return {
      send: async (payloads) => void (await Promise.all(payloads.map((p) => r.send(p)))),
      close: async () => {
        await consumer.close();
        await r.close();
      },
    };
  }, fixed);
}

/**
 * The adapter's confirmed publish of `count` messages to `topic`, in batches of 500, after
 * declaring its group `bench`: every message then lands in a durable queue, as the raw side's
 * do. (Without a queue bound, the broker confirms the messages without storing them anywhere —
 * half the work the raw side does.)
 */
export async function adapterPublish(bus: RabbitMQTransport, topic: string, count: number, payload: Buffer): Promise<Sample> {
  await declareGroup(bus, topic, 'bench');
  const batch = Array.from({ length: BATCH }, () => ({ payload }));
  return timed(async () => {
    for (let sent = 0; sent < count; sent += BATCH) await bus.publish(topic, batch.slice(0, Math.min(BATCH, count - sent)));
    return count;
  });
}

/** The adapter, same broker and settings: publish only, or publish and consume end to end. */
async function adapter(url: string, count: number, payload: Buffer, consume: boolean): Promise<Sample> {
  const bus = rabbitmq({ url, prefetch: 100 });
  await bus.connect();
  try {
    if (consume) return await publishAndConsume(bus, 'bench.rabbitmq', count, payload, 100, BATCH);
    return await adapterPublish(bus, `bench.rabbitmq.publish.${process.pid}.${++run}`, count, payload);
  } finally {
    await dropQueues(bus);
    await bus.close();
  }
}

/** The adapter at a fixed rate, same settings as the raw side. */
async function adapterLatency(url: string, fixed: FixedRateOptions): Promise<Sample> {
  const bus = rabbitmq({ url, prefetch: 100 });
  await bus.connect();
  try {
    return await transportLatency(bus, 'bench.rabbitmq.latency', fixed, 100).finally(() => dropQueues(bus));
  } finally {
    await bus.close();
  }
}

/** The RabbitMQ adapter against rabbitmq-client alone, confirms on, persistent, prefetch 100. */
export const rabbitmqScenario: Scenario = {
  name: 'rabbitmq',
  title: 'RabbitMQ: adapter vs rabbitmq-client (confirms, persistent, prefetch 100), 1 KiB',
  async cases(ctx) {
    const url = defaultAmqpUrl();
    await requireService(url, 5672, 'RabbitMQ');
    const count = ctx.quick ? 2_000 : 20_000;
    const payload = randomBytes(1024);
    const target = { ratio: 0.9, label: '≥ 0.9× raw client' };
    const fixed: FixedRateOptions = { rate: 2_000, seconds: ctx.quick ? 1 : 5, size: 1024 };
    const cases: BenchCase[] = [
      {
        name: 'confirmed publish, batches of 500',
        unit: 'msgs/s',
        ours: { name: 'switchyard', run: () => adapter(url, count, payload, false) },
        baseline: { name: 'rabbitmq-client', run: () => raw(url, count, payload, false) },
        target,
      },
      {
        name: 'publish and consume end to end',
        unit: 'msgs/s',
        ours: { name: 'switchyard', run: () => adapter(url, count, payload, true) },
        baseline: { name: 'rabbitmq-client', run: () => raw(url, count, payload, true) },
        target,
      },
      {
        name: `end to end at ${fixed.rate.toLocaleString('en-US')} msgs/s, ${fixed.size} B`,
        unit: 'msgs/s',
        ratioOf: 'p99',
        ours: { name: 'switchyard', run: () => adapterLatency(url, fixed) },
        baseline: { name: 'rabbitmq-client', run: () => rawLatency(url, fixed) },
      },
    ];
    return cases;
  },
};
