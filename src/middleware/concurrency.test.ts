import { describe, expect, it } from 'vitest';
import type { RouterEvent } from '../router/inspector.ts';
import { concurrency } from './concurrency.ts';
import { harness, record } from './harness.test-support.ts';
import { rateLimit } from './rate-limit.ts';
import { timeout } from './timeout.ts';

/** How many deliveries of message `id` have failed so far. */
function failures(events: RouterEvent[], id: string): number {
  return events.filter((e) => e.type === 'delivery-failed' && e.messageId === id).length;
}

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

  it('lets a message whose timeout() fired while it waited for a slot leave the queue: it never runs the handler later', async () => {
    let releaseStuck!: () => void;
    const stuck = new Promise<void>((resolve) => (releaseStuck = resolve));
    const runs: Record<string, number> = {};
    const events: RouterEvent[] = [];
    const h = await harness(
      'slot-timeout',
      [timeout(30)],
      async (msg, _ctx, h) => {
        runs[msg.id] = (runs[msg.id] ?? 0) + 1;
        if (msg.id === 'stuck' && runs[msg.id] === 1) await stuck; // holds the slot past its timeout
        record(h.done, msg);
      },
      { route: { concurrency: 2, use: [concurrency(1)] } },
    );
    h.router.inspector.on((e) => {
      events.push(e);
      h.done.notify();
    });
    await h.publish({ n: 1 }, { id: 'stuck', key: 'a' });
    await h.publish({ n: 2 }, { id: 'waiting', key: 'b' });
    // 'waiting' timed out in the queue twice: its first two attempts must be gone from it.
    await h.done.until(() => failures(events, 'waiting') >= 2, 5_000, () => `two timeouts of "waiting" (got ${failures(events, 'waiting')})`);
    releaseStuck();
    await h.done.until(() => h.done.ids().has('waiting') && h.done.messages.filter((m) => m.id === 'stuck').length === 2, 5_000, () => 'both handled');
    await h.stop();
    // 'stuck': its first run (which ignored its signal) and the redelivery that succeeded.
    expect(runs).toEqual({ stuck: 2, waiting: 1 });
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

  it('gives up the wait of a message whose timeout() fired: when its turn comes, that attempt does not run the handler', async () => {
    const runs: Array<{ id: string; delivery: number; failedBefore: number }> = [];
    const events: RouterEvent[] = [];
    const h = await harness(
      'rated-timeout',
      [timeout(40)],
      async (msg, _ctx, h) => {
        runs.push({ id: msg.id, delivery: msg.attempt, failedBefore: failures(events, msg.id) });
        record(h.done, msg);
      },
      { route: { concurrency: 3, use: [rateLimit({ perSecond: 10 })] } },
    );
    h.router.inspector.on((e) => {
      events.push(e);
      h.done.notify();
    });
    // One token at once, then one per 100 ms: the second and third wait past their 40 ms timeout.
    await h.publish({ n: 1 }, { id: 'first', key: 'a' });
    await h.publish({ n: 2 }, { id: 'second', key: 'b' });
    await h.publish({ n: 3 }, { id: 'third', key: 'c' });
    await h.done.until(() => h.done.ids().size === 3, 10_000, () => `all three handled (got ${[...h.done.ids()].join(', ')})`);
    await h.stop();
    expect(failures(events, 'second')).toBeGreaterThanOrEqual(1);
    // Each message ran once, in the delivery that was live: no timed-out wait reached the handler.
    expect(runs.map((r) => r.id).toSorted()).toEqual(['first', 'second', 'third']);
    for (const run of runs) expect(run.delivery).toBe(run.failedBefore + 1);
  });
});
