import { randomBytes } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import { Inbox } from '../../testing/inbox.ts';
import { managementGet } from './management.ts';
import { retryQueueName } from './mapping.ts';
import { defaultAmqpUrl, type RabbitMQEvent } from './options.ts';
import { isolatedTransports } from './test-support.ts';

// Retry queues expire with their group queue, against the real broker; what exists is read from
// the management API (:15672). Expiries are a few seconds, and disappearing queues are awaited
// by polling with a deadline.
const run = randomBytes(4).toString('hex');
const { open, cleanUp } = isolatedTransports(run);
afterAll(cleanUp);

const MANAGEMENT = 'http://guest:guest@127.0.0.1:15672';
const WAIT = 30_000;

interface QueueInfo {
  name: string;
  arguments: Record<string, unknown>;
  consumers?: number;
}

/** This run's queues on the broker, by name. */
async function queues(): Promise<Map<string, QueueInfo>> {
  const all = await managementGet<QueueInfo[]>(MANAGEMENT, defaultAmqpUrl(), 'queues/{vhost}?columns=name,arguments,consumers');
  return new Map(all.filter((q) => q.name.includes(run)).map((q) => [q.name, q]));
}

/** Polls the management API until `done` holds for the queues, or fails after `WAIT`. */
async function untilQueues(done: (qs: Map<string, QueueInfo>) => boolean, what: string): Promise<Map<string, QueueInfo>> {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const qs = await queues();
    if (done(qs)) return qs;
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT} ms waiting for ${what}; queues now: ${[...qs.keys()].join(', ') || 'none'}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('rabbitmq retry queues and groupQueue.expiresMs', () => {
  it('deletes the retry queues of an abandoned group as it deletes its queue (x-expires)', async () => {
    const bus = open({ groupQueue: { expiresMs: 1_500 }, redeliveryDelaysMs: [200] });
    const topic = `abandoned.${run}`;
    const inbox = new Inbox();
    const sub = await bus.subscribe(topic, { group: 'g' }, async (m) => {
      inbox.push(m);
      if (m.attempt === 1) throw new Error('fails once');
    });
    await bus.publish(topic, { id: 'm1', payload: Buffer.from('x') });
    await inbox.until(() => inbox.messages.some((m) => m.attempt === 2), WAIT, () => 'the redelivery through the retry queue');
    const group = bus.queueFor(topic, 'g');
    const retry = retryQueueName(group, 200);
    const before = await queues();
    // At least its delay + 5 s: a message in it always leaves before it can expire.
    expect(before.get(retry)?.arguments).toEqual({ 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': group, 'x-message-ttl': 200, 'x-expires': 5_200 });
    await sub.close();
    await bus.close();
    await untilQueues((qs) => !qs.has(group) && !qs.has(retry), `"${group}" and "${retry}" to expire`);
  });

  it('declares a retry queue again before use after it expired under a running subscription', async () => {
    const events: RabbitMQEvent[] = [];
    const bus = open({ groupQueue: { expiresMs: 1_000 }, redeliveryDelaysMs: [200], onEvent: (e) => events.push(e) });
    const topic = `long-lived.${run}`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => {
      inbox.push(m);
      if (m.attempt === 1) throw new Error('fails once');
    });
    const group = bus.queueFor(topic, 'g');
    const retry = retryQueueName(group, 200);
    // Nothing failed for longer than its expiry: the broker deleted the retry queue, while the
    // group's queue stays (it has a consumer).
    await untilQueues((qs) => qs.has(group) && !qs.has(retry), `"${retry}" to expire while "${group}" stays`);
    await bus.publish(topic, { id: 'm2', payload: Buffer.from('y') });
    await inbox.until(() => inbox.messages.some((m) => m.attempt === 2), WAIT, () => 'the redelivery through the re-declared retry queue');
    expect(inbox.messages.map((m) => [m.id, m.attempt])).toEqual([
      ['m2', 1],
      ['m2', 2],
    ]);
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
  });

  it('keeps using a retry queue an older version declared without x-expires, and says how to make it expire', async () => {
    const topic = `legacy.${run}`;
    const group = `${topic}.g.${run}`; // isolatedTransports' queue name
    const retry = retryQueueName(group, 200);
    // As versions before this one declared it: no x-expires.
    const admin = new Connection({ url: defaultAmqpUrl(), connectionName: 'switchyard test legacy retry queue' });
    try {
      await admin.queueDeclare({ queue: retry, durable: true, arguments: { 'x-message-ttl': 200, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': group } });
    } finally {
      await admin.close();
    }
    const events: RabbitMQEvent[] = [];
    const bus = open({ groupQueue: { expiresMs: 1_000 }, redeliveryDelaysMs: [200], onEvent: (e) => events.push(e) });
    expect(bus.queueFor(topic, 'g')).toBe(group);
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => {
      inbox.push(m);
      if (m.attempt === 1) throw new Error('fails once');
    });
    await bus.publish(topic, { id: 'm3', payload: Buffer.from('z') });
    await inbox.until(() => inbox.messages.some((m) => m.attempt === 2), WAIT, () => 'the redelivery through the old retry queue');
    const errors = events.flatMap((e) => (e.type === 'error' ? [e.error] : []));
    expect(errors).toHaveLength(1);
    expect(isConfigError(errors[0])).toBe(true);
    expect(errors[0]!.message).toContain(`retry queue "${retry}" exists without x-expires`);
    expect(errors[0]!.message).toContain(`rabbitmqctl delete_queue "${retry}"`);
    // Left as it was: never re-created (it may hold messages).
    expect((await queues()).get(retry)?.arguments).toEqual({ 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': group, 'x-message-ttl': 200 });
  });
});
