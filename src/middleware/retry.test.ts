import { describe, expect, it } from 'vitest';
import { PermanentError } from '../core/errors.ts';
import { deadLetter } from './dead-letter.ts';
import { harness, record } from './harness.test-support.ts';
import { retry } from './retry.ts';

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
});
