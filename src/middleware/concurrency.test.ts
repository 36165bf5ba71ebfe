import { describe, expect, it } from 'vitest';
import { concurrency } from './concurrency.ts';
import { harness, record } from './harness.test-support.ts';
import { rateLimit } from './rate-limit.ts';

describe('concurrency()', () => {
  it('bounds the handlers in flight below what the subscription lets in', async () => {
    let inFlight = 0;
    let most = 0;
    const h = await harness(
      'bounded',
      [concurrency(2)],
      async (msg, _ctx, h) => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        record(h.done, msg);
      },
      { route: { concurrency: 10 } },
    );
    for (let i = 0; i < 20; i++) await h.publish({ n: i }, { key: `k${i}` });
    await h.done.untilCount(20, 10_000);
    expect(most).toBe(2);
    await h.stop();
  });
});

describe('rateLimit()', () => {
  it('spaces messages out to the given rate', async () => {
    const starts: number[] = [];
    const h = await harness(
      'rated',
      [rateLimit({ perSecond: 200 })],
      async (msg, _ctx, h) => {
        starts.push(performance.now());
        record(h.done, msg);
      },
      { route: { concurrency: 10 } },
    );
    for (let i = 0; i < 11; i++) await h.publish({ n: i }, { key: `k${i}` });
    await h.done.untilCount(11, 10_000);
    // 10 intervals of 5 ms: a limiter that lets them through at once would take ~0 ms.
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(45);
    await h.stop();
  });
});
