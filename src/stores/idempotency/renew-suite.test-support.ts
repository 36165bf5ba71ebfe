// What every lease-based idempotency store does with `renew()`, run by each store's tests. (It
// belongs in `describeStore` of switchyard/testing; kept here until that suite takes it.)
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { IdempotencyClaim, IdempotencyStore } from './store.ts';

type Claimed = Extract<IdempotencyClaim, { status: 'claimed' }>;

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function claimed(store: IdempotencyStore, key: string, leaseMs: number): Promise<Claimed & { renew(): Promise<boolean> | boolean }> {
  const claim = await store.claim(key, { leaseMs, ttlMs: 60_000 });
  if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`);
  if (typeof claim.renew !== 'function') throw new Error(`${store.name}: a lease-based claim must have renew()`);
  return claim as Claimed & { renew(): Promise<boolean> | boolean };
}

/** Renewal: it keeps a claim past its lease, and says false once the claim is not its own. */
export function describeRenew(name: string, factory: () => IdempotencyStore | Promise<IdempotencyStore>): void {
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  let n = 0;
  const key = (): string => `renew-suite:${run}:${++n}`;
  const stores: IdempotencyStore[] = [];
  const make = async (): Promise<IdempotencyStore> => {
    const s = await factory();
    stores.push(s);
    return s;
  };

  describe(`idempotency store renewal: ${name}`, () => {
    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
    });

    it('keeps a renewed claim past its lease: a duplicate stays busy', async () => {
      const store = await make();
      const k = key();
      const claim = await claimed(store, k, 1_000);
      // 4 renewals 400 ms apart: 1.6 s, well past the lease, with 600 ms of it left at each.
      for (let i = 0; i < 4; i++) {
        await pause(400);
        expect(await claim.renew()).toBe(true);
        expect((await store.claim(k, { leaseMs: 1_000, ttlMs: 60_000 })).status).toBe('busy');
      }
      await claim.complete();
      expect((await store.claim(k, { leaseMs: 1_000, ttlMs: 60_000 })).status).toBe('processed');
    });

    it('says false, and extends nothing, once the lease ran out and another consumer took the key', async () => {
      const store = await make();
      const k = key();
      const first = await claimed(store, k, 50);
      let second: IdempotencyClaim | undefined;
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await pause(20)) {
        second = await store.claim(k, { leaseMs: 30_000, ttlMs: 60_000 });
        if (second.status === 'claimed') break;
      }
      expect(second?.status).toBe('claimed');
      expect(await first.renew()).toBe(false);
      await first.release(); // not its claim: the second keeps it
      expect((await store.claim(k, { leaseMs: 30_000, ttlMs: 60_000 })).status).toBe('busy');
      if (second?.status === 'claimed') await second.complete();
    });

    it('says false after the claim completed or was released', async () => {
      const store = await make();
      const done = await claimed(store, key(), 30_000);
      await done.complete();
      expect(await done.renew()).toBe(false);
      const k = key();
      const freed = await claimed(store, k, 30_000);
      await freed.release();
      expect(await freed.renew()).toBe(false);
      expect((await store.claim(k, { leaseMs: 30_000, ttlMs: 60_000 })).status).toBe('claimed');
    });
  });
}
