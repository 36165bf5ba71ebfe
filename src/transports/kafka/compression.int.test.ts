import { execFile } from 'node:child_process';
import { compressionsAlgorithms, Consumer } from '@platformatic/kafka';
import { afterAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import type { KafkaCompression } from './options.ts';
import { quickConsumer, testBrokers, uniqueTopic } from './test-cluster.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// Compression round trips against the librdkafka mock cluster (NOT Apache Kafka): Switchyard →
// Switchyard, the batch's codec bits checked on the wire, and kcat (librdkafka) decoding it.

const brokers = testBrokers();
const codecs: KafkaCompression[] = ['gzip', 'snappy', 'lz4', 'zstd'];
const open: KafkaTransport[] = [];
afterAll(async () => {
  for (const t of open) await t.close();
});

const CODEC_BITS: Record<KafkaCompression, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** The compression bits of the first record batch of `topic`/`partition`, read with a raw fetch. */
async function batchCodec(topic: string, partition: number): Promise<number> {
  const consumer = new Consumer({ clientId: 'codec-check', bootstrapBrokers: brokers, groupId: `codec-check-${topic}` });
  try {
    const metadata = await consumer.metadata({ topics: [topic] });
    const t = metadata.topics.get(topic)!;
    const response = await consumer.fetch({
      node: t.partitions[partition]!.leader,
      maxWaitTime: 100,
      topics: [{ topicId: t.id, partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
    });
    const batches = response.responses[0]!.partitions[0]!.records ?? [];
    return batches[0]!.attributes & 0x07;
  } finally {
    await consumer.close(true);
  }
}

function kcatValues(topic: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('kcat', ['-b', brokers.join(','), '-X', 'fetch.wait.max.ms=100', '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n'], { timeout: 30_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.split('\n').filter(Boolean)),
    );
  });
}

describe('Kafka compression (librdkafka mock cluster — not Apache Kafka)', () => {
  for (const codec of codecs) {
    const available = compressionsAlgorithms[codec].available !== false;
    it.skipIf(!available)(`${codec}: round-trips through the broker, is compressed on the wire, and kcat decodes it${available ? '' : ' — skipped: this Node has no zstd in zlib'}`, async () => {
      const topic = uniqueTopic(`codec-${codec}`);
      const t = kafka({ brokers, producer: { compression: codec }, consumer: quickConsumer });
      open.push(t);
      const inbox = new Inbox();
      await t.subscribe(topic, { group: 'codec', from: 'earliest' }, async (m) => inbox.push(m));
      const text = (i: number): string => `${codec} message ${i} — ${'compressible text '.repeat(20)}`;
      await t.publish(topic, Array.from({ length: 200 }, (_, i) => ({ id: `${codec}-${i}`, key: 'one-key', payload: Buffer.from(text(i)), headers: { codec } })));
      await inbox.untilCount(200, 30_000);
      for (const m of inbox.messages) {
        const i = Number(m.id.split('-')[1]);
        expect(Buffer.from(m.payload).toString()).toBe(text(i));
        expect(m.headers).toEqual({ codec });
      }
      expect(await batchCodec(topic, inbox.messages[0]!.partition!)).toBe(CODEC_BITS[codec]);
      const viaKcat = await kcatValues(topic);
      expect(viaKcat).toHaveLength(200);
      expect(viaKcat[0]).toBe(text(0));
    }, 60_000);
  }
});
