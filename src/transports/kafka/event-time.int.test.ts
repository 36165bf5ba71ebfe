import { afterAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { quickConsumer, testBrokers, uniqueTopic } from './test-cluster.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// Against the librdkafka mock cluster (NOT Apache Kafka) unless SWITCHYARD_KAFKA_BROKERS is set.
// A record batch keeps each record's time as a difference from its first record's, which the
// client library encodes wrongly from 2^31 ms (24.8 days) on: messages dated further apart must
// not share a batch, also when separate publishes are merged into one produce request.

const DAY = 86_400_000;
const open: KafkaTransport[] = [];
afterAll(async () => {
  for (const t of open.splice(0)) await t.close();
});

describe('Kafka producer: messages dated far apart', () => {
  it('keep their own times when publishes merged into one request (lingerMs) are dated 30 days apart', async () => {
    const t = kafka({ brokers: testBrokers(), producer: { lingerMs: 50 }, consumer: quickConsumer });
    open.push(t);
    const topic = uniqueTopic('event-time-merged');
    const now = Date.now();
    const sent = [
      { id: 'today', key: 'k', payload: Buffer.from('1'), timestamp: now - 5 },
      { id: 'a-month-ago', key: 'k', payload: Buffer.from('2'), timestamp: now - 30 * DAY },
      { id: 'two-months-ago', key: 'k', payload: Buffer.from('3'), timestamp: now - 60 * DAY },
      { id: 'today-again', key: 'k', payload: Buffer.from('4'), timestamp: now - 1 },
    ];
    // One publish per message, none awaited before the next: the producer merges them (linger).
    await Promise.all(sent.map((m) => t.publish(topic, m)));
    const inbox = new Inbox();
    await t.subscribe(topic, { group: 'g', from: 'earliest' }, async (m) => inbox.push(m));
    await inbox.untilCount(sent.length, 30_000);
    expect(inbox.messages.map((m) => [m.id, m.timestamp])).toEqual(sent.map((m) => [m.id, m.timestamp]));
  }, 60_000);
});
