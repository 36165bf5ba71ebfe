import { ListOffsetTimestamps } from '@platformatic/kafka';
import { kafkaLag, type KafkaTransport } from '../../transports/kafka/index.ts';
import { toKafkaError } from '../../transports/kafka/errors.ts';

/** One Kafka topic as `switchyard topics` shows it. */
export interface KafkaTopicListing {
  topic: string;
  partitions: Array<{ partition: number; startOffset: number; endOffset: number }>;
  /** Messages the topic holds now: end minus start offset, summed over partitions. */
  messages: number;
  /** Groups with committed offsets on the topic, and how far they trail. */
  groups: Array<{ group: string; lag: number; committed: Array<{ partition: number; committed: number }> }>;
}

/**
 * The topics of a Kafka cluster that `matches` accepts (internal ones left out), with partitions,
 * offsets and each group's lag. `groupsNote` says why groups are missing when the cluster does not
 * list them (the librdkafka mock cluster has no ListGroups API).
 */
export async function listKafkaTopics(bus: KafkaTransport, matches: (topic: string) => boolean): Promise<{ topics: KafkaTopicListing[]; groupsNote?: string }> {
  await bus.connect();
  const admin = bus.clients.admin!;
  const names = (await admin.listTopics()).filter((name) => !name.startsWith('__') && matches(name)).sort();
  if (names.length === 0) return { topics: [] };
  const metadata = await admin.metadata({ topics: names });
  const partitionsOf = (name: string): number[] => Array.from({ length: metadata.topics.get(name)?.partitionsCount ?? 0 }, (_, i) => i);
  const request = (timestamp: bigint) => names.map((name) => ({ name, partitions: partitionsOf(name).map((partitionIndex) => ({ partitionIndex, timestamp })) }));
  const [starts, ends] = await Promise.all([admin.listOffsets({ topics: request(ListOffsetTimestamps.EARLIEST) }), admin.listOffsets({ topics: request(ListOffsetTimestamps.LATEST) })]);
  const start = new Map(starts.flatMap((t) => t.partitions.map((p) => [`${t.name}:${p.partitionIndex}`, Number(p.offset)] as const)));
  const topics = new Map<string, KafkaTopicListing>();
  for (const t of ends) {
    const partitions = t.partitions
      .map((p) => ({ partition: p.partitionIndex, startOffset: start.get(`${t.name}:${p.partitionIndex}`) ?? 0, endOffset: Number(p.offset) }))
      .sort((a, b) => a.partition - b.partition);
    topics.set(t.name, { topic: t.name, partitions, messages: partitions.reduce((n, p) => n + p.endOffset - p.startOffset, 0), groups: [] });
  }
  let groups: string[];
  try {
    groups = [...(await admin.listGroups()).keys()].sort();
  } catch (error) {
    return { topics: [...topics.values()], groupsNote: `groups not shown: ${toKafkaError('list groups', error).message}` };
  }
  for (const group of groups) {
    const byTopic = Map.groupBy(await kafkaLag({ admin }, group, names), (p) => p.topic);
    for (const [name, parts] of byTopic) {
      if (!parts.some((p) => p.committed >= 0n)) continue; // the group never read this topic
      const committed = parts.map((p) => ({ partition: p.partition, committed: Number(p.committed) }));
      topics.get(name)?.groups.push({ group, lag: Number(parts.reduce((n, p) => n + p.lag, 0n)), committed });
    }
  }
  return { topics: [...topics.values()] };
}
