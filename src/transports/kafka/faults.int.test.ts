import { describe, expect, it } from 'vitest';
import { isTransportError } from '../../core/errors.ts';
import type { Message, OutgoingMessage } from '../../core/message.ts';
import { Inbox } from '../../testing/inbox.ts';
import { privateCluster } from './private-cluster.test-support.ts';
import { usingMock } from './test-cluster.ts';
import { kafkaLag } from './lag.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// Fault injection on a private librdkafka mock cluster (NOT Apache Kafka; random ports, killed
// afterwards), so taking a broker down never disturbs anyone else's tests.

const hold = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const cluster = privateCluster();

function transport(): KafkaTransport {
  const t = kafka({
    brokers: cluster.brokers,
    connectTimeoutMs: 1_000,
    requestTimeoutMs: 3_000,
    producer: { timeoutMs: 3_000, retries: 3, retryBackoffMs: 100 },
    consumer: { maxWaitMs: 100, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 15_000, drainTimeoutMs: 5_000 },
  });
  cluster.keep(t);
  return t;
}

/** Publishes `count` messages in batches, re-publishing a batch that failed; reports what failed when. */
async function publishAll(t: KafkaTransport, topic: string, count: number, onBatch: (sent: number) => Promise<void>) {
  const failures: Array<{ at: number; error: unknown }> = [];
  for (let sent = 0; sent < count; sent += 100) {
    const batch: OutgoingMessage[] = Array.from({ length: 100 }, (_, i) => ({ id: `f-${sent + i}`, key: `k-${(sent + i) % 50}`, payload: Buffer.from(String(sent + i)) }));
    for (;;) {
      try {
        await t.publish(topic, batch);
        break;
      } catch (error) {
        failures.push({ at: Date.now(), error });
        await hold(250);
      }
    }
    await onBatch(sent + 100);
  }
  return failures;
}

/** Distinct ids; records delivered twice (same partition/offset) and ids written twice (the test re-published a failed batch). */
function tally(inbox: Inbox): { distinct: number; duplicates: string } {
  const distinct = inbox.ids().size;
  const records = new Set(inbox.messages.map((m) => `${m.partition}:${m.offset}`)).size;
  return { distinct, duplicates: `${inbox.messages.length - distinct} duplicates (${inbox.messages.length - records} redelivered records, ${records - distinct} re-published by the test after a rejected publish)` };
}

describe.skipIf(!usingMock())('Kafka faults (private librdkafka mock cluster — not Apache Kafka)', () => {
  it('a broker down for 10 s in the middle of 10,000 messages: publishes fail fast with TransportError, everything arrives after it is back', async () => {
    const topic = `faults.down.${Date.now()}`;
    await cluster.control(`create-topic ${topic} 3 1`);
    await cluster.control('coordinator group down 1');
    const t = transport();
    const inbox = new Inbox();
    cluster.keep(await t.subscribe(topic, { group: 'down', concurrency: 8, from: 'earliest' }, async (m: Message) => inbox.push(m)));
    let downAt = 0;
    const failures = await publishAll(t, topic, 10_000, async (sent) => {
      if (sent === 3_000) {
        await inbox.untilCount(2_500, 30_000);
        await cluster.control('broker-down 2');
        downAt = Date.now();
        void hold(10_000).then(() => cluster.control('broker-up 2'));
      }
    });
    await inbox
      .until(() => inbox.ids().size >= 10_000, 40_000, () => `all 10,000 after the broker came back (got ${inbox.ids().size})`)
      .catch(async (error: unknown) => {
        const lag = await kafkaLag({ brokers: cluster.brokers }, 'down', [topic]).catch(() => []);
        const ids = inbox.ids();
        const missing = Array.from({ length: 10_000 }, (_, i) => `f-${i}`).filter((id) => !ids.has(id));
        throw new Error(`${String(error)}; lag ${JSON.stringify(lag, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}; missing ${missing.length}: ${missing.slice(0, 10).join(',')}`);
      });
    const { distinct, duplicates } = tally(inbox);
    const firstFailure = failures[0];
    console.log(
      `[faults] broker 2 down 10 s mid-stream: ${failures.length} publish attempts rejected (first after ${firstFailure ? firstFailure.at - downAt : '-'} ms, ` +
        `all TransportError: ${failures.every((f) => isTransportError(f.error))}), consumed ${distinct} distinct, ${duplicates}  [private librdkafka mock cluster, not Apache Kafka]`,
    );
    expect(distinct).toBe(10_000);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((f) => isTransportError(f.error))).toBe(true);
    // Detected within the configured publish timeout (3 s) plus retries' backoff, not hung.
    expect(firstFailure!.at - downAt).toBeLessThan(3_000 + 2_000);
  }, 60_000);

  it('added latency and injected broker errors in the middle of 10,000 messages: a slow broker times out publishes, nothing is lost', async () => {
    const topic = `faults.slow.${Date.now()}`;
    await cluster.control(`create-topic ${topic} 3 1`);
    await cluster.control('coordinator group slow 1');
    const t = transport();
    const inbox = new Inbox();
    cluster.keep(await t.subscribe(topic, { group: 'slow', concurrency: 8, from: 'earliest' }, async (m: Message) => inbox.push(m)));
    let slowAt = 0;
    const failures = await publishAll(t, topic, 10_000, async (sent) => {
      if (sent === 2_000) {
        await cluster.control('push-errors Produce NOT_LEADER_FOR_PARTITION 3');
        await cluster.control('push-errors OffsetCommit COORDINATOR_NOT_AVAILABLE 2');
        await cluster.control('push-errors Fetch NOT_LEADER_FOR_PARTITION 2');
      }
      if (sent === 4_000) {
        await cluster.control('rtt 3 5000'); // beyond the 3 s request/publish timeout
        slowAt = Date.now();
        void hold(6_000).then(() => cluster.control('rtt 3 0'));
      }
      if (sent === 6_000) await cluster.control('rtt 1 200'); // slow but within the timeouts
      if (sent === 8_000) await cluster.control('rtt 1 0');
    });
    await inbox.until(() => inbox.ids().size >= 10_000, 40_000, () => `all 10,000 (got ${inbox.ids().size})`);
    const { distinct, duplicates } = tally(inbox);
    const slowFailures = failures.filter((f) => f.at >= slowAt);
    console.log(
      `[faults] injected Produce/Fetch/OffsetCommit errors, 5 s latency on broker 3 for 6 s, 200 ms on broker 1: ${failures.length} publish attempts rejected ` +
        `(first ${slowFailures[0] ? slowFailures[0].at - slowAt : '-'} ms after the latency began), consumed ${distinct} distinct, ${duplicates}  [private librdkafka mock cluster, not Apache Kafka]`,
    );
    expect(distinct).toBe(10_000);
    expect(slowFailures.length).toBeGreaterThan(0);
    expect(slowFailures.every((f) => isTransportError(f.error))).toBe(true);
    expect(slowFailures[0]!.at - slowAt).toBeLessThan(3_000 + 2_000);
  }, 60_000);

  it('a broker that cannot write its log (KAFKA_STORAGE_ERROR, a full disk) fails the publish with what it means, and nothing is lost once it can again', async () => {
    const topic = `faults.storage.${Date.now()}`;
    await cluster.control(`create-topic ${topic} 1 1`);
    const t = transport();
    const inbox = new Inbox();
    cluster.keep(await t.subscribe(topic, { group: 'storage', from: 'earliest' }, async (m: Message) => inbox.push(m)));
    await t.publish(topic, [{ id: 'before', payload: Buffer.from('1') }]);
    // More errors than the producer's retries: the disk stays full for the whole publish.
    await cluster.control('push-errors Produce KAFKA_STORAGE_ERROR 20');
    const refused = await t.publish(topic, [{ id: 'during', payload: Buffer.from('2') }]).then(
      () => 'published',
      (error: unknown) => error,
    );
    await cluster.control('clear-errors Produce');
    expect(isTransportError(refused)).toBe(true);
    expect((refused as Error).message).toMatch(/KAFKA_STORAGE_ERROR.*could not write to the partition's log directory \(a full or failed disk on the broker/);
    await t.publish(topic, [{ id: 'after', payload: Buffer.from('3') }]);
    await inbox.until(() => inbox.ids().has('before') && inbox.ids().has('after'), 20_000, () => `before and after (got ${[...inbox.ids()].join(', ')})`);
    expect(inbox.ids().has('during')).toBe(false); // the broker refused it: not stored
  }, 60_000);
});
