import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import type { Message } from '../core/message.ts';
import type { Subscription, Transport } from '../core/transport.ts';
import { Inbox } from '../testing/inbox.ts';
import { embedded } from '../transports/embedded/index.ts';
import { kafka } from '../transports/kafka/index.ts';
import { testBrokers } from '../transports/kafka/test-cluster.ts';
import { nats, planStream } from '../transports/nats/index.ts';
import { rabbitmq, type RabbitMQTransport } from '../transports/rabbitmq/index.ts';
import { deleteDeclared } from '../transports/rabbitmq/test-support.ts';
import { bridge, type Bridge } from './bridge.ts';
import type { BridgeMessage } from './config-schema.ts';

// A forwarded message keeps the time its event happened, not the time the bridge forwarded it:
// end-to-end latency metrics and event-time consumers downstream of a bridge read it. Over real
// brokers: the shared NATS, RabbitMQ and Kafka (mock) of the test environment, an embedded
// directory of this run's own.

const run = randomBytes(4).toString('hex');
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'bridge-event-time-'));
const open: Array<Bridge | Subscription | Transport> = [];
const rabbits: RabbitMQTransport[] = [];
const natsPrefix = `sy-bridge-time-${run}`;

afterEach(async () => {
  for (const item of open.splice(0).toReversed()) await ('stop' in item ? item.stop() : item.close()).catch(() => undefined);
});

afterAll(async () => {
  await deleteDeclared(rabbits, { exchanges: [`switchyard.bridge-time.${run}`] });
  const admin = nats({ mode: 'jetstream' });
  await admin.connect();
  await admin.native.manager!.streams.delete(planStream(`${natsPrefix}.x`, admin.options).name).catch(() => undefined);
  await admin.close();
  rmSync(dir, { recursive: true, force: true });
});

async function collect(t: Transport, topic: string): Promise<Inbox> {
  const inbox = new Inbox();
  open.push(await t.subscribe(topic, { group: 'verify', from: 'earliest' }, async (m: Message) => inbox.push(m)));
  return inbox;
}

/** A time days in the past with a millisecond part, which a transport carrying seconds would lose. */
const daysAgo = (days: number): number => Date.now() - days * DAY - 123;

describe('bridge keeps the source timestamp', () => {
  it('NATS JetStream → RabbitMQ: each forwarded message has its source message timestamp, to the millisecond', async () => {
    const source = nats({ mode: 'jetstream' });
    const sink = rabbitmq({ exchange: `switchyard.bridge-time.${run}` });
    rabbits.push(sink);
    open.push(source, sink);
    const from = `${natsPrefix}.orders`;
    const to = `bridge-time-${run}.orders`;
    const out = await collect(sink, to);
    const b = await bridge(
      { transports: { source, sink }, routes: [{ name: 'nats-to-rabbit', from: { transport: 'source', topic: from, start: 'earliest', concurrency: 4 }, to: { transport: 'sink', topic: to } }] },
      { logger: quiet },
    );
    open.push(b);
    const sent = [
      { id: `n1-${run}`, key: 'a', payload: Buffer.from('1'), timestamp: daysAgo(2) },
      { id: `n2-${run}`, key: 'b', payload: Buffer.from('2'), timestamp: daysAgo(9) },
      { id: `n3-${run}`, key: 'a', payload: Buffer.from('3'), timestamp: daysAgo(1) },
    ];
    await source.publish(from, sent);
    await out.until(() => out.distinct === sent.length, 30_000, () => `${sent.length} forwarded messages (got ${out.distinct})`);
    const byId = new Map(out.messages.map((m) => [m.id, m.timestamp]));
    expect(Object.fromEntries(byId)).toEqual(Object.fromEntries(sent.map((m) => [m.id, m.timestamp])));
  }, 60_000);

  it('embedded → Kafka with a transform: outputs keep the source timestamp (fanned-out ones too) unless the transform sets its own', async () => {
    const source = embedded({ dir: join(dir, 'data') });
    const sink = kafka({ brokers: testBrokers(), consumer: { maxWaitMs: 100, topicRefreshMs: 500 } });
    open.push(source, sink);
    const from = `bridge-time.${run}.orders`;
    const to = `bridge-time-${run}.kafka`;
    const out = await collect(sink, to);
    const restamped = daysAgo(3);
    const b = await bridge(
      {
        transports: { source, sink },
        routes: [
          {
            name: 'embedded-to-kafka',
            from: { transport: 'source', topic: from, start: 'earliest' },
            to: { transport: 'sink', topic: to },
            format: { in: 'json' },
            transform: (m: BridgeMessage) => {
              const order = m.payload as { kind: string };
              if (order.kind === 'split') return [{ payload: { part: 1 } }, { payload: { part: 2 } }];
              if (order.kind === 'restamp') return { payload: order, timestamp: restamped };
              return { payload: order };
            },
          },
        ],
      },
      { logger: quiet },
    );
    open.push(b);
    const orders = json<{ kind: string }>();
    const plain = daysAgo(5);
    const split = daysAgo(7);
    await source.publish(from, [
      { ...orders.encode({ kind: 'plain' }, { id: 'plain', key: 'k1' }), timestamp: plain },
      { ...orders.encode({ kind: 'split' }, { id: 'split', key: 'k2' }), timestamp: split },
      { ...orders.encode({ kind: 'restamp' }, { id: 'restamp', key: 'k3' }), timestamp: daysAgo(8) },
    ]);
    await out.until(() => out.distinct === 4, 30_000, () => `4 forwarded messages (got ${[...out.ids()].join(', ')})`);
    const byId = Object.fromEntries(out.messages.map((m) => [m.id, m.timestamp]));
    expect(byId).toEqual({ plain, 'split.1': split, 'split.2': split, restamp: restamped });
  }, 60_000);

  it('a transform output whose timestamp is not whole milliseconds is dead-lettered with the reason, not forwarded with another time', async () => {
    const source = embedded({ dir: join(dir, 'data-invalid') });
    open.push(source);
    const from = `bridge-time.${run}.bad`;
    const out = await collect(source, `${from}.out`);
    const dead = await collect(source, `${from}.dlq`);
    const b = await bridge(
      {
        transports: { source },
        routes: [
          {
            name: 'bad-time',
            from: { transport: 'source', topic: from, start: 'earliest' },
            to: { transport: 'source', topic: `${from}.out` },
            transform: (m: BridgeMessage) => ({ payload: m.payload, timestamp: m.timestamp / 1000 }), // seconds, by mistake
          },
        ],
      },
      { logger: quiet },
    );
    open.push(b);
    await source.publish(from, { id: 'seconds', payload: Buffer.from('x'), timestamp: 1_700_000_000_123 });
    await dead.untilCount(1, 30_000);
    expect(dead.messages[0]!.id).toBe('seconds');
    expect(dead.messages[0]!.headers['x-error']).toMatch(/timestamp must be a whole number of milliseconds since epoch.*got 1700000000\.123/);
    expect(out.messages).toEqual([]);
  }, 60_000);
});
