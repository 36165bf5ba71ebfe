import { ConfigError } from '../core/errors.ts';
import type { Transport } from '../core/transport.ts';
import type { TopicInfo } from '../transports/embedded/broker.ts';
import type { LagSource as KafkaConnection } from '../transports/kafka/lag.ts';
import type { MemoryBroker, MemoryTransport } from '../transports/memory/transport.ts';
import type { NatsTransport } from '../transports/nats/transport.ts';
import type { RabbitMQTransport } from '../transports/rabbitmq/transport.ts';
import { unwrap, type InstrumentedTransport } from './instrument.ts';
import type { LagReading, LagSource } from './lag.ts';

/** Which groups a source reports: all (default) or those listed. */
export interface LagFilter {
  /** Only these groups. */
  groups?: readonly string[];
  /** Only these topics. */
  topics?: readonly string[];
}

const keep = (filter: LagFilter | undefined, topic: string, group: string): boolean =>
  (!filter?.groups || filter.groups.includes(group)) && (!filter?.topics || filter.topics.includes(topic));

/** One row of `MemoryBroker.lag()`: the read-only accessor the memory lag source reads. */
export interface MemoryGroupLag {
  topic: string;
  group: string;
  /** Offset the next published message gets. */
  endOffset: number;
  /** The group's committed position: every message before it is acknowledged. */
  committedOffset: number;
  /** `endOffset - committedOffset`. */
  lag: number;
  /** Publish time (ms since epoch) of the oldest unacknowledged message, if any. */
  oldestTimestamp: number | undefined;
}

type MemoryWithLag = MemoryBroker & { lag?: () => MemoryGroupLag[] };

/**
 * Lag of the memory transport's groups: end offset minus committed position per topic and group,
 * and the age of the oldest unacknowledged message. Reads `MemoryBroker.lag()`.
 *
 * @example
 * ```ts
 * const bus = memory();
 * const monitor = lagMonitor({ sources: [memoryLagSource(bus)], high: { messages: 100 } });
 * ```
 */
export function memoryLagSource(bus: MemoryTransport | MemoryBroker | InstrumentedTransport, filter?: LagFilter): LagSource {
  const inner = unwrap(bus as Transport) as unknown as { broker?: MemoryBroker };
  const broker = (inner.broker ?? bus) as MemoryWithLag;
  return {
    name: 'memory',
    async read(): Promise<LagReading[]> {
      if (typeof broker.lag !== 'function') {
        throw new ConfigError('memoryLagSource: this MemoryBroker has no read-only lag() accessor; update switchyard (src/transports/memory) to a version that has it');
      }
      const now = Date.now();
      return broker
        .lag()
        .filter((g) => keep(filter, g.topic, g.group))
        .map((g) => ({
          transport: 'memory',
          topic: g.topic,
          group: g.group,
          messages: g.lag,
          ...(g.oldestTimestamp !== undefined ? { oldestAgeMs: Math.max(0, now - g.oldestTimestamp) } : g.lag === 0 ? { oldestAgeMs: 0 } : {}),
          partitions: [{ partition: 0, messages: g.lag }],
        }));
    },
  };
}

/**
 * Lag of the embedded broker's groups: end offset minus committed offset per partition, read
 * through `inspect()` (locally or from the owning process). The age of the oldest message is not known.
 *
 * @example
 * ```ts
 * const bus = embedded({ dir: './data' });
 * lagMonitor({ sources: [embeddedLagSource(bus)] }).start();
 * ```
 */
export function embeddedLagSource(bus: { readonly name: string; inspect(): Promise<TopicInfo[]> } | InstrumentedTransport, filter?: LagFilter): LagSource {
  const target = unwrap(bus as Transport) as unknown as { inspect(): Promise<TopicInfo[]> };
  return {
    name: 'embedded',
    async read(): Promise<LagReading[]> {
      const out: LagReading[] = [];
      for (const t of await target.inspect()) {
        for (const g of t.groups) {
          if (!keep(filter, t.topic, g.group)) continue;
          out.push({ transport: 'embedded', topic: t.topic, group: g.group, messages: g.lag, partitions: g.partitions.map((p) => ({ partition: p.partition, messages: p.lag })) });
        }
      }
      return out;
    },
  };
}

/** Settings of `kafkaLagSource()`. */
export interface KafkaLagSourceOptions {
  /**
   * The source's name: in `lag.error` events, logs and the lag gauges' `source` label. Sources of
   * one monitor need names of their own, so two for the same group (on two clusters, say) need
   * this. Default `kafka:<group>`.
   */
  name?: string;
  /**
   * Called on every read with the named topics the cluster does not have (sorted), when there
   * are any. They are left out of the readings, as RabbitMQ and NATS leave out a group with no
   * queue or consumer; the topics that are there are still read.
   */
  onMissing?: (topics: string[]) => void;
}

/**
 * Lag of a Kafka consumer group: committed offset against the high watermark per partition
 * (through `kafkaLag` of `switchyard/kafka`, loaded on first read). A named topic the cluster does
 * not have (yet) is left out — no topic is no backlog — rather than failing the whole reading;
 * `onMissing` hears of it.
 *
 * @example
 * ```ts
 * kafkaLagSource({ brokers: ['127.0.0.1:9092'] }, 'billing', ['orders.placed'], { onMissing: (topics) => logger.warn(`no topic ${topics.join(', ')}`) })
 * // The same group on two clusters, in one monitor:
 * lagMonitor({ sources: [kafkaLagSource(eu, 'billing', topics, { name: 'kafka-eu' }), kafkaLagSource(us, 'billing', topics, { name: 'kafka-us' })] })
 * ```
 */
export function kafkaLagSource(connection: KafkaConnection, group: string, topics: readonly string[], options: KafkaLagSourceOptions = {}): LagSource {
  const name = options.name ?? `kafka:${group}`;
  if (typeof name !== 'string' || name === '') throw new ConfigError(`kafkaLagSource: name must be a non-empty string, got ${JSON.stringify(name)}`);
  if (options.onMissing !== undefined && typeof options.onMissing !== 'function') {
    throw new ConfigError(`kafkaLagSource: onMissing must be a function (topics) => void, got ${typeof options.onMissing}`);
  }
  return {
    name,
    async read(): Promise<LagReading[]> {
      const { kafkaLag } = await import('../transports/kafka/lag.ts');
      const parts = await kafkaLag(connection, group, topics, options.onMissing ? { onMissing: options.onMissing } : {});
      const byTopic = new Map<string, LagReading>();
      for (const p of parts) {
        let r = byTopic.get(p.topic);
        if (!r) {
          r = { transport: 'kafka', topic: p.topic, group, messages: 0, partitions: [] };
          byTopic.set(p.topic, r);
        }
        r.messages += Number(p.lag);
        r.partitions!.push({ partition: p.partition, messages: Number(p.lag) });
      }
      return [...byTopic.values()];
    },
  };
}

/**
 * Lag of RabbitMQ groups: their queues' ready plus unacknowledged messages (through `rabbitmqLag`
 * of `switchyard/rabbitmq`, loaded on first read). A group whose queue does not exist (yet) is
 * left out, as on NATS: no queue is no backlog, and a read error every sample would hide real ones.
 *
 * @example
 * ```ts
 * rabbitmqLagSource(bus, [{ topic: 'orders.placed', group: 'billing' }])
 * ```
 */
export function rabbitmqLagSource(bus: RabbitMQTransport | InstrumentedTransport<RabbitMQTransport>, groups: ReadonlyArray<{ topic: string; group: string }>): LagSource {
  const transport = unwrap(bus);
  return {
    name: 'rabbitmq',
    async read(): Promise<LagReading[]> {
      const { rabbitmqLag } = await import('../transports/rabbitmq/lag.ts');
      const readings = await Promise.all(
        groups.map(async ({ topic, group }): Promise<LagReading | undefined> => {
          try {
            const lag = await rabbitmqLag(transport, topic, group);
            return { transport: 'rabbitmq', topic, group, messages: lag.total };
          } catch (error) {
            if (queueMissing(error)) return undefined;
            throw error;
          }
        }),
      );
      return readings.filter((r) => r !== undefined);
    },
  };
}

/**
 * The queue is not there: AMQP's NOT_FOUND to a passive declare (rabbitmq-client's `code` on the
 * cause of Switchyard's error), or the management API's 404 for it.
 */
function queueMissing(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return cause?.code === 'NOT_FOUND' || /management API answered 404 for /.test((error as Error | null)?.message ?? '');
}

/**
 * Lag of NATS JetStream groups: their durable consumers' pending plus ack-pending messages
 * (through `natsLag` of `switchyard/nats`, loaded on first read). Default: the transport's open subscriptions.
 *
 * @example
 * ```ts
 * natsLagSource(bus)
 * ```
 */
export function natsLagSource(bus: NatsTransport | InstrumentedTransport<NatsTransport>, groups?: ReadonlyArray<{ topic: string; group: string }>): LagSource {
  const transport = unwrap(bus);
  return {
    name: 'nats',
    async read(): Promise<LagReading[]> {
      const { natsLag } = await import('../transports/nats/lag.ts');
      return (await natsLag(transport, groups)).map((l) => ({ transport: 'nats', topic: l.topic, group: l.group, messages: l.lag }));
    },
  };
}
