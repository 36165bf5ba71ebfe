import { ConfigError } from '../../core/errors.ts';
import type { RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { managementGet } from '../../transports/rabbitmq/management.ts';

/** One binding of the topic exchange as `switchyard topics` shows it: a topic (or pattern) and the group queue it feeds. */
export interface RabbitMQBindingListing {
  /** The topic or pattern, in Switchyard's syntax (`>` for a binding key's `*.#`). */
  topic: string;
  queue: string;
  ready: number;
  unacked: number;
  consumers: number;
}

/** A binding key back in Switchyard's pattern syntax. */
const topicOf = (bindingKey: string): string => bindingKey.replace(/(^|\.)\*\.#$/, '$1>');

/**
 * The queues bound to the transport's topic exchange for topics that `matches` accepts, with their
 * depth, read from the management API (AMQP cannot list queues): `--management URL` is required.
 */
export async function listRabbitMQBindings(bus: RabbitMQTransport, matches: (topic: string) => boolean): Promise<RabbitMQBindingListing[]> {
  const { managementUrl, url, exchange } = bus.options;
  if (!managementUrl) throw new ConfigError('RabbitMQ lists queues only through its management API: add --management URL (e.g. http://127.0.0.1:15672; guest/guest unless the URL names a user)');
  const [bindings, queues] = await Promise.all([
    managementGet<Array<{ destination: string; destination_type: string; routing_key: string }>>(managementUrl, url, `exchanges/{vhost}/${encodeURIComponent(exchange)}/bindings/source`),
    managementGet<Array<{ name: string; messages_ready?: number; messages_unacknowledged?: number; consumers?: number }>>(managementUrl, url, 'queues/{vhost}'),
  ]);
  const depth = new Map(queues.map((q) => [q.name, q]));
  return bindings
    .filter((b) => b.destination_type === 'queue' && matches(topicOf(b.routing_key)))
    .map((b) => {
      const q = depth.get(b.destination);
      return { topic: topicOf(b.routing_key), queue: b.destination, ready: q?.messages_ready ?? 0, unacked: q?.messages_unacknowledged ?? 0, consumers: q?.consumers ?? 0 };
    })
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.queue.localeCompare(b.queue));
}
