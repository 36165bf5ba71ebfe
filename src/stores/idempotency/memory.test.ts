import { describe, expect, it } from 'vitest';
import { describeStore } from '../../testing/describe-store.ts';
import { memoryIdempotencyStore } from './memory.ts';

describeStore('memory', () => memoryIdempotencyStore());

describe('memoryIdempotencyStore', () => {
  it('forgets the oldest processed keys beyond maxKeys', async () => {
    const store = memoryIdempotencyStore({ maxKeys: 3 });
    const opts = { leaseMs: 1_000, ttlMs: 60_000 };
    for (const k of ['a', 'b', 'c', 'd']) {
      const c = await store.claim(k, opts);
      if (c.status === 'claimed') await c.complete();
    }
    expect((await store.claim('d', opts)).status).toBe('processed');
    expect((await store.claim('b', opts)).status).toBe('processed');
    expect((await store.claim('a', opts)).status).toBe('claimed');
  });

  it('expires marks by its clock', async () => {
    let now = 1_000;
    const store = memoryIdempotencyStore({ now: () => now });
    const c = await store.claim('k', { leaseMs: 10, ttlMs: 100 });
    if (c.status === 'claimed') await c.complete();
    now += 99;
    expect((await store.claim('k', { leaseMs: 10, ttlMs: 100 })).status).toBe('processed');
    now += 2;
    expect((await store.claim('k', { leaseMs: 10, ttlMs: 100 })).status).toBe('claimed');
  });
});
