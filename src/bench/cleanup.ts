import { Admin } from '@platformatic/kafka';
import { Connection } from 'rabbitmq-client';
import { mockControl, usingMock } from '../transports/kafka/test-cluster.ts';
import type { NatsTransport } from '../transports/nats/index.ts';
import type { RabbitMQTransport } from '../transports/rabbitmq/index.ts';

/**
 * Deletes the queues a RabbitMQ transport declared (group and retry queues), through a connection
 * of its own: the transport may be closed already (a Router closes its transports when it stops).
 */
export async function dropQueues(bus: RabbitMQTransport): Promise<void> {
  const queues = bus.declared().queues;
  if (queues.length === 0) return;
  const connection = new Connection({ url: bus.options.url, connectionName: 'switchyard bench cleanup' });
  connection.on('error', () => undefined);
  try {
    for (const queue of queues) await connection.queueDelete({ queue }).catch(() => undefined);
  } finally {
    await connection.close();
  }
}

/** Deletes a JetStream stream through a connected NATS transport's manager. */
export async function dropStream(bus: NatsTransport, name: string): Promise<void> {
  await bus.native.manager?.streams.delete(name).catch(() => undefined);
}

/**
 * Deletes the Kafka topics `which` picks, through clients of its own (the ones that wrote them may
 * be closed). A benchmark round writes up to tens of MB to a topic of its own; left behind, they
 * pile up in the cluster (the mock keeps them in memory). The librdkafka mock has no DeleteTopics
 * API: there, its control port deletes them. A failure is reported on stderr, not thrown: it must
 * not cost the run its figures.
 */
export async function dropKafkaTopics(brokers: string[], which: (topic: string) => boolean): Promise<void> {
  const admin = new Admin({ clientId: 'switchyard-bench-cleanup', bootstrapBrokers: brokers });
  let topics: string[] = [];
  try {
    topics = (await admin.listTopics()).filter(which);
    if (topics.length === 0) return;
    if (!usingMock()) return await admin.deleteTopics({ topics });
    for (const topic of topics) await mockControl(`delete-topic ${topic}`);
  } catch (error) {
    console.error(`could not delete the benchmark's Kafka topics ${topics.join(', ') || '(listing them failed)'} at ${brokers.join(',')}: ${(error as Error).message}; delete them by hand`);
  } finally {
    await admin.close().catch(() => undefined);
  }
}
