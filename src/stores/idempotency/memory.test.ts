import { describe, expect, it } from 'vitest';
import { describeStore } from '../../testing/describe-store.ts';
import { memoryIdempotencyStore } from './memory.ts';
import { describeRenew } from './renew-suite.test-support.ts';
import type { IdempotencyClaim } from './store.ts';

describeStore('memory', () => memoryIdempotencyStore());
describeRenew('memory', () => memoryIdempotencyStore());

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

describe('memoryIdempotencyStore claims', () => {
  const opts = { leaseMs: 10, ttlMs: 1_000 };

  it('releases a failed claim, so the next delivery claims the key again', async () => {
    const store = memoryIdempotencyStore({ now: () => 0 });
    const first = store.claim('k', opts) as IdempotencyClaim;
    expect(first.status).toBe('claimed');
    expect((store.claim('k', opts) as IdempotencyClaim).status).toBe('busy');
    if (first.status === 'claimed') await first.release();
    expect((store.claim('k', opts) as IdempotencyClaim).status).toBe('claimed');
  });

  it('lets another consumer take over an expired lease; the first one completing still marks the key', async () => {
    let now = 0;
    const store = memoryIdempotencyStore({ now: () => now });
    const first = store.claim('k', opts) as IdempotencyClaim;
    now = 10; // lease over
    const second = store.claim('k', opts) as IdempotencyClaim;
    expect(second.status).toBe('claimed');
    if (first.status === 'claimed') {
      await first.release(); // not its claim any more: the second keeps it
      expect((store.claim('k', opts) as IdempotencyClaim).status).toBe('busy');
      await first.complete();
    }
    expect((store.claim('k', opts) as IdempotencyClaim).status).toBe('processed');
  });

  it('keeps claims in progress when full, and refuses a new key only when all of them are', async () => {
    const store = memoryIdempotencyStore({ maxKeys: 2, now: () => 0 });
    const a = store.claim('a', opts) as IdempotencyClaim;
    store.claim('b', opts);
    expect(() => store.claim('c', opts)).toThrow(/all 2 keys are claims still in progress; raise maxKeys/);
    if (a.status === 'claimed') await a.complete();
    expect((store.claim('c', opts) as IdempotencyClaim).status).toBe('claimed'); // took a's slot
    expect((store.claim('b', opts) as IdempotencyClaim).status).toBe('busy');
  });

  it('rejects a maxKeys that is not a whole number ≥ 1', () => {
    expect(() => memoryIdempotencyStore({ maxKeys: 0 })).toThrow(/maxKeys must be a whole number ≥ 1/);
  });
});
