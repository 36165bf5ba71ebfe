import { createRecordsBatch, type MessageRecord, type MessageToProduce } from '@platformatic/kafka';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { mockControl, quickConsumer, testBrokers, uniqueTopic, usingMock } from './test-cluster.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// Against the shared librdkafka mock cluster (NOT Apache Kafka), which does not enforce
// message.max.bytes: it stores any batch, so the test measures what the producer sends, encoded as
// the client encodes it, against the limit the transport was told (maxRecordBytes). Kafka refuses a
// larger batch whole, failing every publish merged into it.

const open: KafkaTransport[] = [];
afterAll(async () => {
  for (const t of open.splice(0)) await t.close();
});

describe.skipIf(!usingMock())("Kafka producer: publishes merged for one partition, with the brokers' limit lowered", () => {
  it('go in record batches within maxRecordBytes, and all arrive in order', async () => {
    // A cluster whose message.max.bytes is 300,000, told to the transport; batchMaxBytes not given.
    const t = kafka({ brokers: testBrokers(), maxPayloadBytes: 100_000, maxRecordBytes: 300_000, consumer: quickConsumer });
    open.push(t);
    const topic = uniqueTopic('batch-limit');
    await mockControl(`create-topic ${topic} 1 1`);
    const batches: number[] = [];
    const onSend = (context: unknown): void => {
      const records = (context as { options: { messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] } }).options.messages;
      batches.push(createRecordsBatch(records as MessageRecord[], { producerId: 7n, producerEpoch: 0 }).length);
    };
    const channel = 'tracing:plt:kafka:producer:sends:start';
    subscribe(channel, onSend);
    try {
      // 3,000 publishes of 200 bytes in one turn: about 780 kB merged for the topic's one partition.
      await Promise.all(Array.from({ length: 3_000 }, (_, i) => t.publish(topic, { id: `m-${i}`, payload: Buffer.alloc(200, i % 256) })));
    } finally {
      unsubscribe(channel, onSend);
    }
    expect(batches.length).toBeGreaterThanOrEqual(3);
    for (const bytes of batches) expect(bytes).toBeLessThanOrEqual(300_000);

    const inbox = new Inbox();
    await t.subscribe(topic, { group: 'g', from: 'earliest' }, async (m) => inbox.push(m));
    await inbox.untilCount(3_000, 60_000);
    expect(inbox.messages.map((m) => m.id)).toEqual(Array.from({ length: 3_000 }, (_, i) => `m-${i}`));
  }, 90_000);
});
