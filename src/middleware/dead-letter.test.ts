import { describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { PermanentError } from '../core/errors.ts';
import type { Message, OutgoingMessage } from '../core/message.ts';
import { replayDeadLetters } from '../router/dlq.ts';
import { memory } from '../transports/memory/index.ts';
import { deadLetter } from './dead-letter.ts';
import { Router } from '../router/router.ts';
import { Inbox } from '../testing/inbox.ts';
import { harness, quiet } from './harness.test-support.ts';
import { retry } from './retry.ts';

describe('deadLetter()', () => {
  it('after maxAttempts failed deliveries, publishes the message with its payload, headers and the failure, then acknowledges it', async () => {
    let calls = 0;
    const h = await harness('dl-attempts', [deadLetter({ maxAttempts: 3 })], async () => {
      calls++;
      throw new TypeError('downstream said no');
    });
    await h.publish({ n: 42 }, { key: 'order-1', id: 'msg-1', headers: { 'x-tenant': 't1' } });
    await h.dlq.untilCount(1, 5_000);
    const dead = h.dlq.messages[0]!;
    expect(calls).toBe(3);
    expect(dead.id).toBe('msg-1');
    expect(h.codec.decode(dead)).toEqual({ n: 42 });
    expect(dead.headers).toMatchObject({
      'x-tenant': 't1',
      'content-type': 'application/json',
      'x-error': 'TypeError: downstream said no',
      'x-original-topic': h.topic,
      'x-original-partition': '0',
      'x-original-offset': '0',
      'x-original-key': 'order-1',
      'x-original-group': 'g',
      'x-attempts': '3',
      'x-handler': 'dl-attempts',
    });
    expect(dead.headers['x-error-stack']).toMatch(/^TypeError: downstream said no\n\s+at /);
    expect(dead.headers['x-error-stack']!.split('\n').length).toBeLessThanOrEqual(9);
    expect(Number.isNaN(Date.parse(dead.headers['x-failed-at']!))).toBe(false);
    // Acknowledged: the stream goes on.
    await h.publish({ n: 43 });
    await h.dlq.untilCount(2, 5_000);
    await h.stop();
    expect(h.router.inspector.handler('dl-attempts')?.counters).toMatchObject({ 'dead-lettered': 2, succeeded: 2, failed: 4 });
  });

  it('keeps the message’s own timestamp on the dead letter and on its replay (x-failed-at says when it failed)', async () => {
    let fixed = false;
    const seen = new Inbox();
    const h = await harness('dl-time', [deadLetter({ maxAttempts: 1 })], async (msg) => {
      if (!fixed) throw new PermanentError('not yet');
      seen.push(msg as unknown as Message);
    });
    const happened = Date.now() - 3 * 86_400_000 - 7;
    await h.bus.publish(h.topic, { ...h.codec.encode({ n: 1 }, { id: 'old-event' }), timestamp: happened });
    await h.dlq.untilCount(1, 5_000);
    expect(h.dlq.messages[0]!.timestamp).toBe(happened);
    fixed = true;
    expect(await replayDeadLetters(h.bus, `${h.topic}.dlq`, { idleMs: 100 })).toEqual(['old-event']);
    await seen.untilCount(1, 5_000);
    expect(seen.messages[0]!.timestamp).toBe(happened);
    await h.stop();
  });

  it('dead-letters a permanent error at once', async () => {
    let calls = 0;
    const h = await harness('dl-permanent', [deadLetter({ maxAttempts: 10 })], async () => {
      calls++;
      throw new PermanentError('unknown customer');
    });
    await h.publish({ n: 1 });
    await h.dlq.untilCount(1, 5_000);
    expect(calls).toBe(1);
    expect(h.dlq.messages[0]!.headers['x-error']).toBe('PermanentError: unknown customer');
    await h.stop();
  });

  it('inside retry(): dead-letters when the in-process attempts are used up, not before', async () => {
    const attempts: number[] = [];
    const h = await harness('dl-inside-retry', [retry({ attempts: 4, initialDelayMs: 1, jitter: 0 }), deadLetter({ maxAttempts: 4 })], async (_m, ctx) => {
      attempts.push(ctx.attempt);
      throw new Error('nope');
    });
    await h.publish({ n: 1 });
    await h.dlq.untilCount(1, 5_000);
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(h.dlq.messages[0]!.headers['x-attempts']).toBe('4');
    await h.stop();
  });

  it('drops what the failed handler queued with ctx.publish(), and sends to another transport and topic when told', async () => {
    const side = memory();
    const got: OutgoingMessage[] = [];
    await side.subscribe('graveyard', { group: 'w' }, async (m) => void got.push(m));
    let leaked = 0;
    const h = await harness('dl-elsewhere', [deadLetter({ maxAttempts: 1, transport: side, topic: () => 'graveyard' })], async (msg, ctx, h) => {
      ctx.publish(`${h.topic}.out`, h.codec.encode(msg.payload));
      throw new Error('x');
    });
    await h.bus.subscribe(`${h.topic}.out`, { group: 'w' }, async () => void leaked++);
    await h.publish({ n: 1 });
    await h.router.stop();
    await side.close();
    expect(got).toHaveLength(1);
    expect(leaked).toBe(0);
    await h.bus.close();
  });

  it('leaves the message unacknowledged when the dead-letter publish fails (nothing is lost)', async () => {
    const bus = memory();
    let dlqFailures = 1;
    const publish = bus.publish.bind(bus);
    bus.publish = async (topic, messages) => {
      if (topic.endsWith('.dlq') && dlqFailures-- > 0) throw new Error('dlq unavailable');
      return publish(topic, messages);
    };
    const deliveries: number[] = [];
    const dead = new Inbox();
    await bus.subscribe('dl-fail.in.dlq', { group: 'w' }, async (m) => dead.push(m));
    const router = new Router({ logger: quiet }).use(deadLetter({ maxAttempts: 1 })).handle('x', { from: bus, topic: 'dl-fail.in', group: 'g' }, async (m) => {
      deliveries.push(m.attempt);
      throw new Error('bad');
    });
    await router.start();
    await bus.publish('dl-fail.in', json().encode({ a: 1 }));
    await dead.untilCount(1, 5_000);
    await router.stop();
    expect(deliveries).toEqual([1, 2]);
    expect(dead.messages[0]!.headers['x-attempts']).toBe('2');
  });

  for (const order of ['inside retry()', 'outside retry()'] as const) {
    it(`dead-letters a message whose publishes the transport keeps refusing, after maxAttempts deliveries (${order})`, async () => {
      const runs: number[] = [];
      const use = [retry({ attempts: 2, initialDelayMs: 0 }), deadLetter({ maxAttempts: 3 })];
      const name = order === 'inside retry()' ? 'dl-refused-inside' : 'dl-refused-outside';
      const h = await harness(name, order === 'inside retry()' ? use : use.reverse(), async (msg, ctx) => {
        runs.push(msg.attempt);
        ctx.publish('not a topic', { payload: new Uint8Array([1]) }); // refused by the transport, every time
      });
      await h.publish({ n: 1 });
      await h.dlq.untilCount(1, 5_000);
      await h.stop();
      const letter = h.dlq.messages[0];
      // Each delivery ran once (the send failed after the handler succeeded: no in-process retry).
      expect(runs).toEqual([1, 2, 3]);
      expect(letter!.headers['x-attempts']).toBe('3');
      expect(letter!.headers['x-error']).toMatch(/not a topic/);
      expect(h.router.inspector.handler(name)?.counters.published).toBe(0);
    });
  }

  it('refuses to dead-letter into a topic the handler’s own pattern consumes, naming the fix', async () => {
    const bus = memory();
    const errors: string[] = [];
    const router = new Router({ logger: { ...quiet, warn: (m) => errors.push(m) } })
      .use(deadLetter({ maxAttempts: 1 }))
      .handle('all-orders', { from: bus, topic: 'dl-loop.>', group: 'g' }, async () => {
        throw new PermanentError('rejected');
      });
    const failed = new Inbox();
    router.inspector.on((e) => {
      if (e.type === 'delivery-failed') failed.push({ id: e.error.message } as never);
    });
    await router.start();
    await bus.publish('dl-loop.placed', { payload: new Uint8Array([1]) });
    await failed.untilCount(1, 5_000);
    await router.stop();
    expect(failed.messages[0]!.id).toMatch(/dead-letter topic "dl-loop\.placed\.dlq" matches the handler's own pattern "dl-loop\.>".*"dlq\.dl-loop\.placed"/);
  });
});
