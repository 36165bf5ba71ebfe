import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError, isTransportError } from '../../core/errors.ts';
import type { Message } from '../../core/message.ts';
import { Inbox } from '../../testing/inbox.ts';
import { defaultAmqpUrl, rabbitmq, rabbitmqLag, type RabbitMQOptions, type RabbitMQTransport } from './index.ts';
import { retryQueueName } from './mapping.ts';
import { deleteDeclared } from './test-support.ts';

// Native topology against the real broker. Every name carries a run id; everything declared is
// deleted afterwards.
const run = randomBytes(4).toString('hex');
const made: RabbitMQTransport[] = [];
const open = (options: RabbitMQOptions = {}): RabbitMQTransport => {
  const t = rabbitmq({ exchange: `switchyard.test.${run}`, queueName: (topic, group) => `${topic}.${group}.${run}`, redeliveryDelaysMs: [100], ...options });
  made.push(t);
  return t;
};
const text = (m: Message): string => Buffer.from(m.payload).toString();
const WAIT = 20_000;

afterAll(() => deleteDeclared(made));

describe('rabbitmq topology', () => {
  it("routes the reference's topic patterns user.*, *.created, order.*, *.payment.* message by message", async () => {
    const bus = open();
    const patterns = ['user.*', '*.created', 'order.*', '*.payment.*'];
    const inboxes = new Map(patterns.map((p) => [p, new Inbox()]));
    for (const [pattern, inbox] of inboxes) {
      await bus.subscribe(pattern, { group: `svc-${run}` }, async (m) => inbox.push(m));
    }
    const topics = ['user.created', 'user.updated', 'user.deleted', 'order.created', 'order.updated', 'order.completed', 'payment.created', 'payment.failed', 'user.payment.completed', 'order.payment.failed', 'user.profile.updated'];
    for (const topic of topics) await bus.publish(topic, { id: `${topic}-${run}`, payload: Buffer.from(topic) });
    const expected: Record<string, string[]> = {
      'user.*': ['user.created', 'user.updated', 'user.deleted'],
      '*.created': ['user.created', 'order.created', 'payment.created'],
      'order.*': ['order.created', 'order.updated', 'order.completed'],
      '*.payment.*': ['user.payment.completed', 'order.payment.failed'],
    };
    // A sentinel published last on every pattern's topics proves nothing else is still coming.
    for (const topic of ['user.end', 'end.created', 'order.end', 'end.payment.end']) await bus.publish(topic, { id: `end-${topic}`, payload: Buffer.from('end') });
    for (const [pattern, inbox] of inboxes) {
      await inbox.until(() => inbox.messages.some((m) => m.id.startsWith('end-')), WAIT, () => `the sentinel on ${pattern}`);
      const got = inbox.messages.filter((m) => !m.id.startsWith('end-'));
      expect(got.map((m) => m.topic), pattern).toEqual(expected[pattern]);
      for (const m of got) expect(text(m)).toBe(m.topic);
    }
  });

  it('expresses direct, fanout and topic exchanges with native queues bound by pattern', async () => {
    const direct = `notifications.direct.${run}`;
    const fanout = `notifications.broadcast.${run}`;
    const events = `events.topic.${run}`;
    const bus = open({
      exchange: events, // topics are routing keys on the reference's topic exchange
      topology: {
        exchanges: [
          { name: direct, type: 'direct' },
          { name: fanout, type: 'fanout' },
          { name: events, type: 'topic' },
        ],
        queues: [
          { name: `email.${run}`, messageTtlMs: 86_400_000, maxLength: 10_000 },
          { name: `sms.${run}` },
          { name: `user.service.${run}` },
          { name: `analytics.service.${run}` },
        ],
        bindings: [
          { exchange: direct, queue: `email.${run}`, routingKey: 'email' },
          { exchange: direct, queue: `sms.${run}`, routingKey: 'sms' },
          { exchange: events, queue: `user.service.${run}`, routingKey: 'user.*' },
          { exchange: events, queue: `analytics.service.${run}`, routingKey: '*.created' },
          { exchange: events, queue: `analytics.service.${run}`, routingKey: '*.deleted' },
        ],
      },
      routes: {
        'notify.email': { exchange: direct, routingKey: 'email', queues: { mailer: `email.${run}` } },
        'notify.sms': { exchange: direct, routingKey: 'sms', queues: { texter: `sms.${run}` } },
        maintenance: { exchange: fanout },
        'users.feed': { exchange: events, queues: { users: `user.service.${run}` } },
        'analytics.feed': { exchange: events, queues: { analytics: `analytics.service.${run}` } },
      },
    });
    const email = new Inbox();
    const sms = new Inbox();
    const api = new Inbox();
    const worker = new Inbox();
    const users = new Inbox();
    const analytics = new Inbox();
    await bus.subscribe('notify.email', { group: 'mailer' }, async (m) => email.push(m));
    await bus.subscribe('notify.sms', { group: 'texter' }, async (m) => sms.push(m));
    await bus.subscribe('maintenance', { group: 'api' }, async (m) => api.push(m));
    await bus.subscribe('maintenance', { group: 'worker' }, async (m) => worker.push(m));
    await bus.subscribe('users.feed', { group: 'users' }, async (m) => users.push(m));
    await bus.subscribe('analytics.feed', { group: 'analytics' }, async (m) => analytics.push(m));

    await bus.publish('notify.email', { id: 'e1', payload: Buffer.from('welcome'), headers: { to: 'a@example.com' } });
    await bus.publish('notify.sms', { id: 's1', payload: Buffer.from('code 1234') });
    await bus.publish('maintenance', { id: 'b1', payload: Buffer.from('down at 2am') });
    for (const topic of ['user.created', 'user.deleted', 'order.created', 'order.completed']) await bus.publish(topic, { id: topic, payload: Buffer.from(topic) });

    await Promise.all([email.untilCount(1, WAIT), sms.untilCount(1, WAIT), api.untilCount(1, WAIT), worker.untilCount(1, WAIT)]);
    await Promise.all([users.untilCount(2, WAIT), analytics.untilCount(3, WAIT)]);
    expect(email.messages.map((m) => [m.id, m.topic, text(m), m.headers])).toEqual([['e1', 'notify.email', 'welcome', { to: 'a@example.com' }]]);
    expect(sms.messages.map((m) => m.id)).toEqual(['s1']);
    expect(api.messages.map((m) => m.id)).toEqual(['b1']);
    expect(worker.messages.map((m) => m.id)).toEqual(['b1']);
    expect(users.messages.map((m) => m.id)).toEqual(['user.created', 'user.deleted']);
    expect(analytics.messages.map((m) => m.id)).toEqual(['user.created', 'user.deleted', 'order.created']);
  });

  it("dead-letters expired and overflowed messages with RabbitMQ's x-death info in the headers", async () => {
    const dlx = `dlx.${run}`;
    const dlq = `dead.${run}`;
    const work = `work.${run}`;
    const bus = open({
      topology: {
        exchanges: [{ name: dlx, type: 'fanout' }],
        queues: [
          { name: work, messageTtlMs: 300, maxLength: 3, overflow: 'drop-head', deadLetterExchange: dlx },
          { name: dlq },
        ],
        bindings: [{ exchange: dlx, queue: dlq }],
      },
      routes: {
        work: { exchange: '', routingKey: work }, // nobody consumes it: messages only expire or overflow
        dead: { exchange: dlx, queues: { audit: dlq } },
      },
    });
    const dead = new Inbox();
    let failedOnce = false;
    await bus.subscribe('dead', { group: 'audit' }, async (m) => {
      dead.push(m);
      if (m.id === 'm4' && !failedOnce) {
        failedOnce = true;
        throw new Error('fail once to check x-death survives a redelivery');
      }
    });
    const ids = ['m0', 'm1', 'm2', 'm3', 'm4'];
    await bus.publish('work', ids.map((id) => ({ id, key: `k-${id}`, payload: Buffer.from(id), headers: { origin: 'test' } })));
    await dead.until(
      () => new Set(dead.messages.map((m) => m.id)).size === 5 && dead.messages.some((m) => m.id === 'm4' && m.attempt === 2),
      WAIT,
      () => `5 dead letters and the retry of m4 (got ${dead.messages.map((m) => `${m.id}#${m.attempt}`)})`,
    );
    const first = new Map(dead.messages.filter((m) => m.attempt === 1).map((m) => [m.id, m]));
    // Three fit; a batch of five pushes the two oldest out at once, the rest expire.
    for (const id of ['m0', 'm1']) expect(first.get(id)!.headers['x-first-death-reason'], id).toBe('maxlen');
    for (const id of ['m2', 'm3', 'm4']) expect(first.get(id)!.headers['x-first-death-reason'], id).toBe('expired');
    for (const m of first.values()) {
      expect(text(m)).toBe(m.id);
      expect(m.key).toBe(`k-${m.id}`);
      expect(m.headers.origin).toBe('test');
      expect(m.headers['x-first-death-queue']).toBe(work);
      const death = JSON.parse(m.headers['x-death']!) as Array<{ queue: string; reason: string; count: number; exchange: string }>;
      expect(death[0]).toMatchObject({ queue: work, reason: m.headers['x-first-death-reason'], count: 1 });
      expect(Object.keys(m.headers).filter((h) => h.startsWith('x-switchyard-'))).toEqual([]);
    }
    const retried = dead.messages.find((m) => m.id === 'm4' && m.attempt === 2)!;
    expect(retried.headers).toEqual(first.get('m4')!.headers);
  });

  it('runs groups on quorum queues, redelivery through quorum retry queues included', async () => {
    const bus = open({ groupQueue: { type: 'quorum' } });
    const topic = `quorum.${run}`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'q' }, async (m) => {
      inbox.push(m);
      if (m.attempt === 1) throw new Error('fail the first attempt');
    });
    await bus.publish(topic, { id: 'qq-1', key: 'k', payload: Buffer.from('quorum'), headers: { h: 'v' } });
    await inbox.untilCount(2, WAIT);
    expect(inbox.messages.map((m) => [m.id, m.attempt, text(m), m.headers])).toEqual([
      ['qq-1', 1, 'quorum', { h: 'v' }],
      ['qq-1', 2, 'quorum', { h: 'v' }],
    ]);
  });

  it('reports a conflicting redeclaration as a ConfigError naming PRECONDITION_FAILED instead of hanging', async () => {
    const queue = `conflict.${run}`;
    await open({ topology: { queues: [{ name: queue, messageTtlMs: 1_000 }] } }).connect();
    const error = await open({ topology: { queues: [{ name: queue, messageTtlMs: 2_000 }] } })
      .connect()
      .catch((e: unknown) => e);
    expect(isConfigError(error), String(error)).toBe(true);
    expect(String(error)).toMatch(/PRECONDITION_FAILED/);
    expect(String(error)).toMatch(/x-message-ttl/);
  });

  it('names the setting to match and the command to replace a queue that exists with other arguments', async () => {
    const queue = `conflict-hint.${run}`;
    await open({ topology: { queues: [{ name: queue, messageTtlMs: 1_000 }] } }).connect();
    const error = await open({ topology: { queues: [{ name: queue, messageTtlMs: 2_000 }] } })
      .connect()
      .catch((e: unknown) => e);
    expect(isConfigError(error), String(error)).toBe(true);
    expect(String(error)).toContain(`set messageTtlMs in the topology.queues entry of "${queue}"`);
    expect(String(error)).toContain(`rabbitmqctl delete_queue "${queue}"`);
  });

  it("names groupQueue's setting when a group queue someone declared is a quorum queue or has its own dead-letter exchange", async () => {
    const admin = open();
    await admin.connect();
    const cases: Array<{ topic: string; args: Record<string, unknown>; setting: string }> = [
      { topic: `own-quorum.${run}`, args: { 'x-queue-type': 'quorum' }, setting: 'type' },
      { topic: `own-dlx.${run}`, args: { 'x-dead-letter-exchange': `mine.${run}` }, setting: 'deadLetterExchange' },
    ];
    for (const { topic, args, setting } of cases) {
      const queue = admin.queueFor(topic, 'g');
      await admin.native.connection.queueDeclare({ queue, durable: true, arguments: args });
      const bus = open();
      const error = await bus.subscribe(topic, { group: 'g' }, async () => undefined).catch((e: unknown) => e);
      await admin.native.connection.queueDelete({ queue });
      expect(isConfigError(error), String(error)).toBe(true);
      expect(String(error)).toContain(`queue "${queue}" exists with other settings than groupQueue gives it`);
      expect(String(error)).toContain(`set ${setting} in groupQueue to what the queue has`);
      expect(String(error)).toContain(`rabbitmqctl delete_queue "${queue}" — deletes the messages in it`);
    }
  });

  it('rejects connect() with a ConfigError for refused credentials and a TransportError for an unreachable broker', async () => {
    const url = new URL(defaultAmqpUrl());
    url.password = 'certainly-wrong';
    const refused = await open({ url: url.href }).connect().catch((e: unknown) => e);
    expect(isConfigError(refused), String(refused)).toBe(true);
    expect(String(refused)).toMatch(/ACCESS_REFUSED/);
    expect(String(refused)).not.toContain('certainly-wrong');
    const unreachable = await open({ url: 'amqp://guest:guest@127.0.0.1:1', connectTimeoutMs: 1_000 }).connect().catch((e: unknown) => e);
    expect(isTransportError(unreachable), String(unreachable)).toBe(true);
    expect(String(unreachable)).toMatch(/ECONNREFUSED/);
  });

  it('deleteGroup removes a group queue and its retry queues, and refuses while the transport still reads it', async () => {
    const bus = open();
    const topic = `cleanup.${run}`;
    const sub = await bus.subscribe(topic, { group: 'one-off' }, async () => {});
    const queue = bus.queueFor(topic, 'one-off');
    const refused = await bus.deleteGroup(topic, 'one-off').catch((e: unknown) => e);
    expect(isConfigError(refused) && refused.message).toMatch(/still reads its queue .*close that subscription first/);
    await sub.close();
    await bus.publish(topic, { payload: Buffer.from('waiting in the queue') });
    await bus.deleteGroup(topic, 'one-off');
    const { connection } = bus.native;
    for (const name of [queue, retryQueueName(queue, 100)]) {
      const missing = await connection.queueDeclare({ queue: name, passive: true }).catch((e: unknown) => e);
      expect(String(missing), name).toMatch(/NOT_FOUND/);
    }
    expect(bus.declared().queues).not.toContain(queue);
  });

  it('rejects subscribing to a native queue that does not exist with a ConfigError', async () => {
    const bus = open({ routes: { ghost: { exchange: '', queues: { g: `missing.${run}` } } } });
    const error = await bus.subscribe('ghost', { group: 'g' }, async () => {}).catch((e: unknown) => e);
    expect(isConfigError(error), String(error)).toBe(true);
    expect(String(error)).toMatch(/NOT_FOUND/);
  });

  it('reports every configuration problem at once', () => {
    let error: unknown;
    try {
      rabbitmq({ url: 'http://x', prefetch: 0, topology: { exchanges: [{ name: 'e', type: 'nope' as 'topic' }], queues: [{ name: 'q', type: 'quorum', exclusive: true }] } });
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    expect((error as { problems: string[] }).problems).toHaveLength(4);
  });

  it('with mandatory, rejects a publish no queue receives and accepts one a group receives', async () => {
    const bus = open({ mandatory: true });
    const topic = `mandatory.${run}`;
    const error = await bus.publish(topic, { payload: Buffer.from('nobody') }).catch((e: unknown) => e);
    expect(isTransportError(error), String(error)).toBe(true);
    expect(String(error)).toMatch(/reached no queue/);
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    await bus.publish(topic, { id: 'routed', payload: Buffer.from('somebody') });
    await inbox.untilCount(1, WAIT);
    expect(inbox.messages[0]!.id).toBe('routed');
  });

  it('reports a group’s lag as its queue depth', async () => {
    const bus = open();
    const topic = `lag.${run}`;
    const sub = await bus.subscribe(topic, { group: 'slow' }, async () => {});
    await sub.close(); // the queue stays; nobody consumes
    await bus.publish(topic, Array.from({ length: 25 }, (_, i) => ({ payload: Buffer.from(String(i)) })));
    const lag = await rabbitmqLag(bus, topic, 'slow');
    expect(lag).toMatchObject({ queue: `${topic}.slow.${run}`, ready: 25, unacked: 0, total: 25, consumers: 0, source: 'local' });
  });
});
