import { Connection } from 'rabbitmq-client';
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
