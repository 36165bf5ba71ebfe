import { TransportError } from '../../core/errors.ts';
import { toSwitchyardError } from './errors.ts';
import { managementGet } from './management.ts';
import type { RabbitMQTransport } from './transport.ts';

/** A group's backlog on RabbitMQ: its queue's depth. */
export interface RabbitMQLag {
  queue: string;
  /** Messages waiting in the queue. */
  ready: number;
  /**
   * Messages delivered but not yet acknowledged. From the management API when `managementUrl`
   * is set (every consumer); otherwise only those held by this transport.
   */
  unacked: number;
  /** `ready + unacked`. */
  total: number;
  /** Consumers attached to the queue. */
  consumers: number;
  /** Where `unacked` came from. */
  source: 'management' | 'local';
}

/**
 * The depth of a group's queue (ready + unacknowledged), for lag monitoring. Without
 * `managementUrl`, rejects at once (retryable `TransportError`) while the AMQP connection is down
 * instead of waiting for it to return.
 *
 * @example
 * ```ts
 * const lag = await rabbitmqLag(bus, 'orders.placed', 'billing');
 * if (lag.total > 10_000) alert(`billing is ${lag.total} messages behind`);
 * ```
 */
export async function rabbitmqLag(transport: RabbitMQTransport, topic: string, group: string): Promise<RabbitMQLag> {
  await transport.connect();
  const queue = transport.queueFor(topic, group);
  const { managementUrl } = transport.options;
  if (managementUrl) return managementLag(managementUrl, transport.options.url, queue);
  // The client would hold the queue check until it reconnects: a lag reading must not wait that long.
  if (!transport.connected) {
    throw new TransportError(`rabbitmq: not connected to the broker (reconnecting), so the depth of queue "${queue}" cannot be read now; read lag again once the transport has reconnected`, {
      retryable: true,
    });
  }
  let declared;
  try {
    declared = await transport.native.connection.queueDeclare({ queue, passive: true });
  } catch (error) {
    throw toSwitchyardError(error, `reading the depth of queue "${queue}"`);
  }
  const unacked = transport.unacknowledged(queue);
  return { queue, ready: declared.messageCount, unacked, total: declared.messageCount + unacked, consumers: declared.consumerCount, source: 'local' };
}

async function managementLag(base: string, amqpUrl: string, queue: string): Promise<RabbitMQLag> {
  const body = await managementGet<{ messages_ready?: number; messages_unacknowledged?: number; consumers?: number }>(base, amqpUrl, `queues/{vhost}/${encodeURIComponent(queue)}`);
  const ready = body.messages_ready ?? 0;
  const unacked = body.messages_unacknowledged ?? 0;
  return { queue, ready, unacked, total: ready + unacked, consumers: body.consumers ?? 0, source: 'management' };
}
