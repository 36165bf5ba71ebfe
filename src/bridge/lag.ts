import type { Transport } from '../core/transport.ts';
import type { LagReading, LagSource } from '../observability/lag.ts';
import type { KafkaTransport } from '../transports/kafka/transport.ts';
import type { MemoryTransport } from '../transports/memory/transport.ts';
import type { NatsTransport } from '../transports/nats/transport.ts';
import type { RabbitMQTransport } from '../transports/rabbitmq/transport.ts';
import type { EmbeddedTransport } from '../transports/embedded/transport.ts';

/** What a lag source needs to know about a route: where it reads, as which group. */
export interface RouteSource {
  name: string;
  from: Transport;
  topic: string;
  group: string;
}

/**
 * One lag source per route (named `bridge:<route>`), reading its consumer group on its source
 * transport with the observability layer's sources: embedded and memory end-minus-committed,
 * Kafka committed offsets against high watermarks, RabbitMQ queue depth, JetStream pending.
 * Loads `switchyard/observability` (prom-client, @opentelemetry/api) on first use.
 *
 * @example
 * ```ts
 * const monitor = lagMonitor({ sources: await routeLagSources(routes), high: { messages: 10_000 } }).start();
 * ```
 */
export async function routeLagSources(routes: readonly RouteSource[]): Promise<LagSource[]> {
  const sources = await import('../observability/lag-sources.ts');
  const { unwrap } = await import('../observability/instrument.ts');
  return routes.map((r): LagSource => {
    const t = unwrap(r.from);
    const only = { groups: [r.group] };
    let inner: LagSource;
    switch (t.name) {
      case 'memory':
        inner = sources.memoryLagSource(t as MemoryTransport, only);
        break;
      case 'embedded':
        inner = sources.embeddedLagSource(t as EmbeddedTransport, only);
        break;
      case 'rabbitmq':
        inner = sources.rabbitmqLagSource(t as RabbitMQTransport, [{ topic: r.topic, group: r.group }]);
        break;
      case 'nats':
        inner = sources.natsLagSource(t as NatsTransport, [{ topic: r.topic, group: r.group }]);
        break;
      case 'kafka': {
        const k = t as KafkaTransport;
        // The transport's own admin client once connected; until then a short-lived one.
        inner = {
          name: 'kafka',
          read: () => {
            const admin = k.clients.admin;
            const connection = admin ? { admin } : { brokers: k.config.brokers, clientId: k.config.clientId, ...(k.config.ssl ? { ssl: k.config.ssl } : {}), ...(k.config.sasl ? { sasl: k.config.sasl } : {}) };
            return sources.kafkaLagSource(connection, r.group, [r.topic]).read();
          },
        };
        break;
      }
      default:
        inner = { name: t.name, read: async (): Promise<LagReading[]> => [] }; // a custom transport: lag unknown
    }
    return { name: `bridge:${r.name}`, read: () => inner.read() };
  });
}
