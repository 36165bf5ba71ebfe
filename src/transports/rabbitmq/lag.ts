import { TransportError } from '../../core/errors.ts';
import { toSwitchyardError } from './errors.ts';
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
 * The depth of a group's queue (ready + unacknowledged), for lag monitoring.
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
  const api = new URL(base);
  const vhost = decodeURIComponent(new URL(amqpUrl).pathname.slice(1)) || '/';
  const auth = Buffer.from(`${decodeURIComponent(api.username || 'guest')}:${decodeURIComponent(api.password || 'guest')}`).toString('base64');
  api.username = '';
  api.password = '';
  const url = new URL(`api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`, api.href.endsWith('/') ? api.href : `${api.href}/`);
  const response = await fetch(url, { headers: { authorization: `Basic ${auth}` } }).catch((error: unknown) => {
    throw new TransportError(`rabbitmq: management API ${api.origin} unreachable: ${String(error)}`, { cause: error });
  });
  if (!response.ok) throw new TransportError(`rabbitmq: management API answered ${response.status} for queue "${queue}"`, { retryable: response.status >= 500 });
  const body = (await response.json()) as { messages_ready?: number; messages_unacknowledged?: number; consumers?: number };
  const ready = body.messages_ready ?? 0;
  const unacked = body.messages_unacknowledged ?? 0;
  return { queue, ready, unacked, total: ready + unacked, consumers: body.consumers ?? 0, source: 'management' };
}
