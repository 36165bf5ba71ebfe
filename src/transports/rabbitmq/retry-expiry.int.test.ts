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

  /** Runs `run` on a connection of its own: what a version before retry queues expired declared. */
  async function asOlderVersion(run: (admin: Connection) => Promise<void>): Promise<void> {
    const admin = new Connection({ url: defaultAmqpUrl(), connectionName: 'switchyard test older version' });
    try {
      await run(admin);
    } finally {
      await admin.close();
    }
  }
  const legacyRetryQueue = (retry: string, group: string, delayMs: number): { queue: string; durable: boolean; arguments: Record<string, unknown> } => ({
    queue: retry,
    durable: true,
    arguments: { 'x-message-ttl': delayMs, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': group },
  });

  it('replaces an empty retry queue an older version declared without x-expires, with no manual step', async () => {
    const topic = `legacy-empty.${run}`;
    const group = `${topic}.g.${run}`; // isolatedTransports' queue name
    const retry = retryQueueName(group, 200);
    await asOlderVersion((admin) => admin.queueDeclare(legacyRetryQueue(retry, group, 200)).then(() => undefined));
    const events: RabbitMQEvent[] = [];
    const bus = open({ groupQueue: { expiresMs: 1_000 }, redeliveryDelaysMs: [200], onEvent: (e) => events.push(e) });
    expect(bus.queueFor(topic, 'g')).toBe(group);
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => {
      inbox.push(m);
      if (m.attempt === 1) throw new Error('fails once');
    });
    expect((await queues()).get(retry)?.arguments).toEqual({ 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': group, 'x-message-ttl': 200, 'x-expires': 5_200 });
    await bus.publish(topic, { id: 'm3', payload: Buffer.from('z') });
    await inbox.until(() => inbox.messages.some((m) => m.attempt === 2), WAIT, () => 'the redelivery through the replaced retry queue');
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
  });

  it('keeps a retry queue an older version left holding messages, delivers them, and replaces it once empty', async () => {
    const topic = `legacy-full.${run}`;
    const group = `${topic}.g.${run}`;
    const retry = retryQueueName(group, 2_000);
    // An older version's group with a failed message waiting in its retry queue.
    await asOlderVersion(async (admin) => {
      await admin.queueDeclare({ queue: group, durable: true, arguments: { 'x-expires': 60_000 } });
      await admin.queueDeclare(legacyRetryQueue(retry, group, 2_000));
      const ch = await admin.acquire();
      try {
        await ch.confirmSelect();
        await ch.basicPublish({ routingKey: retry, durable: true, messageId: 'waiting', headers: { 'x-switchyard-attempt': '2', 'x-switchyard-topic': topic } }, Buffer.from('w'));
      } finally {
        await ch.close();
      }
    });
    const events: RabbitMQEvent[] = [];
    const options = { groupQueue: { expiresMs: 60_000 }, redeliveryDelaysMs: [2_000], onEvent: (e: RabbitMQEvent) => events.push(e) };
    const bus = open(options);
    const inbox = new Inbox();
    const sub = await bus.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    const errors = events.flatMap((e) => (e.type === 'error' ? [e.error] : []));
    expect(errors).toHaveLength(1);
    expect(isConfigError(errors[0])).toBe(true);
    expect(errors[0]!.message).toContain(`retry queue "${retry}" exists without x-expires`);
    expect(errors[0]!.message).toContain(`rabbitmqctl delete_queue "${retry}"`);
    // Kept as it was while it held the message, which arrives after its delay.
    expect((await queues()).get(retry)?.arguments).toEqual({ 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': group, 'x-message-ttl': 2_000 });
    await inbox.until(() => inbox.messages.some((m) => m.id === 'waiting'), WAIT, () => 'the message that waited in the old retry queue');
    expect(inbox.messages.map((m) => [m.id, m.attempt, m.topic])).toEqual([['waiting', 2, topic]]);
    await sub.close();
    // Empty now: the next subscription replaces it.
    await bus.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    expect((await queues()).get(retry)?.arguments).toEqual({ 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': group, 'x-message-ttl': 2_000, 'x-expires': 60_000 });
    expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
  });

  it('redelivers through a retry queue an older version declared again after it expired (members of two versions)', async () => {
    const events: RabbitMQEvent[] = [];
    const bus = open({ groupQueue: { expiresMs: 60_000 }, redeliveryDelaysMs: [200], onEvent: (e) => events.push(e) });
    const topic = `two-versions.${run}`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => {
      inbox.push(m);
      if (m.attempt === 1) throw new Error('fails once');
    });
    const group = bus.queueFor(topic, 'g');
    const retry = retryQueueName(group, 200);
    // The retry queue expired, and a member still on the older version declared it again.
    await asOlderVersion(async (admin) => {
      await admin.queueDelete({ queue: retry });
      await admin.queueDeclare(legacyRetryQueue(retry, group, 200));
    });
    await bus.publish(topic, { id: 'm4', payload: Buffer.from('v') });
    await inbox.until(() => inbox.messages.some((m) => m.attempt === 2), WAIT, () => 'the redelivery through the retry queue the older version declared');
    expect(inbox.messages.map((m) => [m.id, m.attempt])).toEqual([
      ['m4', 1],
      ['m4', 2],
    ]);
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
  });

  it('refuses a retry queue that exists with arguments it cannot take over, naming the queue, the argument and the commands', async () => {
    const topic = `conflict.${run}`;
    const group = `${topic}.g.${run}`;
    const retry = retryQueueName(group, 200);
    // Left from when the group queue was a quorum queue: its retry queues were quorum queues too.
    const quorum = legacyRetryQueue(retry, group, 200);
    quorum.arguments = { ...quorum.arguments, 'x-queue-type': 'quorum' };
    await asOlderVersion((admin) => admin.queueDeclare(quorum).then(() => undefined));
    const bus = open({ groupQueue: { expiresMs: 60_000 }, redeliveryDelaysMs: [200] });
    const error = await bus.subscribe(topic, { group: 'g' }, async () => undefined).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(isConfigError(error)).toBe(true);
    expect(error!.message).toContain(`retry queue "${retry}" exists with other arguments`);
    expect(error!.message).toContain("inequivalent arg 'x-expires'");
    expect(error!.message).toContain(`rabbitmqctl delete_queue "${retry}"`);
    // Left alone: it may hold messages.
    expect((await queues()).get(retry)?.arguments).toEqual(quorum.arguments);
    await asOlderVersion((admin) => admin.queueDelete({ queue: retry }).then(() => undefined));
  });
});
