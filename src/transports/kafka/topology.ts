import { ConfigResourceTypes, type Admin } from '@platformatic/kafka';
import { ConfigError } from '../../core/errors.ts';
import { kafkaErrorIds, toKafkaError } from './errors.ts';
import type { KafkaTopicSpec } from './options.ts';

/** The topic configs a spec asks for, as Kafka names them. */
export function topicConfigs(spec: KafkaTopicSpec): Record<string, string> {
  const configs: Record<string, string> = { ...spec.config };
  if (spec.cleanupPolicy !== undefined) configs['cleanup.policy'] = spec.cleanupPolicy;
  if (spec.retentionMs !== undefined) configs['retention.ms'] = String(spec.retentionMs);
  return configs;
}

/** What declaring topics found: created, already matching, and what could not be verified. */
export interface TopologyReport {
  created: string[];
  existing: string[];
  /** Checks the broker could not answer (for example DescribeConfigs on a broker without it). */
  unverified: string[];
}

/** Problems between a declared topic and what the cluster has; empty when they match. */
export function topicMismatches(
  name: string,
  spec: KafkaTopicSpec,
  actual: { partitions: number; replicationFactor: number; configs?: Record<string, string | null> },
): string[] {
  const problems: string[] = [];
  if (spec.partitions !== undefined && spec.partitions !== actual.partitions) {
    problems.push(
      `topic "${name}" has ${actual.partitions} partitions but is declared with ${spec.partitions}` +
        (spec.partitions > actual.partitions ? ' (add partitions with kafka-topics --alter, knowing keys will move)' : ' (Kafka cannot remove partitions)'),
    );
  }
  if (spec.replicationFactor !== undefined && spec.replicationFactor !== actual.replicationFactor) {
    problems.push(`topic "${name}" has replication factor ${actual.replicationFactor} but is declared with ${spec.replicationFactor}`);
  }
  if (actual.configs) {
    for (const [key, want] of Object.entries(topicConfigs(spec))) {
      const have = actual.configs[key];
      if (have !== want) problems.push(`topic "${name}" has ${key}=${have ?? '(unset)'} but is declared with ${key}=${want}`);
    }
  }
  return problems;
}

/**
 * Creates declared topics that are missing (CreateTopics) and checks the others: partition count
 * and replication factor from metadata, configs with DescribeConfigs. Every mismatch is reported in
 * one ConfigError. Brokers without the admin APIs (the librdkafka mock) leave configs unverified.
 */
export async function declareTopics(admin: Admin, specs: Record<string, KafkaTopicSpec>): Promise<TopologyReport> {
  const report: TopologyReport = { created: [], existing: [], unverified: [] };
  const names = Object.keys(specs);
  if (names.length === 0) return report;
  let existing: Set<string>;
  try {
    existing = new Set(await admin.listTopics());
  } catch (error) {
    throw toKafkaError('declare topics: list topics', error);
  }
  const missing = names.filter((n) => !existing.has(n));
  for (const name of missing) {
    const spec = specs[name]!;
    try {
      await admin.createTopics({
        topics: [name],
        partitions: spec.partitions ?? -1,
        replicas: spec.replicationFactor ?? -1,
        configs: Object.entries(topicConfigs(spec)).map(([n, value]) => ({ name: n, value })),
      });
      report.created.push(name);
    } catch (error) {
      if (kafkaErrorIds(error).includes('TOPIC_ALREADY_EXISTS')) continue; // created meanwhile: check it below
      throw toKafkaError(`create topic "${name}"`, error);
    }
  }
  const check = names.filter((n) => !report.created.includes(n));
  if (check.length === 0) return report;
  const metadata = await admin.metadata({ topics: check, forceUpdate: true }).catch((error: unknown) => {
    throw toKafkaError('declare topics: metadata', error);
  });
  let configs: Map<string, Record<string, string | null>> | undefined;
  try {
    const described = await admin.describeConfigs({
      resources: check.map((resourceName) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName })),
    });
    configs = new Map(described.map((d) => [d.resourceName, Object.fromEntries(d.configs.map((c) => [c.name, c.value ?? null]))]));
  } catch {
    for (const name of check) if (Object.keys(topicConfigs(specs[name]!)).length > 0) report.unverified.push(`${name}: configs (DescribeConfigs unavailable)`);
  }
  const problems: string[] = [];
  for (const name of check) {
    const t = metadata.topics.get(name);
    if (!t) continue;
    problems.push(
      ...topicMismatches(name, specs[name]!, {
        partitions: t.partitionsCount,
        replicationFactor: t.partitions[0]?.replicas.length ?? 0,
        ...(configs?.get(name) ? { configs: configs.get(name)! } : {}),
      }),
    );
    report.existing.push(name);
  }
  ConfigError.throwIfAny(problems);
  return report;
}
