import { describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import type { KafkaSubscription } from './consumer.ts';
import { privateCluster } from './private-cluster.test-support.ts';
import { usingMock } from './test-cluster.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// close() when the cluster misbehaves, on a private librdkafka mock cluster (NOT Apache Kafka;
// random ports, killed afterwards): injected errors and silenced brokers never reach other tests.

const cluster = privateCluster();

function transport(producer: { timeoutMs?: number; retries?: number } = {}): KafkaTransport {
  const t = kafka({
    brokers: cluster.brokers,
    connectTimeoutMs: 1_000,
    requestTimeoutMs: 2_000,
    producer,
    consumer: { maxWaitMs: 100, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 15_000 },
  });
  cluster.keep(t);
  return t;
}

/** A subscription that has handled one message (so it has joined, fetched and has something to commit). */
async function consuming(t: KafkaTransport, topic: string): Promise<KafkaSubscription> {
  await cluster.control(`create-topic ${topic} 2 1`);
  const inbox = new Inbox();
  const sub = (await t.subscribe(topic, { group: `${topic}-group`, from: 'earliest' }, async (m) => inbox.push(m))) as KafkaSubscription;
  cluster.keep(sub);
  await t.publish(topic, { key: 'k', payload: Buffer.from('1') });
  await inbox.untilCount(1, 10_000);
  return sub;
}

describe.skipIf(!usingMock())('kafka close() when the cluster misbehaves (private librdkafka mock cluster — not Apache Kafka)', () => {
  it('closes the group member and its connections even when the coordinator refuses LeaveGroup', async () => {
    const t = transport();
    const sub = await consuming(t, 'close-leave-refused');
    const consumer = sub.consumer!;
    // More refusals than the client's retries: its close() then fails and leaves the client open.
    await cluster.control('push-errors LeaveGroup NOT_COORDINATOR 50');
    try {
      await sub.close();
    } finally {
      await cluster.control('clear-errors LeaveGroup');
    }
    expect(consumer.closed).toBe(true);
    expect(consumer.isConnected()).toBe(false);
  }, 30_000);

  it('returns, with the member closed, when the cluster stopped answering (the final commit and leave are bounded by requestTimeoutMs)', async () => {
    const t = transport();
    const sub = await consuming(t, 'close-silent');
    const consumer = sub.consumer!;
    // Every broker holds its answers for an hour: each request the client retries runs into its timeout.
    for (const id of [1, 2, 3]) await cluster.control(`rtt ${id} 3600000`);
    try {
      await sub.close(); // before the fix: ≈ 150 s here (two commits, each retried six times)
    } finally {
      for (const id of [1, 2, 3]) await cluster.control(`rtt ${id} 0`);
    }
    expect(consumer.closed).toBe(true);
    expect(await sub.closed).toBeUndefined();
  }, 30_000);

  it('transport close() returns when the cluster stopped answering with a publish in flight: it waits for sends at most producer.timeoutMs', async () => {
    // With 20 retries of 2 s requests the client would go on for well over a minute.
    const t = transport({ timeoutMs: 3_000, retries: 20 });
    const topic = 'close-silent-publish';
    await cluster.control(`create-topic ${topic} 2 1`);
    await t.publish(topic, { key: 'k', payload: Buffer.from('connected') });
    for (const id of [1, 2, 3]) await cluster.control(`rtt ${id} 3600000`);
    try {
      const publishing = t.publish(topic, { key: 'k', payload: Buffer.from('never answered') });
      const refused = expect(publishing).rejects.toMatchObject({ code: 'TRANSPORT', retryable: true });
      await t.close();
      await refused;
      expect(t.clients.producer?.client.closed).toBe(true);
    } finally {
      for (const id of [1, 2, 3]) await cluster.control(`rtt ${id} 0`);
    }
  }, 30_000);
});
