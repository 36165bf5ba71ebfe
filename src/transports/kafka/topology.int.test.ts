import { afterEach, describe, expect, it } from 'vitest';
import { isConfigError, isTransportError } from '../../core/errors.ts';
import { mockControl, testBrokers, uniqueTopic, usingMock } from './test-cluster.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// Declared topology against the librdkafka mock cluster (NOT Apache Kafka). The mock has no admin
// APIs (CreateTopics, DescribeConfigs): creation and config checks are implemented against the real
// Kafka admin API and cannot be exercised here; partition count and replication are checked from
// metadata, which the mock serves.
const open: KafkaTransport[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

describe.skipIf(!usingMock())('Kafka topology (librdkafka mock cluster — not Apache Kafka)', () => {
  it('accepts an existing topic that matches its declaration, and says what it could not verify', async () => {
    const topic = uniqueTopic('topo-ok');
    await mockControl(`create-topic ${topic} 3 1`);
    const t = kafka({ brokers: testBrokers(), topics: { [topic]: { partitions: 3, replicationFactor: 1, retentionMs: 3_600_000 } } });
    open.push(t);
    await t.connect();
    expect(t.topology?.existing).toEqual([topic]);
    expect(t.topology?.unverified).toEqual([`${topic}: configs (DescribeConfigs unavailable)`]);
  });

  it('rejects connect() with one ConfigError naming every mismatch', async () => {
    const a = uniqueTopic('topo-a');
    const b = uniqueTopic('topo-b');
    await mockControl(`create-topic ${a} 3 1`);
    await mockControl(`create-topic ${b} 2 3`);
    const t = kafka({ brokers: testBrokers(), topics: { [a]: { partitions: 6 }, [b]: { partitions: 2, replicationFactor: 1 } } });
    open.push(t);
    const error = await t.connect().catch((e: unknown) => e);
    expect(isConfigError(error), String(error)).toBe(true);
    const problems = (error as { problems: string[] }).problems;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain(`topic "${a}" has 3 partitions but is declared with 6`);
    expect(problems[1]).toContain(`topic "${b}" has replication factor 3 but is declared with 1`);
  });

  it('reports a missing declared topic it cannot create (the mock has no CreateTopics) as a TransportError naming the topic', async () => {
    const topic = uniqueTopic('topo-missing');
    const t = kafka({ brokers: testBrokers(), topics: { [topic]: { partitions: 4, cleanupPolicy: 'compact' } } });
    open.push(t);
    const error = await t.connect().catch((e: unknown) => e);
    expect(isTransportError(error) || isConfigError(error), String(error)).toBe(true);
    expect(String((error as Error).message)).toContain(`create topic "${topic}"`);
  });
});
