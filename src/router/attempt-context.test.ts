import { describe, expect, it } from 'vitest';
import { harness } from '../middleware/harness.test-support.ts';
import { Inbox } from '../testing/inbox.ts';
import { AttemptContext } from './attempt-context.ts';
import type { Middleware } from './types.ts';

describe('AttemptContext', () => {
  it('made without a signal, aborts the signal its handler read early when the attempt ends, with the reason', async () => {
    const seen: Array<{ reason: unknown; publish: string }> = [];
    const finished = new Inbox();
    // The TSDoc example: a deadline from a header, with no controller of its own.
    const headerDeadline: Middleware = async function headerDeadline(msg, ctx, next) {
      const ms = Number(msg.headers['x-deadline-ms'] ?? 10_000);
      const attempt = new AttemptContext(ctx);
      const timer = setTimeout(() => attempt.end(new Error(`x-deadline-ms (${ms} ms) passed`)), ms);
      try {
        await next(attempt);
      } finally {
        clearTimeout(timer);
      }
    };
    const h = await harness('attempt-end', [headerDeadline], async (msg, ctx, h) => {
      const signal = ctx.signal;
      expect(signal.aborted).toBe(false);
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      let publish = 'sent';
      try {
        ctx.publish(`${h.topic}.out`, h.codec.encode({ n: 1 }));
      } catch (error) {
        publish = (error as Error).name;
      }
      seen.push({ reason: signal.reason, publish });
      finished.push(msg as never);
    });
    await h.publish({ n: 1 }, { headers: { 'x-deadline-ms': '20' } });
    await finished.untilCount(1, 5_000);
    await h.stop();
    expect(seen).toEqual([{ reason: new Error('x-deadline-ms (20 ms) passed'), publish: 'ClosedError' }]);
  });

  it('keeps the first reason, and an ended attempt keeps its signal aborted', async () => {
    const checked = new Inbox();
    const results: unknown[] = [];
    const h = await harness(
      'attempt-first-reason',
      [
        async function abortThenEnd(_msg, ctx, next) {
          const attempt = new AttemptContext(ctx);
          const early = attempt.signal;
          attempt.abortAttempt(new Error('claim lost'));
          attempt.end(new Error('deadline passed'));
          attempt.clearAttemptAbort(); // ended: stays aborted
          results.push(early.reason, attempt.signal.aborted, attempt.signal.reason);
          await next();
          checked.push({ id: 'x' } as never);
        },
      ],
      async (_msg, ctx) => void results.push(ctx.signal.aborted),
    );
    await h.publish({ n: 1 });
    await checked.untilCount(1, 5_000);
    await h.stop();
    // The delivery's own context (what next() without the view runs with) is untouched.
    expect(results).toEqual([new Error('claim lost'), true, new Error('claim lost'), false]);
  });
});
