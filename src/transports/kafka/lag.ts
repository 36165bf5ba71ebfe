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

/** Settings of {@link kafkaLag}. */
export interface KafkaLagOptions {
  /**
   * Called with the named topics (not patterns) the cluster does not have, sorted, when there are
   * any. They are left out of the result — no topic is no backlog — so without this a mistyped
   * name reads as a group with no lag.
   */
  onMissing?: (topics: string[]) => void;
}

/**
 * Consumer lag per partition for a group: committed offset (OffsetFetch) against the high watermark
 * (ListOffsets), for topics or patterns (`orders.*`: the topics that match now). For lag monitoring
 * and alerts (the observability layer polls this). A named topic the cluster does not have is left
 * out, as a pattern that matches nothing is: the topics that are there are still read, and
 * `onMissing` hears which were not.
 *
 * @example
 * ```ts
 * import { kafkaLag } from 'switchyard/kafka';
 * const lag = await kafkaLag({ brokers: ['127.0.0.1:9092'] }, 'billing', ['orders.placed'], {
 *   onMissing: (topics) => console.warn(`no such topic: ${topics.join(', ')}`),
 * });
 * const total = lag.reduce((sum, p) => sum + p.lag, 0n);
 * ```
 */
export async function kafkaLag(source: LagSource, group: string, topics: readonly string[], options: KafkaLagOptions = {}): Promise<PartitionLag[]> {
  const own = 'admin' in source ? undefined : new Admin(baseClientOptions(resolveKafkaOptions(source), 'lag'));
  const admin = 'admin' in source ? source.admin : own!;
  try {
    // Patterns (`orders.*`) stand for the topics that match them now.
    const named = topics.filter((t) => !isPattern(t));
    const patterns = topics.filter(isPattern).map(topicMatcher);
    const matched = patterns.length > 0 ? (await admin.listTopics()).filter((t) => patterns.some((matches) => matches(t))) : [];
    const { partitions, missing } = await partitionCounts(admin, [...new Set([...named, ...matched])]);
    // A matched topic deleted since the listing is simply no longer matched.
    const missingNamed = missing.filter((t) => named.includes(t));
    if (missingNamed.length > 0) options.onMissing?.(missingNamed.sort());
    const present = [...partitions.keys()];
    if (present.length === 0) return [];
    const partitionsOf = (name: string): number[] => Array.from({ length: partitions.get(name) ?? 0 }, (_, i) => i);
    const request = (timestamp: bigint) => present.map((name) => ({ name, partitions: partitionsOf(name).map((partitionIndex) => ({ partitionIndex, timestamp })) }));
    const [committedGroups, ends, starts] = await Promise.all([
      admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: present.map((name) => ({ name, partitionIndexes: partitionsOf(name) })) }] }),
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

/**
 * Partition counts of the named topics, and those the cluster does not have. The client fails a
 * whole Metadata request for one unknown topic (naming only the first), after retrying it for
 * seconds as if it were a leader election: so the request is made once without retries, and when
 * it meets an unknown topic the cluster's topic list tells which are there.
 */
async function partitionCounts(admin: Admin, topics: readonly string[]): Promise<{ partitions: Map<string, number>; missing: string[] }> {
  const partitions = new Map<string, number>();
  if (topics.length === 0) return { partitions, missing: [] };
  const counts = async (names: readonly string[], retries?: number): Promise<void> => {
    if (names.length === 0) return;
    const metadata = await admin.metadata({ topics: [...names], ...(retries !== undefined ? { retries } : {}) });
    for (const t of names) partitions.set(t, metadata.topics.get(t)?.partitionsCount ?? 0);
  };
  const unknown = await counts(topics, 0).then(
    () => false,
    (error: unknown) => unknownTopic(error),
  );
  if (!unknown) {
    // All there — or something else failed (a broker moving, a leader election): then ask again
    // with the client's retries.
    if (partitions.size < topics.length) await counts(topics);
    return { partitions, missing: [] };
  }
  const there = new Set(await admin.listTopics({ includeInternals: true }));
  await counts(topics.filter((t) => there.has(t)));
  return { partitions, missing: topics.filter((t) => !there.has(t)) };
}

/** The client's error for a Metadata answer with UNKNOWN_TOPIC_OR_PARTITION ("Unknown topic <name>."). */
function unknownTopic(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return e?.code === 'PLT_KFK_USER' && typeof e.message === 'string' && e.message.startsWith('Unknown topic ');
}
