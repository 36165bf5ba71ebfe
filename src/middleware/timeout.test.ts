import { describe, expect, it } from 'vitest';
import { isClosedError, isTimeoutError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import { Inbox } from '../testing/inbox.ts';
import { deadLetter } from './dead-letter.ts';
import { harness, record } from './harness.test-support.ts';
import { retry } from './retry.ts';
import { timeout } from './timeout.ts';

/** A promise and its resolve function, to let a test decide when a handler goes on. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('timeout()', () => {
  it('aborts the handler’s signal after the deadline and fails the attempt with TimeoutError', async () => {
    let reason: unknown;
    const h = await harness('timeout', [deadLetter({ maxAttempts: 1 }), timeout(20)], async (_msg, ctx) => {
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => {
          reason = ctx.signal.reason;
          resolve();
        }),
      );
    });
    await h.publish({ n: 1 });
    await h.dlq.untilCount(1, 5_000);
    expect(isTimeoutError(reason)).toBe(true);
    expect(h.dlq.messages[0]!.headers['x-error']).toMatch(/^TimeoutError: handler "timeout" \(attempt 1\) timed out after 20 ms/);
    await h.stop();
  });

  it('lets a handler that finishes in time through untouched', async () => {
    const h = await harness('timeout-ok', [timeout(5_000)], async (msg, ctx, h) => {
      expect(ctx.signal.aborted).toBe(false);
      record(h.done, msg);
    });
    await h.publish([{ n: 1 }, { n: 2 }]);
    await h.done.untilCount(2, 5_000);
    await h.stop();
    expect(h.router.inspector.handler('timeout-ok')?.counters.failed).toBe(0);
  });

  it('refuses publishes from an attempt that timed out: only the next attempt’s messages are sent, and the late handler sees its signal aborted', async () => {
    const lateHandlerMayGoOn = gate();
    const lateHandlerDone = gate();
    let late: { aborted: boolean; error: unknown } | undefined;
    const h = await harness('timeout-late-publish', [retry({ attempts: 2, initialDelayMs: 1, jitter: 0 }), timeout(30)], async (msg, ctx, h) => {
      if (ctx.attempt === 1) {
        await lateHandlerMayGoOn.promise; // a call that does not take a signal
        try {
          ctx.publish(`${h.topic}.out`, h.codec.encode({ n: 1 }));
        } catch (error) {
          late = { aborted: ctx.signal.aborted, error };
        }
        lateHandlerDone.open();
        return;
      }
      // Attempt 2 runs while attempt 1's handler is still busy; it lets attempt 1 publish late first.
      lateHandlerMayGoOn.open();
      await lateHandlerDone.promise;
      ctx.publish(`${h.topic}.out`, h.codec.encode({ n: 2 }));
      record(h.done, msg);
    });
    const out = new Inbox();
    await h.bus.subscribe(`${h.topic}.out`, { group: 'w', from: 'earliest' }, async (m: Message) => out.push(m));
    await h.publish({ n: 0 });
    await h.done.untilCount(1, 5_000);
    await out.untilCount(1, 5_000);
    await h.stop();
    expect(out.messages.map((m) => h.codec.decode(m).n)).toEqual([2]);
    expect(late?.aborted).toBe(true);
    expect(isClosedError(late?.error)).toBe(true);
    expect((late?.error as Error).message).toMatch(
      /^attempt 1 of handler "timeout-late-publish" is closed: ctx\.publish\(\) refused, the attempt ended \(handler "timeout-late-publish" \(attempt 1\) timed out after 30 ms\); stop work when ctx\.signal aborts$/,
    );
  });
});
