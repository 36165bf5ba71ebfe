import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../core/errors.ts';
import { memoryIdempotencyStore } from '../stores/idempotency/memory.ts';
import type { IdempotencyClaim, IdempotencyStore } from '../stores/idempotency/store.ts';
import type { Middleware } from '../router/types.ts';
import { Inbox } from '../testing/inbox.ts';
import { harness, record } from './harness.test-support.ts';
import { idempotency } from './idempotency.ts';
import { retry } from './retry.ts';
import { timeout } from './timeout.ts';

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

  it('releases the key when marking it processed fails, so the redelivery runs at once instead of waiting out the lease', async () => {
    const inner = memoryIdempotencyStore();
    let completes = 0;
    // A store whose first "processed" write fails (a lost connection, a full disk).
    const store: IdempotencyStore = {
      name: 'flaky-complete',
      claim: (key, options) => {
        const claim = inner.claim(key, options) as IdempotencyClaim;
        if (claim.status !== 'claimed') return claim;
        return {
          status: 'claimed',
          complete: async () => {
            if (++completes === 1) throw new Error('connection lost');
            await claim.complete();
          },
          release: () => claim.release(),
        };
      },
      close: () => inner.close(),
    };
    const errors: string[] = [];
    const runs: number[] = [];
    const succeeded = new Inbox();
    const watch: Middleware = async function watch(msg, _ctx, next) {
      await next();
      succeeded.push(msg);
    };
    const h = await harness('idem-complete-fails', [watch, idempotency({ store, leaseMs: 60_000 })], async (msg) => {
      runs.push(msg.attempt);
    });
    h.router.inspector.on((e) => e.type === 'delivery-failed' && errors.push(e.error.message));
    await h.publish({ n: 1 }, { id: 'once' });
    await succeeded.untilCount(1, 5_000);
    await h.publish({ n: 1 }, { id: 'once' });
    await succeeded.untilCount(2, 5_000);
    await h.stop();
    expect(runs).toEqual([1, 2]);
    expect(errors).toEqual([
      'idempotency: marking message key "g:once" processed failed (connection lost); the key was released and the message will be delivered again, so its handler runs again',
    ]);
    // The second try did mark it: the later copy is skipped.
    expect(h.router.inspector.handler('idem-complete-fails')?.counters['skipped-duplicate']).toBe(1);
  });

  it('frees the key of an attempt whose timeout() fired, even if its handler finishes later: the next attempt runs and publishes', async () => {
    let finishLate!: () => void;
    const late = new Promise<void>((resolve) => (finishLate = resolve));
    const tries = new Inbox();
    // Between retry() and timeout(): sees each attempt start.
    const attemptStarts: Middleware = async function attemptStarts(msg, _ctx, next) {
      tries.push(msg);
      await next();
    };
    const attempts: number[] = [];
    const h = await harness(
      'idem-timeout',
      [retry({ attempts: 2, initialDelayMs: 1, jitter: 0 }), attemptStarts, timeout(100), idempotency({ store: memoryIdempotencyStore() })],
      async (msg, ctx, h) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt === 1) {
          await late; // ignores its signal, and finishes after the timeout
          return;
        }
        ctx.publish(`${h.topic}.out`, h.codec.encode({ n: 2 }));
        record(h.done, msg);
      },
    );
    const out = new Inbox();
    await h.bus.subscribe(`${h.topic}.out`, { group: 'w', from: 'earliest' }, async (m) => out.push(m));
    await h.publish({ n: 1 });
    // Attempt 2 has started (attempt 1 timed out) and waits for the key attempt 1 still holds.
    await tries.untilCount(2, 5_000);
    finishLate();
    await h.done.untilCount(1, 5_000);
    await out.untilCount(1, 5_000);
    await h.stop();
    expect(attempts).toEqual([1, 2]);
    expect(out.messages.map((m) => h.codec.decode(m).n)).toEqual([2]);
    expect(h.router.inspector.handler('idem-timeout')?.counters['skipped-duplicate'] ?? 0).toBe(0);
  });
});

describe('idempotency() renewing the claim of a long handler', () => {
  /**
   * A memory store on a clock the test moves, whose claims report each renewal; `renewFails`
   * makes every renewal throw, as a store that cannot be reached.
   */
  function watchedStore(renewFails: boolean) {
    let now = 1_000_000;
    const inner = memoryIdempotencyStore({ now: () => now });
    const renewals = new Inbox();
    const store: IdempotencyStore = {
      name: 'watched',
      claim: (key, options) => {
        const claim = inner.claim(key, options) as IdempotencyClaim;
        if (claim.status !== 'claimed') return claim;
        return {
          status: 'claimed',
          complete: () => claim.complete(),
          release: () => claim.release(),
          renew: () => {
            renewals.push({ id: key } as never);
            if (renewFails) throw new Error('connection lost');
            return claim.renew!();
          },
        };
      },
      close: () => inner.close(),
    };
    return { store, inner, renewals, stall: (ms: number) => void (now += ms) };
  }

  for (const how of ['another consumer took the key over', 'the store could not be reached for most of the lease'] as const) {
    it(`aborts ctx.signal and fails the attempt, marking nothing and sending nothing, when ${how}`, async () => {
      const { store, inner, renewals, stall } = watchedStore(how.startsWith('the store'));
      const errors: string[] = [];
      const failed = new Inbox();
      const h = await harness('idem-lost', [idempotency({ store, leaseMs: 100, key: (msg) => msg.id })], async (msg, ctx, h) => {
        await renewals.untilCount(1, 5_000); // a long handler: its claim is being renewed
        const signal = ctx.signal;
        if (how.startsWith('another')) {
          stall(10_000); // the process stalled past its lease, and another consumer claimed the key
          expect((inner.claim(msg.id, { leaseMs: 60_000, ttlMs: 60_000 }) as IdempotencyClaim).status).toBe('claimed');
        }
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        ctx.publish(`${h.topic}.out`, h.codec.encode({ n: 2 })); // ignores the abort: must not go out
      });
      h.router.inspector.on((e) => {
        if (e.type !== 'delivery-failed') return;
        errors.push(e.error.message);
        failed.push({ id: String(errors.length) } as never);
      });
      const out = new Inbox();
      await h.bus.subscribe(`${h.topic}.out`, { group: 'w', from: 'earliest' }, async (m) => out.push(m));
      await h.publish({ n: 1 }, { id: 'long' });
      await failed.untilCount(1, 10_000);
      await h.stop();
      expect(errors[0]).toMatch(how.startsWith('another') ? /claim of message key "long" was lost while its handler ran/ : /claim of message key "long" could not be renewed .*connection lost/);
      expect(errors[0]).toMatch(/without marking the key processed or sending its publishes, and the message will be delivered again/);
      expect(out.messages).toEqual([]);
      // Not marked processed: taken over, the key stays the other consumer's claim; otherwise free.
      expect((inner.claim('long', { leaseMs: 60_000, ttlMs: 60_000 }) as IdempotencyClaim).status).toBe(how.startsWith('another') ? 'busy' : 'claimed');
    });
  }

  /** Resolves when `signal` aborts. */
  const whenAborted = (signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

  /**
   * Runs one message through `use` (idempotency() among them, on `store`) whose handler reads
   * ctx.signal at once — before any renewal, as a handler passing it to fetch() does — then loses
   * its claim to another consumer. Returns what the early signal showed when the attempt's
   * current one aborted, and the attempt's error.
   */
  async function loseClaimAfterEarlyRead(name: string, use: (store: IdempotencyStore) => Middleware[]) {
    const { store, inner, renewals, stall } = watchedStore(false);
    const seen: Array<{ aborted: boolean; reason: unknown }> = [];
    const errors: string[] = [];
    const failed = new Inbox();
    const h = await harness(name, use(store), async (msg, ctx) => {
      const early = ctx.signal;
      await renewals.untilCount(1, 5_000);
      stall(10_000); // the process stalled past its lease, and another consumer claimed the key
      expect((inner.claim(msg.id, { leaseMs: 60_000, ttlMs: 60_000 }) as IdempotencyClaim).status).toBe('claimed');
      await whenAborted(ctx.signal);
      seen.push({ aborted: early.aborted, reason: early.reason });
      throw ctx.signal.reason;
    });
    h.router.inspector.on((e) => {
      if (e.type !== 'delivery-failed') return;
      errors.push(e.error.message);
      failed.push({ id: String(errors.length) } as never);
    });
    await h.publish({ n: 1 }, { id: 'early' });
    await failed.untilCount(1, 10_000);
    await h.stop();
    return { seen, errors };
  }

  it('aborts the signal a handler read before the first renewal when the claim is lost', async () => {
    const { seen, errors } = await loseClaimAfterEarlyRead('idem-early-signal', (store) => [idempotency({ store, leaseMs: 100, key: (msg) => msg.id })]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.aborted).toBe(true);
    expect(String((seen[0]!.reason as Error).message)).toMatch(/claim of message key "early" was lost while its handler ran/);
    expect(errors[0]).toMatch(/claim of message key "early" was lost while its handler ran/);
  });

  it('under timeout(), aborts the early-read signal with the lost claim as its reason, not a timeout', async () => {
    const { seen, errors } = await loseClaimAfterEarlyRead('idem-early-signal-timeout', (store) => [timeout(60_000), idempotency({ store, leaseMs: 100, key: (msg) => msg.id })]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.aborted).toBe(true);
    expect(seen[0]!.reason).not.toBeInstanceOf(TimeoutError);
    expect(String((seen[0]!.reason as Error).message)).toMatch(/claim of message key "early" was lost while its handler ran/);
    expect(errors[0]).toMatch(/claim of message key "early" was lost while its handler ran/);
  });

  it('keeps a timeout as the reason when the timeout fired first and the claim was lost after', async () => {
    const { store, inner, renewals, stall } = watchedStore(false);
    const seen: unknown[] = [];
    const errors: string[] = [];
    const failed = new Inbox();
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const h = await harness('idem-timeout-then-lost', [timeout(200), idempotency({ store, leaseMs: 100, key: (msg) => msg.id })], async (msg, ctx) => {
      const early = ctx.signal;
      await whenAborted(early); // the timeout; the handler goes on a little, its claim still renewed
      const before = renewals.messages.length;
      stall(10_000);
      expect((inner.claim(msg.id, { leaseMs: 60_000, ttlMs: 60_000 }) as IdempotencyClaim).status).toBe('claimed');
      await renewals.untilCount(before + 1, 5_000); // the renewal that finds the claim lost
      seen.push(early.reason, ctx.signal.reason);
      finish();
    });
    h.router.inspector.on((e) => {
      if (e.type !== 'delivery-failed') return;
      errors.push(e.error.message);
      failed.push({ id: String(errors.length) } as never);
    });
    await h.publish({ n: 1 }, { id: 'slow' });
    await failed.untilCount(1, 10_000);
    await finished;
    await h.stop();
    expect(seen).toHaveLength(2);
    for (const reason of seen) expect(reason).toBeInstanceOf(TimeoutError);
    expect(errors[0]).toMatch(/timed out after 200 ms/);
  });

  it('gives the attempt retry() runs after a lost claim a signal that is not aborted', async () => {
    const { store, inner, renewals, stall } = watchedStore(false);
    const starts: Array<{ attempt: number; aborted: boolean }> = [];
    const h = await harness('idem-lost-then-retry', [retry({ attempts: 2, initialDelayMs: 1, jitter: 0 }), idempotency({ store, leaseMs: 100, key: (msg) => msg.id })], async (msg, ctx, h) => {
      const signal = ctx.signal;
      starts.push({ attempt: ctx.attempt, aborted: signal.aborted });
      if (ctx.attempt > 1) {
        record(h.done, msg);
        return;
      }
      await renewals.untilCount(1, 5_000);
      stall(10_000);
      const other = inner.claim(msg.id, { leaseMs: 60_000, ttlMs: 60_000 }) as IdempotencyClaim;
      expect(other.status).toBe('claimed');
      await whenAborted(signal);
      if (other.status === 'claimed') await other.release(); // the other consumer failed: the key is free again
      throw signal.reason;
    });
    await h.publish({ n: 1 }, { id: 'again' });
    await h.done.untilCount(1, 10_000);
    await h.stop();
    expect(starts).toEqual([
      { attempt: 1, aborted: false },
      { attempt: 2, aborted: false },
    ]);
    expect((inner.claim('again', { leaseMs: 60_000, ttlMs: 60_000 }) as IdempotencyClaim).status).toBe('processed');
  });

  it('renews nothing for handlers that finish within their first period', async () => {
    const { store, renewals } = watchedStore(false);
    const h = await harness('idem-short', [idempotency({ store, leaseMs: 60_000 })], async (msg, _ctx, h) => record(h.done, msg));
    await h.publish(Array.from({ length: 100 }, (_, n) => ({ n })));
    await h.done.untilCount(100, 5_000);
    await h.stop();
    expect(renewals.messages).toEqual([]);
  });
});
