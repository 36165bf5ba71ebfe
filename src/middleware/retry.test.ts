import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { json } from '../codecs/json.ts';
import { isClosedError, PermanentError } from '../core/errors.ts';
import { Router } from '../router/router.ts';
import type { Middleware } from '../router/types.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory } from '../transports/memory/index.ts';
import { deadLetter } from './dead-letter.ts';
import { harness, quiet, record } from './harness.test-support.ts';
import { retry } from './retry.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

class BadInput extends Error {}

const fast = { initialDelayMs: 1, maxDelayMs: 5, jitter: 0 };

describe('retry()', () => {
  it('retries a transient failure in-process with a growing attempt number, within one delivery', async () => {
    const calls: Array<{ attempt: number; delivery: number; final: boolean }> = [];
    const h = await harness('retry-ok', [retry({ attempts: 5, ...fast })], async (msg, ctx, h) => {
      calls.push({ attempt: ctx.attempt, delivery: msg.attempt, final: ctx.final });
      ctx.publish(`${h.topic}.out`, h.codec.encode(msg.payload));
      if (ctx.attempt < 3) throw new Error('flaky downstream');
      record(h.done, msg);
    });
    const out: number[] = [];
    await h.bus.subscribe(`${h.topic}.out`, { group: 'w', from: 'earliest' }, async (m) => void out.push(h.codec.decode(m).n));
    await h.publish({ n: 7 });
    await h.done.untilCount(1, 5_000);
    expect(calls).toEqual([
      { attempt: 1, delivery: 1, final: false },
      { attempt: 2, delivery: 1, final: false },
      { attempt: 3, delivery: 1, final: false },
    ]);
    await h.stop();
    expect(h.router.inspector.handler('retry-ok')?.counters).toMatchObject({ received: 1, succeeded: 1, failed: 0, retried: 2, published: 1 });
    // Publishes queued by the failed attempts were discarded.
    expect(out).toEqual([7]);
  });

  it('does not retry permanent errors', async () => {
    let calls = 0;
    const h = await harness('retry-permanent', [retry({ attempts: 5, ...fast }), deadLetter()], async () => {
      calls++;
      throw new PermanentError('order rejected');
    });
    await h.publish({ n: 1 });
    await h.dlq.untilCount(1, 5_000);
    expect(calls).toBe(1);
    await h.stop();
  });

  it('hands over to the transport once its attempts are used up: the message is delivered again', async () => {
    const deliveries: number[] = [];
    const h = await harness('retry-exhausted', [retry({ attempts: 2, ...fast })], async (msg, ctx, h) => {
      deliveries.push(msg.attempt);
      if (msg.attempt === 1) throw new Error(`still failing (attempt ${ctx.attempt})`);
      record(h.done, msg);
    });
    await h.publish({ n: 1 });
    await h.done.untilCount(1, 5_000);
    expect(deliveries).toEqual([1, 1, 2]);
    await h.stop();
    expect(h.router.inspector.handler('retry-exhausted')?.counters).toMatchObject({ failed: 1, succeeded: 1 });
  });

  it('stops starting attempts once maxElapsedMs would be exceeded', async () => {
    let calls = 0;
    const h = await harness('retry-elapsed', [retry({ attempts: 100, initialDelayMs: 1_000, jitter: 0, maxElapsedMs: 500 })], async (msg, _ctx, h) => {
      calls++;
      if (msg.attempt === 1) throw new Error('down');
      record(h.done, msg);
    });
    await h.publish({ n: 1 });
    await h.done.untilCount(1, 5_000);
    expect(calls).toBe(2); // one attempt in the first delivery (the wait would pass the limit), one in the second
    await h.stop();
  });

  it.each([
    ['inside', (r: Middleware, d: Middleware) => [r, d]],
    ['outside', (r: Middleware, d: Middleware) => [d, r]],
  ])(
    'an error `retryable` declines is not retried in-process; the transport delivers it again and deadLetter() (%s retry) takes it at maxAttempts',
    async (where, order) => {
      const seen: Array<{ attempt: number; delivery: number }> = [];
      const r = retry({ attempts: 3, ...fast, retryable: (e) => !(e instanceof BadInput) });
      const h = await harness(`retry-declined-${where}`, order(r, deadLetter({ maxAttempts: 3 })), async (msg, ctx) => {
        seen.push({ attempt: ctx.attempt, delivery: msg.attempt });
        throw new BadInput('bad input, retrying will not help');
      });
      await h.publish({ n: 1 });
      await h.dlq.untilCount(1, 5_000);
      await h.stop();
      // One attempt per delivery (no in-process retry), and no endless redelivery.
      expect(seen).toEqual([
        { attempt: 1, delivery: 1 },
        { attempt: 2, delivery: 2 },
        { attempt: 3, delivery: 3 },
      ]);
      expect(h.dlq.messages[0]!.headers).toMatchObject({ 'x-attempts': '3', 'x-error': 'Error: bad input, retrying will not help' });
      expect(h.router.inspector.handler(`retry-declined-${where}`)?.counters).toMatchObject({ failed: 2, succeeded: 1, 'dead-lettered': 1 });
    },
  );

  it('counts a failed attempt’s own duration against maxElapsedMs: no retry once it is spent', async () => {
    let calls = 0;
    const h = await harness(
      'retry-elapsed-slow',
      [retry({ attempts: 10, initialDelayMs: 10, multiplier: 1, jitter: 0, maxElapsedMs: 100 })],
      async () => {
        calls++;
        await sleep(150); // a slow call that then fails
        throw new Error('slow and failing');
      },
      { memory: { redeliveryDelayMs: 60_000 } },
    );
    const failed = new Promise<void>((resolve) => h.router.inspector.on((e) => e.type === 'delivery-failed' && resolve()));
    await h.publish({ n: 1 });
    await failed;
    expect(calls).toBe(1);
    await h.stop();
  });

  it('a deadLetter() inside retry() dead-letters at maxAttempts what retry() gives up on because maxElapsedMs is spent', async () => {
    const deliveries: number[] = [];
    const h = await harness(
      'retry-elapsed-dlq',
      [retry({ attempts: 10, initialDelayMs: 10, multiplier: 1, jitter: 0, maxElapsedMs: 50 }), deadLetter({ maxAttempts: 2 })],
      async (msg) => {
        deliveries.push(msg.attempt);
        await sleep(60); // longer than the whole budget: each delivery gets one attempt
        throw new Error('slow and failing');
      },
    );
    await h.publish({ n: 1 });
    await h.dlq.untilCount(1, 5_000);
    await h.stop();
    expect(deliveries).toEqual([1, 2]);
  });

  it(
    'stop() does not wait out a backoff: the wait ends when intake stops, the message is neither retried nor dead-lettered, and it is delivered again',
    async () => {
      const bus = memory();
      const topic = `mw-test.${process.pid}.retry-stop`;
      const codec = json<{ n: number }>();
      const dlq = new Inbox();
      await bus.subscribe(`${topic}.dlq`, { group: 'dlq-watch', from: 'earliest' }, async (m) => dlq.push(m));
      const failed = Promise.withResolvers<void>();
      const errors: unknown[] = [];
      let attempts = 0;
      // Waits far longer than the test may run: stop() used to sit through them (and the drain time).
      const first = new Router({ logger: quiet, closeTransports: false, drainTimeoutMs: 120_000 })
        .use(deadLetter({ maxAttempts: 1 }), retry({ attempts: 3, initialDelayMs: 120_000, maxDelayMs: 120_000, jitter: 0, maxElapsedMs: 200_000 }))
        .handle('h', { from: bus, topic, group: 'g', codec }, async () => {
          attempts++;
          failed.resolve();
          throw new Error('downstream down');
        });
      first.inspector.on((e) => e.type === 'delivery-failed' && errors.push(e.error));
      await first.start();
      await bus.publish(topic, codec.encode({ n: 1 }));
      await failed.promise;
      await first.stop();
      expect(attempts).toBe(1);
      expect(errors).toHaveLength(1);
      expect(isClosedError(errors[0])).toBe(true);
      expect((errors[0] as Error).message).toMatch(/waiting to retry attempt 1.*the router is stopping/);
      expect(first.inspector.handler('h')?.counters).toMatchObject({ failed: 1, succeeded: 0 });
      // The retry never ran: its wait was cut short. Not counted as one.
      expect(first.inspector.handler('h')?.counters['retried'] ?? 0).toBe(0);

      // Not acknowledged: the group's next consumer gets it.
      const done = new Inbox();
      const second = new Router({ logger: quiet, closeTransports: false }).handle('h', { from: bus, topic, group: 'g', codec }, async (msg) => {
        done.push({ ...msg, payload: msg.bytes });
      });
      await second.start();
      await done.untilCount(1, 5_000);
      await second.stop();
      await bus.close();
      expect(dlq.messages).toHaveLength(0);
    },
    20_000,
  );

  it('keeps every wait within maxDelayMs, jitter included', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999); // the largest jitter: +99.8 %
    const starts: number[] = [];
    const h = await harness(
      'retry-max-delay',
      [retry({ attempts: 3, initialDelayMs: 100, multiplier: 1, maxDelayMs: 100, jitter: 1 })],
      async (msg, _ctx, h) => {
        starts.push(performance.now());
        if (starts.length < 3) throw new Error('down');
        record(h.done, msg);
      },
    );
    await h.publish({ n: 1 });
    await h.done.untilCount(1, 5_000);
    await h.stop();
    const waits = [starts[1]! - starts[0]!, starts[2]! - starts[1]!];
    // Clamped before the jitter, each wait would be ~200 ms.
    for (const wait of waits) {
      expect(wait).toBeGreaterThanOrEqual(99);
      expect(wait).toBeLessThan(170);
    }
  });
});
