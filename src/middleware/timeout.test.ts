import { describe, expect, it } from 'vitest';
import { isTimeoutError } from '../core/errors.ts';
import { deadLetter } from './dead-letter.ts';
import { harness, record } from './harness.test-support.ts';
import { timeout } from './timeout.ts';

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
});
