import { describe, expect, it } from 'vitest';
import { memoryIdempotencyStore } from '../stores/idempotency/memory.ts';
import type { IdempotencyClaim, IdempotencyStore } from '../stores/idempotency/store.ts';
import type { Middleware } from '../router/types.ts';
import { Inbox } from '../testing/inbox.ts';
import { harness, record } from './harness.test-support.ts';
import { idempotency } from './idempotency.ts';

/** Publishes ids same, same, other through `store`: the handler runs for the first and the third only. */
async function expectRepeatedIdSkipped(name: string, store: IdempotencyStore): Promise<void> {
  const runs: number[] = [];
  const h = await harness(name, [idempotency({ store })], async (msg, _ctx, h) => {
    runs.push(msg.payload.n);
    record(h.done, msg);
  });
  await h.publish({ n: 1 }, { id: 'same' });
  await h.publish({ n: 1 }, { id: 'same' });
  await h.publish({ n: 2 }, { id: 'other' });
  await h.done.untilCount(2, 5_000);
  await h.stop();
  expect(runs).toEqual([1, 2]);
  expect(h.router.inspector.handler(name)?.counters).toMatchObject({ 'skipped-duplicate': 1, succeeded: 3 });
}

describe('idempotency()', () => {
  it('skips a message whose id was already processed', async () => {
    await expectRepeatedIdSkipped('idem', memoryIdempotencyStore());
  });

  it('never runs concurrent duplicates of one key at once; the second waits and is skipped', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const entered = new Inbox();
    const enter: Middleware = async function enter(msg, _ctx, next) {
      entered.push(msg);
      await next();
    };
    const h = await harness(
      'idem-concurrent',
      [enter, idempotency({ store: memoryIdempotencyStore() })],
      async () => {
        most = Math.max(most, ++running);
        runs++;
        await gate;
        running--;
      },
      { route: { concurrency: 4 } },
    );
    // Different ordering keys so the transport runs them in parallel; same message id.
    for (const key of ['a', 'b', 'c']) await h.publish({ n: 1 }, { id: 'dup', key });
    await entered.untilCount(3, 5_000);
    release();
    await h.stop();
    expect(runs).toBe(1);
    expect(most).toBe(1);
    expect(h.router.inspector.handler('idem-concurrent')?.counters['skipped-duplicate']).toBe(2);
  });

  it('waits for a store that answers with thenables of another promise library, not native promises', async () => {
    const inner = memoryIdempotencyStore();
    // A thenable that is not a Promise: what a store built on another promise library returns.
    const later = <T>(value: T): PromiseLike<T> => ({ then: (ok, fail) => Promise.resolve(value).then(ok, fail) });
    const store: IdempotencyStore = {
      name: 'thenables',
      claim: (key, options) => {
        const claim = inner.claim(key, options) as IdempotencyClaim;
        return later(claim.status === 'claimed' ? { ...claim, complete: () => later(claim.complete()) as Promise<void> } : claim) as Promise<IdempotencyClaim>;
      },
      close: () => inner.close(),
    };
    await expectRepeatedIdSkipped('idem-thenable', store);
  });

  it('releases the key when the handler fails, so the redelivery runs it', async () => {
    const attempts: number[] = [];
    const h = await harness('idem-fail', [idempotency({ store: memoryIdempotencyStore() })], async (msg, _ctx, h) => {
      attempts.push(msg.attempt);
      if (msg.attempt === 1) throw new Error('first try fails');
      record(h.done, msg);
    });
    await h.publish({ n: 1 });
    await h.done.untilCount(1, 5_000);
    await h.stop();
    expect(attempts).toEqual([1, 2]);
  });

  it('keys on a custom function', async () => {
    const runs: number[] = [];
    const h = await harness('idem-key', [idempotency({ store: memoryIdempotencyStore(), key: (m) => m.headers['x-order'] ?? m.id })], async (msg, _ctx, h) => {
      runs.push(msg.payload.n);
      record(h.done, msg);
    });
    await h.publish({ n: 1 }, { headers: { 'x-order': 'o-1' } });
    await h.publish({ n: 2 }, { headers: { 'x-order': 'o-1' } });
    await h.publish({ n: 3 }, { headers: { 'x-order': 'o-2' } });
    await h.done.untilCount(2, 5_000);
    await h.stop();
    expect(runs).toEqual([1, 3]);
  });
});
