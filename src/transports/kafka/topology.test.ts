import { describe, expect, it } from 'vitest';
import { subscriptionAwareAssigner } from './assignor.ts';
import { topicConfigs, topicMismatches } from './topology.ts';

describe('kafka topology checks', () => {
  it('maps declared options to Kafka topic configs', () => {
    expect(topicConfigs({ cleanupPolicy: 'compact', retentionMs: -1, config: { 'min.insync.replicas': '2' } })).toEqual({
      'min.insync.replicas': '2',
      'cleanup.policy': 'compact',
      'retention.ms': '-1',
    });
  });

  it('names every difference between a declaration and the cluster', () => {
    const problems = topicMismatches('orders', { partitions: 6, replicationFactor: 3, retentionMs: 1000 }, { partitions: 3, replicationFactor: 1, configs: { 'retention.ms': '604800000' } });
    expect(problems).toEqual([
      'topic "orders" has 3 partitions but is declared with 6 (add partitions with kafka-topics --alter, knowing keys will move)',
      'topic "orders" has replication factor 1 but is declared with 3',
      'topic "orders" has retention.ms=604800000 but is declared with retention.ms=1000',
    ]);
    expect(topicMismatches('orders', { partitions: 3 }, { partitions: 3, replicationFactor: 1 })).toEqual([]);
  });
});

describe('subscriptionAwareAssigner', () => {
  it("assigns each topic's partitions only to members subscribed to it", () => {
    const member = (memberId: string, topics: string[]) => [memberId, { memberId, topics, version: 0 }] as const;
    const members = new Map([member('m-2', ['a']), member('m-1', ['a', 'b']), member('m-3', ['b'])]);
    const metadata = { topics: new Map([['a', { partitionsCount: 3 }], ['b', { partitionsCount: 2 }]]) } as never;
    const result = subscriptionAwareAssigner('m-1', members, new Set(['a']), metadata);
    const of = (id: string) => Object.fromEntries([...result.find((r) => r.memberId === id)!.assignments.values()].map((a) => [a.topic, a.partitions]));
    expect(of('m-1')).toEqual({ a: [0, 2], b: [0] });
    expect(of('m-2')).toEqual({ a: [1] });
    expect(of('m-3')).toEqual({ b: [1] });
  });
});
