import { randomBytes } from 'node:crypto';
import { Consumer, Producer, ProduceAcks } from '@platformatic/kafka';
import { kafka, type KafkaTransport } from '../../transports/kafka/index.ts';
import { newMessageId } from '../../core/id.ts';
import { MESSAGE_ID_HEADER } from '../../transports/kafka/mapping.ts';
import { javaCompatiblePartitioner } from '../../transports/kafka/producer.ts';
import { testBrokers, usingMock } from '../../transports/kafka/test-cluster.ts';
import { dropKafkaTopics } from '../cleanup.ts';
import { timed } from '../stats.ts';
import { SkipScenario, type Sample, type Scenario } from '../types.ts';
import { fixedRateLatency, transportLatency, type FixedRateOptions } from '../workloads.ts';

/**
 * Kafka: the adapter against the raw @platformatic/kafka client it wraps, same cluster, same run,
 * interleaved rounds.
 *
 * Produce: batches of 1,000 × 256 B with acks=all and idempotence on both sides. Both sides start
 * every batch from the same application input (string keys, payloads) and send new messages: the
 * adapter validates them and gives each a fresh id; the raw client gets the records the adapter
 * writes — encoded key, value, a fresh `x-message-id` header — built per batch, as an application
 * sending new messages with it must. (The raw side used to re-send one batch built before the
 * timer: the same ids every time, and per-message work the adapter cannot skip was left out on
 * that side only.)
 *
 * Consume: a fresh group reads N pre-produced records. The adapter runs a handler per message (id,
 * key and headers decoded to strings, per-key order at concurrency 16) and commits after success;
 * the raw client only counts records — it neither decodes nor commits — so that contract work is
 * part of the gap. A second, informative case gives the raw client at-least-once its own way:
 * `message.commit()` for each record once "handled" (the library merges concurrent commits of a
 * partition into one request in flight).
 *
 * Latency: 256 B records at a fixed rate, produced one tick's worth per call, read by a fresh
 * group; same consumer fetch wait on both sides.
 *
 * Default cluster: the librdkafka mock (NOT Apache Kafka) — `SWITCHYARD_KAFKA_BROKERS` points it at a real one.
 * Every row then says so, so that a figure copied out of the table keeps it.
 *
 * Every round writes a topic of its own and deletes it afterwards: the mock keeps topics in memory,
 * and a full run writes hundreds of MB.
 */

const BATCH = 1_000;
const ID_HEADER = Buffer.from(MESSAGE_ID_HEADER);
let run = 0;
const topicName = (what: string): string => `bench.kafka.${what}.${process.pid}.${Date.now().toString(36)}.${++run}`;

/** What every row's name ends with on the librdkafka mock, whose figures say nothing about Apache Kafka. */
export const MOCK_LABEL = ' — librdkafka mock cluster, not Apache Kafka';

/** Deletes `topic`, once the clients that used it are closed. */
const dropTopic = (brokers: string[], topic: string): Promise<void> => dropKafkaTopics(brokers, (t) => t === topic);

async function reachable(brokers: string[]): Promise<void> {
  const probe = new Producer({ clientId: 'bench-probe', bootstrapBrokers: brokers, retries: 0, connectTimeout: 1_000, timeout: 2_000 });
  try {
    await probe.metadata({ topics: [] });
  } catch (error) {
    throw new SkipScenario(`no Kafka reachable at ${brokers.join(',')} (${(error as Error).message}); start one with: bash scripts/services.sh kafka`);
  } finally {
    await probe.close().catch(() => undefined);
  }
}

function rawProducer(brokers: string[]): Producer<Buffer, Buffer, Buffer, Buffer> {
  return new Producer({
    clientId: 'bench-raw',
    bootstrapBrokers: brokers,
    acks: ProduceAcks.ALL,
    idempotent: true,
    producerId: -1n,
    producerEpoch: -1,
    autocreateTopics: true,
    partitioner: javaCompatiblePartitioner(),
  });
}

/** Fills a topic with `count` records of `payload` (raw client), for the consume cases. */
async function fill(brokers: string[], topic: string, count: number, payload: Buffer): Promise<void> {
  const p = rawProducer(brokers);
  try {
    for (let i = 0; i < count; i += BATCH) {
      await p.send({ messages: Array.from({ length: Math.min(BATCH, count - i) }, (_, j) => ({ topic, key: Buffer.from(`k${(i + j) % 64}`), value: payload })) });
    }
  } finally {
    await p.close();
  }
}

/** The raw client at a fixed rate: a producer and a consumer of a fresh group on a fresh topic. */
function rawLatency(brokers: string[], fixed: FixedRateOptions): Promise<Sample> {
  return fixedRateLatency(async (received) => {
    const topic = topicName('latency-raw');
    const p = rawProducer(brokers);
    await p.metadata({ topics: [topic], autocreateTopics: true });
    const c = new Consumer({ clientId: 'bench-raw', bootstrapBrokers: brokers, groupId: `bench-raw-${++run}`, maxWaitTime: 100, autocommit: false, sessionTimeout: 10_000, heartbeatInterval: 500 });
    const stream = await c.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 100 });
    stream.on('data', (m) => received(m.value));
    return {
      send: async (payloads) => {
        await p.send({ messages: payloads.map((value) => ({ topic, value, headers: new Map([[ID_HEADER, Buffer.from(newMessageId())]]) })) });
      },
      close: async () => {
        await stream.close();
        await c.close(true).catch(() => undefined);
        await p.close();
        await dropTopic(brokers, topic);
      },
    };
  }, fixed);
}

export const kafkaScenario: Scenario = {
  name: 'kafka',
  title: `Kafka: adapter vs raw @platformatic/kafka, 256 B${usingMock() ? ' (librdkafka mock cluster — not Apache Kafka)' : ''}`,
  async cases(ctx) {
    const brokers = testBrokers();
    await reachable(brokers);
    const count = ctx.quick ? 20_000 : 100_000;
    const payload = randomBytes(256);
    const consumer = { maxWaitMs: 100, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, maxBufferedMessages: 2_000 };
    const fresh = async (): Promise<KafkaTransport> => {
      const t = kafka({ brokers, consumer });
      await t.connect();
      return t;
    };
    const consumeTopic = topicName('consume');
    ctx.log(`filling ${consumeTopic} with ${count} records`);
    await fill(brokers, consumeTopic, count, payload).catch(async (error: unknown) => {
      await dropTopic(brokers, consumeTopic);
      throw error;
    });
    const onMock = usingMock() ? MOCK_LABEL : '';
    const records = Array.from({ length: BATCH }, (_, i) => ({ key: `k${i % 64}`, payload }));
    // A consume round takes well under a second and the raw side's rounds spread by up to 2× within
    // a run (fetch timing on the mock): more interleaved rounds steady the medians.
    const consumeRounds = ctx.quick ? 5 : 15;
    const fixed: FixedRateOptions = { rate: 2_000, seconds: ctx.quick ? 1 : 5, size: 256 };

    /** The adapter: a handler per message at concurrency 16, commits after success. */
    const oursConsume = async (): Promise<Sample> => {
      const t = await fresh();
      let received = 0;
      const { promise: done, resolve } = Promise.withResolvers<void>();
      try {
        return await timed(async () => {
          await t.subscribe(consumeTopic, { group: `bench-${++run}`, from: 'earliest', concurrency: 16 }, async () => {
            if (++received === count) resolve();
          });
          await done;
          return count;
        });
      } finally {
        await t.close();
      }
    };
    /** The raw client counting records; with `commit`, committing each one as the library documents for manual commits. */
    const rawConsume = async (commit: boolean): Promise<Sample> => {
      const c = new Consumer({ clientId: 'bench-raw', bootstrapBrokers: brokers, groupId: `bench-raw-${++run}`, maxWaitTime: 100, autocommit: false, sessionTimeout: 10_000, heartbeatInterval: 500 });
      try {
        return await timed(async () => {
          const stream = await c.consume({ topics: [consumeTopic], mode: 'earliest', autocommit: false, maxWaitTime: 100 });
          let received = 0;
          await new Promise<void>((resolve, reject) => {
            stream.on('data', (record) => {
              if (commit) Promise.resolve(record.commit()).catch(reject);
              if (++received === count) resolve();
            });
          });
          await stream.close();
          return count;
        });
      } finally {
        await c.close(true).catch(() => undefined);
      }
    };

    return [
      {
        name: `produce, batches of ${BATCH}, acks=all, idempotent${onMock}`,
        unit: 'msgs/s',
        target: { ratio: 0.9, label: '≥ 0.9× raw @platformatic/kafka' },
        ours: {
          name: 'switchyard kafka',
          run: async (): Promise<Sample> => {
            const t = await fresh();
            const topic = topicName('produce');
            try {
              await t.publish(topic, records.slice(0, 1)); // topic created, producer id assigned
              return await timed(async () => {
                for (let sent = 0; sent < count; sent += BATCH) await t.publish(topic, records);
                return count;
              });
            } finally {
              await t.close();
              await dropTopic(brokers, topic);
            }
          },
        },
        baseline: {
          name: '@platformatic/kafka',
          run: async (): Promise<Sample> => {
            const p = rawProducer(brokers);
            const topic = topicName('produce-raw');
            // The same records the adapter writes — key, value and a fresh x-message-id header per
            // message — built from the same input for every batch.
            const batch = (): Array<{ topic: string; key: Buffer; value: Buffer; headers: Map<Buffer, Buffer> }> =>
              records.map((r) => ({ topic, key: Buffer.from(r.key), value: r.payload, headers: new Map([[ID_HEADER, Buffer.from(newMessageId())]]) }));
            try {
              await p.send({ messages: batch().slice(0, 1) });
              return await timed(async () => {
                for (let sent = 0; sent < count; sent += BATCH) await p.send({ messages: batch() });
                return count;
              });
            } finally {
              await p.close();
              await dropTopic(brokers, topic);
            }
          },
        },
      },
      {
        name: `consume (fresh group, from earliest), concurrency 16${onMock}`,
        unit: 'msgs/s',
        rounds: consumeRounds,
        target: { ratio: 0.9, label: '≥ 0.9× raw @platformatic/kafka' },
        ours: { name: 'switchyard kafka', run: oursConsume },
        baseline: { name: '@platformatic/kafka', run: () => rawConsume(false) },
      },
      {
        name: `consume (fresh group, from earliest), committing each message after it was handled${onMock}`,
        unit: 'msgs/s',
        rounds: consumeRounds,
        note: 'informative: the raw client given the at-least-once contract its own way, message.commit() per message',
        ours: { name: 'switchyard kafka', run: oursConsume },
        baseline: { name: '@platformatic/kafka, message.commit()', run: () => rawConsume(true) },
        // The last case reading the filled topic.
        close: () => dropTopic(brokers, consumeTopic),
      },
      {
        name: `end to end at ${fixed.rate.toLocaleString('en-US')} msgs/s, ${fixed.size} B, fresh group${onMock}`,
        unit: 'msgs/s',
        ratioOf: 'p99',
        ours: {
          name: 'switchyard kafka',
          run: async (): Promise<Sample> => {
            const t = await fresh();
            const prefix = topicName('latency'); // transportLatency adds a suffix of its own
            try {
              return await transportLatency(t, prefix, fixed, 16);
            } finally {
              await t.close();
              await dropKafkaTopics(brokers, (topic) => topic.startsWith(`${prefix}.`));
            }
          },
        },
        baseline: { name: '@platformatic/kafka', run: () => rawLatency(brokers, fixed) },
      },
    ];
  },
};
