import type { NatsTransport } from '../transports/nats/index.ts';
import type { RabbitMQTransport } from '../transports/rabbitmq/index.ts';

/** Deletes the queues a connected RabbitMQ transport declared (group and retry queues), through its own connection. */
export async function dropQueues(bus: RabbitMQTransport): Promise<void> {
  for (const queue of bus.declared().queues) await bus.native.connection.queueDelete({ queue }).catch(() => undefined);
}

/** Deletes a JetStream stream through a connected NATS transport's manager. */
export async function dropStream(bus: NatsTransport, name: string): Promise<void> {
  await bus.native.manager?.streams.delete(name).catch(() => undefined);
}
