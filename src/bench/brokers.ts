import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Transport } from '../core/transport.ts';
import { embedded } from '../transports/embedded/index.ts';
import { kafka } from '../transports/kafka/index.ts';
import { testBrokers } from '../transports/kafka/test-cluster.ts';
import { nats } from '../transports/nats/index.ts';
import { defaultAmqpUrl, rabbitmq } from '../transports/rabbitmq/index.ts';
import { dropKafkaTopics, dropQueues, dropStream } from './cleanup.ts';

/** A transport opened for one run: connected, a topic of its own, and `close` removes what the run created. */
export interface OpenedBroker {
  bus: Transport;
  topic: string;
  close(): Promise<void>;
}

/** A broker under measurement, as a user would set it up for durable messaging. */
export interface Broker {
  name: string;
  open(): Promise<OpenedBroker>;
  /**
   * A connected transport that publishes to a topic an `open()` in another process set up, for
   * workloads that keep the publisher out of the measured process. Absent where the broker lives
   * in the process that opened it (embedded).
   */
  openPublisher?(): Promise<Transport>;
}

/** Connects `bus` and returns it. */
async function connected(bus: Transport): Promise<Transport> {
  await bus.connect();
  return bus;
}

let run = 0;
const unique = (): string => `${process.pid}x${++run}x${Date.now().toString(36)}`;

export const natsUrl = (): string => process.env['SWITCHYARD_NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** The zero-setup default: a fresh data directory (removed after), fsync batch (group commit), in this process. */
export const embeddedBroker: Broker = {
  name: 'embedded (fsync batch)',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
    const bus = embedded({ dir, fsync: 'batch', partitions: 1 });
    await bus.connect();
    return {
      bus,
      topic: `bench.run.${unique()}`,
      async close() {
        await bus.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** JetStream: a file-storage stream declared per run (deleted after), one durable consumer per group, explicit acks. */
export const natsJetStreamBroker: Broker = {
  name: 'NATS JetStream (file)',
  async open() {
    const id = unique();
    const stream = `SYBENCH_${id}`;
    const bus = nats({ servers: natsUrl(), mode: 'jetstream', streams: [{ name: stream, subjects: [`sybench${id}.>`], storage: 'file' }] });
    await bus.connect();
    return {
      bus,
      topic: `sybench${id}.orders`,
      async close() {
        await dropStream(bus, stream);
        await bus.close();
      },
    };
  },
  openPublisher: () => connected(nats({ servers: natsUrl(), mode: 'jetstream' })),
};

/** RabbitMQ: a durable queue per group, persistent messages, publisher confirms, prefetch 100; queues deleted after. */
export const rabbitmqBroker: Broker = {
  name: 'RabbitMQ (durable, confirms)',
  async open() {
    const bus = rabbitmq({ url: defaultAmqpUrl(), prefetch: 100, confirm: true });
    await bus.connect();
    return {
      bus,
      topic: `bench.run.${unique()}`,
      async close() {
        await dropQueues(bus);
        await bus.close();
      },
    };
  },
  openPublisher: () => connected(rabbitmq({ url: defaultAmqpUrl(), confirm: true })),
};

/** Kafka (by default the librdkafka mock cluster): the transport's defaults; the topic is deleted after. */
export const kafkaBroker: Broker = {
  name: 'Kafka',
  async open() {
    const bus = kafka({ brokers: testBrokers() });
    await bus.connect();
    const topic = `bench.run.${unique()}`;
    return {
      bus,
      topic,
      async close() {
        await bus.close();
        await dropKafkaTopics(testBrokers(), (t) => t === topic);
      },
    };
  },
  openPublisher: () => connected(kafka({ brokers: testBrokers() })),
};

/** Opens `broker` for one run, does `work`, and closes it (removing what the run created) whatever happens. */
export async function withBroker<T>(broker: Broker, work: (opened: OpenedBroker) => Promise<T>): Promise<T> {
  const opened = await broker.open();
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}
