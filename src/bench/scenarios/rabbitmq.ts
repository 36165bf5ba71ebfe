import { randomBytes } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { defaultAmqpUrl, rabbitmq } from '../../transports/rabbitmq/index.ts';
import { requireService } from '../reachable.ts';
import { timed } from '../stats.ts';
import type { BenchCase, Sample, Scenario } from '../types.ts';
import { publishAndConsume } from '../workloads.ts';

const BATCH = 500;
let run = 0;

/** rabbitmq-client on its own, set up as the adapter is: confirms, persistent, prefetch 100, noDelay. */
async function raw(url: string, count: number, payload: Buffer, consume: boolean): Promise<Sample> {
  const connection = new Connection({ url, noDelay: true, connectionName: 'switchyard bench raw' });
  const exchange = 'switchyard.bench.raw';
  const queue = `switchyard.bench.raw.${process.pid}.${++run}`;
  await connection.exchangeDeclare({ exchange, type: 'topic', durable: true });
  await connection.queueDeclare({ queue, durable: true });
  await connection.queueBind({ exchange, queue, routingKey: queue });
  const publisher = connection.createPublisher({ confirm: true });
  let received = 0;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const consumer = consume
    ? connection.createConsumer({ queue, queueOptions: { durable: true }, qos: { prefetchCount: 100 } }, async () => {
        if (++received === count) resolve();
      })
    : undefined;
  try {
    return await timed(async () => {
      for (let sent = 0; sent < count; sent += BATCH) {
        const n = Math.min(BATCH, count - sent);
        await Promise.all(Array.from({ length: n }, () => publisher.send({ exchange, routingKey: queue, durable: true }, payload)));
      }
      if (consume) await done;
      return count;
    });
  } finally {
    await consumer?.close();
    await publisher.close();
    await connection.queueDelete({ queue });
    await connection.close();
  }
}

/** The adapter, same broker and settings: publish only, or publish and consume end to end. */
async function adapter(url: string, count: number, payload: Buffer, consume: boolean): Promise<Sample> {
  const bus = rabbitmq({ url, prefetch: 100 });
  await bus.connect();
  try {
    if (consume) return await publishAndConsume(bus, 'bench.rabbitmq', count, payload, 100, BATCH);
    const topic = `bench.rabbitmq.publish.${process.pid}.${++run}`;
    const batch = Array.from({ length: BATCH }, () => ({ payload }));
    return await timed(async () => {
      for (let sent = 0; sent < count; sent += BATCH) await bus.publish(topic, batch.slice(0, Math.min(BATCH, count - sent)));
      return count;
    });
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
    ];
    return cases;
  },
};
