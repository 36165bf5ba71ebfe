import { describe, expect, it } from 'vitest';
import { deferred } from '../../internal/deferred.ts';
import { Dispatcher } from './dispatcher.ts';

interface E {
  seq: number;
  key: string;
}

describe('Dispatcher', () => {
  it('runs at most `concurrency` entries at once and never two of one key', async () => {
    let inFlight = 0;
    let max = 0;
    const running = new Set<string>();
    let overlaps = 0;
    const done = deferred();
    let settled = 0;
    const d = new Dispatcher<E>(3, async (e) => {
      if (running.has(e.key)) overlaps++;
      running.add(e.key);
      max = Math.max(max, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      running.delete(e.key);
      inFlight--;
      if (++settled === 40) done.resolve();
      return 0;
    });
    for (let i = 0; i < 40; i++) d.push({ seq: i, key: `k${i % 5}` });
    await done.promise;
    expect(max).toBe(3);
    expect(overlaps).toBe(0);
  });

  it('keeps a key busy for the hold time its run returns', async () => {
    const order: string[] = [];
    const d = new Dispatcher<E>(4, async (e) => {
      order.push(`${e.key}${e.seq}`);
      return e.seq === 0 ? 30 : 0;
    });
    d.push({ seq: 0, key: 'a' });
    d.push({ seq: 1, key: 'a' });
    d.push({ seq: 2, key: 'b' });
    await d.until(() => d.held === 0);
    expect(order.slice(0, 2)).toEqual(['a0', 'b2']);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(order).toEqual(['a0', 'b2', 'a1']);
  });

  it('keeps a key busy until the promise its run returns settles', async () => {
    const order: string[] = [];
    const back = deferred();
    const d = new Dispatcher<E>(4, async (e) => {
      order.push(`${e.key}${e.seq}`);
      return e.seq === 0 ? { until: back.promise } : 0;
    });
    d.push({ seq: 0, key: 'a' });
    d.push({ seq: 5, key: 'a' });
    await d.until(() => d.inflight === 0 && order.length === 1);
    d.push({ seq: 0, key: 'a' }); // the redelivery arrives and sorts first
    back.resolve();
    await d.until(() => d.held === 0);
    expect(order).toEqual(['a0', 'a0', 'a5']);
  });

  it('after stop(), takeIdle() keeps the waiting entries of a key whose handler still runs', async () => {
    const gate = deferred();
    const d = new Dispatcher<E>(2, async (e) => {
      if (e.seq === 0) await gate.promise;
      return 0;
    });
    d.push({ seq: 0, key: 'a' });
    d.push({ seq: 1, key: 'b' });
    await d.until(() => d.inflight === 1); // b1 settled, a0 runs
    d.stop();
    d.push({ seq: 2, key: 'a' });
    d.push({ seq: 3, key: 'b' });
    d.push({ seq: 4, key: '' });
    expect(d.takeIdle().map((e) => e.seq)).toEqual([3, 4]);
    expect(d.held).toBe(2); // a0 running, a2 behind it
    gate.resolve();
    await d.until(() => d.inflight === 0);
    expect(d.takeWaiting().map((e) => e.seq)).toEqual([2]);
    expect(d.held).toBe(0);
  });

  it('hands back waiting entries after stop() and reports when in-flight ones settle', async () => {
    const gate = deferred();
    const d = new Dispatcher<E>(1, async () => {
      await gate.promise;
      return 0;
    });
    d.push({ seq: 0, key: '' });
    d.push({ seq: 1, key: '' });
    d.push({ seq: 2, key: '' });
    d.stop();
    expect(d.takeWaiting().map((e) => e.seq)).toEqual([1, 2]);
    expect(d.inflight).toBe(1);
    gate.resolve();
    await d.until(() => d.inflight === 0);
    expect(d.held).toBe(0);
  });
});
