import { Admin, ListOffsetTimestamps } from '@platformatic/kafka';
import { isPattern, topicMatcher } from '../../core/topic.ts';
import { toKafkaError } from './errors.ts';
import { baseClientOptions, resolveKafkaOptions, type KafkaOptions } from './options.ts';

/** One partition's consumer lag: how far the group's committed offset trails the high watermark. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** The group's committed offset (next to read), or -1n when the group never committed here. */
  committed: bigint;
  /** Offset the next produced record will get. */
  highWatermark: bigint;
  /** `highWatermark - committed`; the whole partition (`highWatermark - logStart`) when never committed. */
  lag: bigint;
}

/** Where to read lag from: a connected transport's admin client, or connection options. */
export type LagSource = { admin: Admin } | Pick<KafkaOptions, 'brokers' | 'clientId' | 'ssl' | 'sasl'>;

/**
 * Consumer lag per partition for a group: committed offset (OffsetFetch) against the high watermark
 * (ListOffsets), for topics or patterns (`orders.*`: the topics that match now). For lag monitoring
 * and alerts (the observability layer polls this).
 *
 * @example
 * ```ts
 * import { kafkaLag } from 'switchyard/kafka';
 * const lag = await kafkaLag({ brokers: ['127.0.0.1:9092'] }, 'billing', ['orders.placed']);
 * const total = lag.reduce((sum, p) => sum + p.lag, 0n);
 * ```
 */
export async function kafkaLag(source: LagSource, group: string, topics: readonly string[]): Promise<PartitionLag[]> {
  const own = 'admin' in source ? undefined : new Admin(baseClientOptions(resolveKafkaOptions(source), 'lag'));
  const admin = 'admin' in source ? source.admin : own!;
  try {
    // Patterns (`orders.*`) stand for the topics that match them now.
    const patterns = topics.filter(isPattern).map(topicMatcher);
    if (patterns.length > 0) {
      const listed = await admin.listTopics();
      topics = [...new Set([...topics.filter((t) => !isPattern(t)), ...listed.filter((t) => patterns.some((matches) => matches(t)))])];
    }
    const metadata = await admin.metadata({ topics: [...topics] });
    const partitionsOf = (name: string): number[] => Array.from({ length: metadata.topics.get(name)?.partitionsCount ?? 0 }, (_, i) => i);
    const request = (timestamp: bigint) => topics.map((name) => ({ name, partitions: partitionsOf(name).map((partitionIndex) => ({ partitionIndex, timestamp })) }));
    const [committedGroups, ends, starts] = await Promise.all([
      admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: topics.map((name) => ({ name, partitionIndexes: partitionsOf(name) })) }] }),
      admin.listOffsets({ topics: request(ListOffsetTimestamps.LATEST) }),
      admin.listOffsets({ topics: request(ListOffsetTimestamps.EARLIEST) }),
    ]);
    const committed = new Map<string, bigint>();
    for (const g of committedGroups) for (const t of g.topics) for (const p of t.partitions) committed.set(`${t.name}:${p.partitionIndex}`, p.committedOffset);
    const start = new Map<string, bigint>();
    for (const t of starts) for (const p of t.partitions) start.set(`${t.name}:${p.partitionIndex}`, p.offset);
    const out: PartitionLag[] = [];
    for (const t of ends) {
      for (const p of t.partitions) {
        const key = `${t.name}:${p.partitionIndex}`;
        const c = committed.get(key) ?? -1n;
        const from = c >= 0n ? c : (start.get(key) ?? 0n);
        out.push({ topic: t.name, partition: p.partitionIndex, committed: c, highWatermark: p.offset, lag: p.offset > from ? p.offset - from : 0n });
      }
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  } catch (error) {
    throw toKafkaError(`lag of group "${group}"`, error);
  } finally {
    await own?.close().catch(() => undefined);
  }
}
