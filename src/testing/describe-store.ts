import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { IdempotencyStore } from '../stores/idempotency/store.ts';

/** What an idempotency store implementation does, for `describeStore`. */
export interface StoreSuiteOptions {
  /** Processed marks expire after their TTL. Default true. */
  ttl?: boolean;
  /** A claim whose holder vanished can be taken over after `leaseMs`. False for transactional stores. Default true. */
  lease?: boolean;
  /** Cleans up after the suite (drop tables, delete keys). */
  cleanup?: () => Promise<void>;
}

/** Polls `check` until it holds, for expiry that only time brings (TTL, leases); fails after `ms`. */
async function eventually(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, wait));
  }
}

/**
 * The suite every idempotency store runs (yours too): claims are exclusive, completed keys are
 * skipped, released keys run again, concurrent claims of one key let exactly one through, marks
 * expire after their TTL and abandoned claims after their lease.
 *
 * @example
 * ```ts
 * describeStore('memory', () => memoryIdempotencyStore());
 * describeStore('postgres', () => postgresIdempotencyStore({ pool, table }), { lease: false, cleanup });
 * ```
 */
export function describeStore(name: string, factory: () => IdempotencyStore | Promise<IdempotencyStore>, options: StoreSuiteOptions = {}): void {
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  let n = 0;
  const key = (): string => `store-suite:${run}:${++n}`;
  const long = { leaseMs: 30_000, ttlMs: 60_000 };
  const stores: IdempotencyStore[] = [];
  const make = async (): Promise<IdempotencyStore> => {
    const s = await factory();
    stores.push(s);
    return s;
  };

  describe(`idempotency store: ${name}`, () => {
    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await options.cleanup?.();
    });

    it('claims a new key, then reports it processed once completed', async () => {
      const store = await make();
      const k = key();
      const claim = await store.claim(k, long);
      expect(claim.status).toBe('claimed');
      if (claim.status === 'claimed') await claim.complete();
      expect((await store.claim(k, long)).status).toBe('processed');
    });

    it('lets a released key be claimed again', async () => {
      const store = await make();
      const k = key();
      const claim = await store.claim(k, long);
      if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`);
      await claim.release();
      const again = await store.claim(k, long);
      expect(again.status).toBe('claimed');
      if (again.status === 'claimed') await again.release();
    });

    it('lets exactly one of several concurrent claims of one key through', async () => {
      const store = await make();
      const k = key();
      const first = await store.claim(k, long);
      if (first.status !== 'claimed') throw new Error(`expected claimed, got ${first.status}`);
      // Later claims either report busy now, or (transactional stores) wait for the first to finish.
      const others = Array.from({ length: 5 }, () => store.claim(k, long));
      await first.complete();
      const statuses = (await Promise.all(others)).map((c) => c.status);
      for (const s of statuses) expect(['busy', 'processed']).toContain(s);
      expect((await store.claim(k, long)).status).toBe('processed');
    });

    it('keeps different keys apart', async () => {
      const store = await make();
      const [a, b] = [key(), key()];
      const ca = await store.claim(a, long);
      const cb = await store.claim(b, long);
      expect([ca.status, cb.status]).toEqual(['claimed', 'claimed']);
      if (ca.status === 'claimed') await ca.complete();
      if (cb.status === 'claimed') await cb.release();
      expect((await store.claim(a, long)).status).toBe('processed');
      const again = await store.claim(b, long);
      expect(again.status).toBe('claimed');
      if (again.status === 'claimed') await again.release();
    });

    it('claims a scoped key as the joined key, where the store takes scope and key apart', async (test) => {
      const store = await make();
      if (!store.claimScoped) return test.skip(`${store.name} has no claimScoped (optional): the middleware joins scope and key for it`);
      const [scope, k] = [`scope-${run}`, key()];
      const claim = await store.claimScoped(scope, k, long);
      expect(claim.status).toBe('claimed');
      if (claim.status === 'claimed') await claim.complete();
      expect((await store.claim(`${scope}:${k}`, long)).status).toBe('processed');
      expect((await store.claimScoped(`${scope}-other`, k, long)).status).toBe('claimed');
      const joined = key();
      const first = await store.claim(`${scope}:${joined}`, long);
      if (first.status === 'claimed') await first.complete();
      expect((await store.claimScoped(scope, joined, long)).status).toBe('processed');
    });

    it.skipIf(options.ttl === false)('forgets a processed key after its TTL', async () => {
      const store = await make();
      const k = key();
      const claim = await store.claim(k, { leaseMs: 30_000, ttlMs: 50 });
      if (claim.status === 'claimed') await claim.complete();
      await eventually(
        async () => {
          const c = await store.claim(k, { leaseMs: 30_000, ttlMs: 50 });
          if (c.status === 'claimed') await c.release();
          return c.status === 'claimed';
        },
        10_000,
        'the processed mark to expire',
      );
    });

    it.skipIf(options.lease === false)('lets another consumer take over a claim whose lease ran out', async () => {
      const store = await make();
      const k = key();
      const abandoned = await store.claim(k, { leaseMs: 50, ttlMs: 60_000 });
      expect(abandoned.status).toBe('claimed');
      await eventually(
        async () => {
          const c = await store.claim(k, long);
          if (c.status === 'claimed') await c.complete();
          return c.status === 'claimed';
        },
        10_000,
        'the lease to run out',
      );
      expect((await store.claim(k, long)).status).toBe('processed');
    });
  });
}
