import { describe, expect, it } from 'vitest';
import type { RouterEvent } from '../router/inspector.ts';
import type { Middleware } from '../router/types.ts';
import { Router } from '../router/router.ts';
import { memory } from '../transports/memory/index.ts';
import { concurrency } from './concurrency.ts';
import { harness, quiet, record } from './harness.test-support.ts';
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

describe('waiting middleware when the router stops', () => {
  /**
   * A router whose route's middleware `waiter` makes messages wait, with a layer before it telling
   * when `count` messages have reached it. Its warnings are kept (a drain that timed out says so).
   */
  async function waitingRoute(name: string, waiter: Middleware, count: number, handler: () => Promise<void> | void) {
    const bus = memory();
    const topic = `waiting-stop.${process.pid}.${name}`;
    const warnings: string[] = [];
    const failures: string[] = [];
    let reached = 0;
    let allThere!: () => void;
    const arrived = new Promise<void>((resolve) => (allThere = resolve));
    const arrival: Middleware = async function arrival(_msg, _ctx, next) {
      if (++reached === count) allThere();
      await next();
    };
    const router = new Router({ logger: { ...quiet, warn: (m) => void warnings.push(m) }, drainTimeoutMs: 2_000 });
    router.handle(name, { from: bus, topic, group: 'g', concurrency: count, use: [arrival, waiter] }, handler);
    router.inspector.on((e) => {
      if (e.type === 'delivery-failed') failures.push(e.error.message);
    });
    await router.start();
    await bus.publish(topic, Array.from({ length: count }, (_, i) => ({ payload: new Uint8Array([i]), key: `k${i}` })));
    await arrived;
    return { router, warnings, failures };
  }

  it('concurrency(): a message still waiting for a slot is left to be delivered again, not run after stop() began', async () => {
    let release!: () => void;
    const busy = new Promise<void>((resolve) => (release = resolve));
    let runs = 0;
    const { router, warnings, failures } = await waitingRoute('slot-stop', concurrency(1), 4, async () => {
      runs++;
      await busy; // the first message holds the only slot until stop() has begun
    });
    const stopping = new Promise<void>((resolve) => {
      const off = router.inspector.on((e) => {
        // Handler states change after intake stopped.
        if (e.type === 'handler-state' && e.state === 'stopping') {
          off();
          resolve();
        }
      });
    });
    const stopped = router.stop();
    await stopping;
    release();
    await stopped;
    expect(runs).toBe(1);
    expect(router.inspector.handler('slot-stop')?.counters).toMatchObject({ received: 4, succeeded: 1, failed: 3 });
    expect(failures).toEqual(Array(3).fill(expect.stringContaining('concurrency() slot) is closed: the router is stopping')));
    expect(warnings.filter((w) => w.startsWith('drain time'))).toEqual([]);
  });

  it('rateLimit(): messages waiting for a token are left to be delivered again, stop() does not wait for their turns', async () => {
    let runs = 0;
    // One message a minute: without the stop ending the waits, the drain time would run out.
    const { router, warnings, failures } = await waitingRoute('token-stop', rateLimit({ perSecond: 1 / 60 }), 4, () => void runs++);
    await router.stop();
    expect(runs).toBe(1);
    expect(router.inspector.handler('token-stop')?.counters).toMatchObject({ received: 4, succeeded: 1, failed: 3 });
    expect(failures).toEqual(Array(3).fill(expect.stringContaining('rateLimit()) is closed: the router is stopping')));
    expect(warnings.filter((w) => w.startsWith('drain time'))).toEqual([]);
  });
});
