import { describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { memory } from './transport.ts';

describe('memory transport close()', () => {
  it('gives up on a handler that ignores its aborted signal: the group gets that message again first, and its late result commits nothing', async () => {
    const bus = memory();
    const ids = ['m-0', 'm-1', 'm-2'];
    const started = Promise.withResolvers<void>();
    const stuck = Promise.withResolvers<void>();
    const first = await bus.subscribe('jobs', { group: 'g', drainTimeoutMs: 50 }, async () => {
      started.resolve();
      await stuck.promise; // ignores its signal
    });
    await bus.publish('jobs', ids.map((id) => ({ id, key: 'k', payload: Buffer.from(id) })));
    await started.promise;
    await first.close();
    const lag = (): number | undefined => bus.broker.lag().find((l) => l.group === 'g')?.lag;
    let lagWhileRunning: number | undefined;
    const inbox = new Inbox();
    await bus.subscribe('jobs', { group: 'g' }, async (m) => {
      if (m.id === 'm-0') {
        stuck.resolve(); // the abandoned handler succeeds now, while its message runs here
        await new Promise((resolve) => setTimeout(resolve, 10));
        lagWhileRunning = lag();
      }
      inbox.push(m);
    });
    await inbox.untilCount(3, 5_000);
    expect(inbox.messages.map((m) => [m.id, m.attempt])).toEqual([
      ['m-0', 2],
      ['m-1', 1],
      ['m-2', 1],
    ]);
    expect(lagWhileRunning).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 10)); // the last handler's result is in
    expect(lag()).toBe(0);
    await bus.close();
  });

  it('rejects a drainTimeoutMs that is not a number of ms a timer can wait', async () => {
    const bus = memory();
    for (const drainTimeoutMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '100' as unknown as number]) {
      await expect(bus.subscribe('jobs', { group: 'g', drainTimeoutMs }, async () => {})).rejects.toThrow(/drainTimeoutMs must be a number of ms from 0 to 2147483647, got/);
    }
    await expect(bus.subscribe('jobs', { group: 'g', drainTimeoutMs: 0 }, async () => {})).resolves.toBeDefined();
    await bus.close();
  });
});
