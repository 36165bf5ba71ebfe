import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { Message } from '../../core/message.ts';
import type { Subscription } from '../../core/transport.ts';
import { Inbox } from '../../testing/inbox.ts';
import type { RabbitMQOptions } from './options.ts';
import { isolatedTransports } from './test-support.ts';

// What handlers see of RabbitMQ's own redelivery count and dead-lettering, against the real broker
// (3.10 here). Requeues are forced as close-gives-up.int.test.ts does (a handler that ignores its
// signal and a short drainTimeoutMs); nothing waits on the clock but the broker's own TTLs.
const run = randomBytes(4).toString('hex');
const { open, cleanUp } = isolatedTransports(run);
afterAll(cleanUp);

const WAIT = 20_000;
const published = { id: 'm-1', key: 'k', payload: Buffer.from('p'), headers: { trace: 't-1' } };

/**
 * Options for a transport whose group queues dead-letter into `dlq.<name>` (through a fanout
 * exchange), which the group `audit` of topic `dead.<name>` reads.
 */
function withDeadLetterQueue(name: string, options: RabbitMQOptions): { options: RabbitMQOptions; dlTopic: string } {
  const dlx = `dlx.${name}.${run}`;
  const dlq = `dlq.${name}.${run}`;
  const dlTopic = `dead.${name}.${run}`;
  return {
    dlTopic,
    options: {
      ...options,
      groupQueue: { ...options.groupQueue, deadLetterExchange: dlx },
      topology: { exchanges: [{ name: dlx, type: 'fanout' }], queues: [{ name: dlq }], bindings: [{ exchange: dlx, queue: dlq }] },
      routes: { [dlTopic]: { exchange: dlx, queues: { audit: dlq } } },
    },
  };
}

/** Death headers as a handler sees them after `queue` dead-lettered the message for `reason`, having been republished by Switchyard through the default exchange. */
function deathHeaders(m: Message, queue: string, reason: string): void {
  expect(m.headers).toEqual({
    ...published.headers,
    'x-first-death-reason': reason,
    'x-first-death-queue': queue,
    'x-first-death-exchange': '',
    'x-death': expect.any(String),
  });
  expect(JSON.parse(m.headers['x-death']!)).toEqual([{ count: 1, reason, queue, exchange: '', 'routing-keys': [queue], time: expect.any(Number) }]);
}

describe('rabbitmq: what handlers see of the broker\'s redelivery count and dead-lettering', () => {
  it("hides a quorum queue's x-delivery-count from a message the broker requeued, also after the handler fails on it", async () => {
    const bus = open({ groupQueue: { type: 'quorum' } });
    const topic = `requeued.${run}`;
    const started = new Inbox();
    const stuck = Promise.withResolvers<void>();
    const first = await bus.subscribe(topic, { group: 'g', drainTimeoutMs: 200 }, async (m) => {
      started.push(m);
      await stuck.promise; // ignores its signal: close() gives up and the broker requeues it
    });
    await bus.publish(topic, published);
    await started.untilCount(1, WAIT);
    await first.close();
    stuck.resolve();

    const again = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => {
      again.push(m);
      if (m.attempt === 1) throw new Error('fails once, so the transport republishes the requeued delivery');
    });
    await again.untilCount(2, WAIT);
    expect(again.messages.map((m) => [m.id, m.attempt])).toEqual([
      ['m-1', 1],
      ['m-1', 2],
    ]);
    for (const m of again.messages) expect(m.headers).toEqual(published.headers);
  });

  for (const delay of [100, 0]) {
    it(`shows the group queue's dead-lettering (its TTL) of a message redelivered ${delay > 0 ? 'through a retry queue' : 'straight back'}, at attempt 1 and on the dead-letter topic`, async () => {
      const { options, dlTopic } = withDeadLetterQueue(`ttl${delay}`, { redeliveryDelaysMs: [delay], groupQueue: { messageTtlMs: 1_000 } });
      const bus = open(options);
      const topic = `expiring.${delay}.${run}`;
      const dead = new Inbox();
      await bus.subscribe(dlTopic, { group: 'audit' }, async (m) => {
        dead.push(m);
        if (m.attempt === 1) throw new Error('fails once in the dead-letter queue too');
      });
      let closing: Promise<void> | undefined;
      const sub: Subscription = await bus.subscribe(topic, { group: 'g' }, async () => {
        // The group goes away while its failed message is redelivered: it waits in the group
        // queue, unread, until the queue's TTL dead-letters it.
        closing ??= sub.close();
        throw new Error('fails, and the group leaves');
      });
      await bus.publish(topic, published);
      await dead.untilCount(1, WAIT);
      await closing;

      const atDlq = dead.messages[0]!;
      expect(atDlq).toMatchObject({ id: 'm-1', key: 'k', topic: dlTopic, attempt: 1 });
      deathHeaders(atDlq, bus.queueFor(topic, 'g'), 'expired');
      // Failed there, it comes back as the handler saw it, with the retry queue's death hidden.
      await dead.untilCount(2, WAIT);
      expect(dead.messages[1]).toMatchObject({ id: 'm-1', key: 'k', topic: dlTopic, attempt: 2, headers: atDlq.headers });
    });
  }

  it("shows a quorum queue's delivery-limit dead-lettering of a redelivered message, without x-delivery-count", async () => {
    const { options, dlTopic } = withDeadLetterQueue('limit', { redeliveryDelaysMs: [100], groupQueue: { type: 'quorum', arguments: { 'x-delivery-limit': 1 } } });
    const bus = open(options);
    const topic = `limited.${run}`;
    const dead = new Inbox();
    await bus.subscribe(dlTopic, { group: 'audit' }, async (m) => dead.push(m));

    // Attempt 1 fails (republished through the retry queue: a new message to the broker); attempt
    // 2 is given up on by two close() calls in a row, and the broker dead-letters it the second time.
    const started = new Inbox();
    const stuck = Promise.withResolvers<void>();
    const handler = async (m: Message): Promise<void> => {
      started.push(m);
      if (m.attempt === 1) throw new Error('fails once');
      await stuck.promise;
    };
    const first = await bus.subscribe(topic, { group: 'g', drainTimeoutMs: 200 }, handler);
    await bus.publish(topic, published);
    await started.untilCount(2, WAIT);
    await first.close();
    const second = await bus.subscribe(topic, { group: 'g', drainTimeoutMs: 200 }, handler);
    await started.untilCount(3, WAIT);
    await second.close();
    stuck.resolve();
    await dead.untilCount(1, WAIT);

    expect(dead.messages[0]).toMatchObject({ id: 'm-1', key: 'k', topic: dlTopic, attempt: 1 });
    deathHeaders(dead.messages[0]!, bus.queueFor(topic, 'g'), 'delivery_limit');
    expect(started.messages.map((m) => m.attempt)).toEqual([1, 2, 2]);
    for (const m of started.messages) expect(m.headers).toEqual(published.headers);
  });
});
