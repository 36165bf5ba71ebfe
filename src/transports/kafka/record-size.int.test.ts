import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import type { NormalizedMessage } from '../../core/message.ts';
import { Inbox } from '../../testing/inbox.ts';
import { KAFKA_DEFAULT_MAX_RECORD_BYTES, recordBatchSize } from './record-size.ts';
import { quickConsumer, testBrokers, uniqueTopic } from './test-cluster.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// Against the shared librdkafka mock cluster (NOT Apache Kafka), which does not enforce
// message.max.bytes: whatever passes the transport's checks is stored there, so a message Kafka
// would refuse shows up in the topic unless the transport refused it first.

const open: KafkaTransport[] = [];
afterAll(async () => {
  for (const t of open.splice(0)) await t.close();
});

function transport(): KafkaTransport {
  const t = kafka({ brokers: testBrokers(), consumer: quickConsumer });
  open.push(t);
  return t;
}

/** Payload bytes that make a message with this id, key and headers exactly `total` bytes as a record batch. */
function payloadFor(total: number, m: Omit<NormalizedMessage, 'payload' | 'timestamp'>): number {
  const at = (payload: number): number => recordBatchSize({ ...m, payload: Buffer.alloc(payload), timestamp: 0 }).total;
  let payload = total - at(0);
  while (at(payload) > total) payload--;
  expect(at(payload)).toBe(total);
  return payload;
}

describe("Kafka: a message over the broker's record limit", () => {
  it("is refused with a ConfigError naming its size and what to raise, when its payload and headers each pass their own limit, and nothing of the batch is stored", async () => {
    const t = transport();
    const topic = uniqueTopic('record-limit');
    // 999,000 bytes of payload (limit 1,000,000) and 60,000 of headers (limit 65,536): together
    // over Kafka's default message.max.bytes, 1,048,588.
    const big = { id: 'big', key: 'customer-42', payload: Buffer.alloc(999_000, 7), headers: { trace: 'x'.repeat(59_995) } };
    const refused = await t.publish(topic, [{ id: 'small-before', payload: Buffer.from('a') }, big]).catch((e: unknown) => e);
    expect(isConfigError(refused)).toBe(true);
    const size = recordBatchSize({ ...big, timestamp: 0 }).total;
    expect((refused as Error).message).toContain(
      `kafka: publish to "${topic}", message 1 (id big): the message makes a record batch of ${size} bytes (payload 999000, key 11, headers 60000, x-message-id header 15,`,
    );
    expect((refused as Error).message).toMatch(/over the limit of 1048588 bytes \(maxRecordBytes\).*raise message\.max\.bytes on the brokers \(or max\.message\.bytes on the topic\) and the transport's maxRecordBytes option/);

    // The largest message Kafka takes by default passes, and arrives intact.
    const fits = { id: 'fits', key: 'customer-42', headers: { trace: 'x'.repeat(59_995) } };
    const payload = Buffer.alloc(payloadFor(KAFKA_DEFAULT_MAX_RECORD_BYTES, fits), 9);
    await t.publish(topic, { ...fits, payload });
    const inbox = new Inbox();
    await t.subscribe(topic, { group: 'g', from: 'earliest' }, async (m) => inbox.push(m));
    await inbox.untilCount(1, 30_000);
    expect(inbox.messages.map((m) => m.id)).toEqual(['fits']); // nothing of the refused batch
    expect(Buffer.from(inbox.messages[0]!.payload).equals(payload)).toBe(true);
  }, 60_000);
});
