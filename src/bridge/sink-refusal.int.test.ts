import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../core/message.ts';
import { Inbox } from '../testing/inbox.ts';
import type { EmbeddedTransport } from '../transports/embedded/index.ts';
import { kafka } from '../transports/kafka/index.ts';
import { startOwnCluster, usingMock, type OwnCluster } from '../transports/kafka/test-cluster.ts';
import { bridge, type Bridge, type BridgeEvent } from './bridge.ts';
import { parseBridgeConfig } from './parse-config.ts';
import { SINK_REFUSALS } from './route.ts';

// A sink that refuses one message for good (Kafka's MESSAGE_TOO_LARGE, pushed by a private
// librdkafka mock cluster — NOT Apache Kafka) must not hold up the route for ever: after
// SINK_REFUSALS tries the message is dead-lettered with the broker's reason, and the messages
// behind it go through.

const run = randomBytes(4).toString('hex');
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(join(tmpdir(), 'bridge-refusal-'));
let cluster: OwnCluster;

beforeAll(async () => {
  cluster = await startOwnCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!usingMock())('bridge: a message the sink refuses for good', () => {
  it(`is dead-lettered after ${SINK_REFUSALS} refusals with the broker's reason, and the route goes on`, async () => {
    const topic = `refusal.${run}`;
    await cluster.control(`create-topic ${topic} 1 1`);
    const yaml = `
transports:
  local: { type: embedded, dir: "\${DATA_DIR}" }
  kafka: { type: kafka, brokers: "\${KAFKA_BROKERS}" }
routes:
  - name: to-kafka
    from: { transport: local, topic: "${topic}", start: earliest }
    to: { transport: kafka, topic: "${topic}" }
    retry: { initialDelayMs: 10, maxDelayMs: 50 }
`;
    const parsed = parseBridgeConfig(yaml, { env: { DATA_DIR: join(dir, 'data'), KAFKA_BROKERS: cluster.brokers.join(',') } });
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));

    const verify = kafka({ brokers: cluster.brokers, consumer: { maxWaitMs: 50 } });
    const forwarded = new Inbox();
    await verify.subscribe(topic, { group: 'verify', from: 'earliest' }, async (m: Message) => forwarded.push(m));
    let b: Bridge | undefined;
    try {
      b = await bridge(parsed.config, { logger: quiet });
      const events: BridgeEvent[] = [];
      b.on((e) => events.push(e));
      const source = b.transport('local') as EmbeddedTransport;
      const letters = new Inbox();
      await source.subscribe(`${topic}.dlq`, { group: 'verify', from: 'earliest' }, async (m: Message) => letters.push(m));

      await source.publish(topic, { id: 'first', payload: Buffer.from('1') });
      await forwarded.until(() => forwarded.ids().has('first'), 30_000, () => 'the first message forwarded');
      // Every produce request from now on is refused, as a broker refuses a record over its size limit.
      // Error code 10: MESSAGE_TOO_LARGE in the Kafka protocol (librdkafka calls it MSG_SIZE_TOO_LARGE).
      await cluster.control('push-errors Produce 10 1000');
      await source.publish(topic, [
        { id: 'refused', key: 'k', payload: Buffer.from('2') },
        { id: 'after', key: 'k', payload: Buffer.from('3') },
      ]);
      await letters.until(() => letters.ids().has('refused'), 30_000, () => 'the refused message dead-lettered');
      await cluster.control('clear-errors Produce');
      await forwarded.until(() => forwarded.ids().has('after'), 30_000, () => `the message behind it forwarded (got ${[...forwarded.ids()].join(', ')})`);

      const letter = letters.messages.find((m) => m.id === 'refused')!;
      expect(letter.headers['x-error']).toMatch(new RegExp(`PermanentError: route "to-kafka": the sink refused the message for "${topic}" ${SINK_REFUSALS} times: .*MESSAGE_TOO_LARGE`));
      expect(Buffer.from(letter.payload).toString()).toBe('2');
      expect(forwarded.ids().has('refused')).toBe(false);
      // The refusals before it gave up were retried like any sink failure, and reported as such.
      expect(events.filter((e) => e.type === 'sink-retry').length).toBeGreaterThanOrEqual(SINK_REFUSALS - 1);
    } finally {
      await b?.stop();
      await verify.close();
    }
  }, 90_000);
});
