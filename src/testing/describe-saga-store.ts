import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isConcurrencyError, isConfigError } from '../core/errors.ts';
import type { NewSagaRecord, SagaRecord, SagaStore } from '../saga/saga-store.ts';

/** Options of the saga store suite. */
export interface SagaStoreSuiteOptions {
  /** Per-case time limit in ms. Default 30,000. */
  timeoutMs?: number;
  /** Called once after the suite (drop tables, end pools). */
  cleanup?: () => Promise<void>;
}

/**
 * The suite every saga store runs: round trips, optimistic concurrency (one of N concurrent
 * writers wins, and a writer that lost reads the write that beat it), leases (held, expired, taken over), `claim` handing each instance to one
 * claimer, `renew`, and `list` (refusing a bad `limit` or `offset` with a ConfigError). Cases use their own ids and saga names, so one store (one
 * database table) serves the whole suite.
 *
 * @param factory - returns the store under test; called once
 *
 * @example
 * ```ts
 * import { memorySagaStore } from 'switchyard/saga';
 * import { describeSagaStore } from 'switchyard/testing';
 * describeSagaStore('memory', () => memorySagaStore());
 * ```
 */
export function describeSagaStore(name: string, factory: () => SagaStore | Promise<SagaStore>, options: SagaStoreSuiteOptions = {}): void {
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  let store: SagaStore | undefined;
  let n = 0;
  const get = async (): Promise<SagaStore> => (store ??= await factory());
  /** A saga name of its own per case, so claims never see other cases' instances. */
  const sagaName = (): string => `suite-${run}-${++n}`;
  const init = (id: string, saga: string, extra: Partial<NewSagaRecord> = {}): NewSagaRecord => ({
    id,
    saga,
    status: 'initiated',
    input: { orderId: id, amount: 9.99, note: 'zaż\u00f3łć — 日本語 🚀' },
    step: 0,
    history: [],
    ...extra,
  });
  const rejection = async (p: Promise<unknown>): Promise<unknown> =>
    p.then(
      () => new Error('expected a ConcurrencyError, but the call succeeded'),
      (e: unknown) => e,
    );
  /** Waits (briefly polling) until a 1 ms lease has run out by the store's own clock. */
  const afterLease = async (s: SagaStore, id: string, owner: string): Promise<SagaRecord> => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const taken = await s.acquire(id, { owner, ms: 60_000 });
      if (taken) return taken;
      if (Date.now() > deadline) throw new Error(`lease on ${id} never ended`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  describe(`${name} saga store`, () => {
    afterAll(async () => {
      await store?.close();
      await options.cleanup?.();
    });

    it('creates at version 1 and returns copies (or frozen records) that round-trip the input, history and state', async () => {
      const s = await get();
      const saga = sagaName();
      const id = `${saga}-a`;
      const created = await s.create(
        init(id, saga, {
          history: [{ step: 'reserve', index: 0, kind: 'action', outcome: 'completed', attempts: 2, at: 123, output: { reservationId: 'r-1', items: [1, 2] } }],
          state: { phase: 'waiting', seen: ['x'] },
          deadlineAt: 1_700_000_000_000,
        }),
      );
      expect(created.version).toBe(1);
      expect(created.createdAt).toBeGreaterThan(0);
      const read = await s.get(id);
      expect(read).toEqual(created);
      expect(read!.input).toEqual({ orderId: id, amount: 9.99, note: 'zaż\u00f3łć — 日本語 🚀' });
      expect(read!.history[0]!.output).toEqual({ reservationId: 'r-1', items: [1, 2] });
      expect(read!.state).toEqual({ phase: 'waiting', seen: ['x'] });
      expect(read!.deadlineAt).toBe(1_700_000_000_000);
      try {
        (read!.input as { amount: number }).amount = 0; // a copy, or frozen (then this throws)
      } catch {
        // frozen
      }
      expect(((await s.get(id))!.input as { amount: number }).amount).toBe(9.99);
      expect(await s.get(`${saga}-missing`)).toBeUndefined();
    }, timeoutMs);

    it('rejects a second create of one id with ConcurrencyError', async () => {
      const s = await get();
      const saga = sagaName();
      await s.create(init(`${saga}-a`, saga));
      const error = await rejection(s.create(init(`${saga}-a`, saga)));
      expect(isConcurrencyError(error), String(error)).toBe(true);
    }, timeoutMs);

    it('writes only over the version it read: a stale write fails and changes nothing', async () => {
      const s = await get();
      const saga = sagaName();
      const v1 = await s.create(init(`${saga}-a`, saga));
      const v2 = await s.update({ ...v1, status: 'in_progress', step: 1 });
      expect(v2).toMatchObject({ version: 2, status: 'in_progress', step: 1 });
      const error = await rejection(s.update({ ...v1, status: 'completed' }));
      expect(isConcurrencyError(error), String(error)).toBe(true);
      expect(await s.get(v1.id)).toEqual(v2);
      const gone = await rejection(s.update({ ...v1, id: `${saga}-missing` }));
      expect(isConcurrencyError(gone), String(gone)).toBe(true);
    }, timeoutMs);

    it('of ten concurrent writers of one version, exactly one wins', async () => {
      const s = await get();
      const saga = sagaName();
      const v1 = await s.create(init(`${saga}-a`, saga));
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => s.update({ ...v1, step: i + 1 })));
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(isConcurrencyError(r.reason)).toBe(true);
      expect((await s.get(v1.id))!.step).toBe((won[0] as PromiseFulfilledResult<SagaRecord>).value.step);
    }, timeoutMs);

    // A writer that lost re-reads and tries again. Reading the state before the write that beat
    // it, it would lose again on every try (the embedded store did while that write was being
    // made durable).
    it('a writer that lost a compare-and-set reads the write that beat it, also while that write is still being made', async () => {
      const s = await get();
      const saga = sagaName();
      const v1 = await s.create(init(`${saga}-a`, saga));
      const won = await s.update({ ...v1, status: 'in_progress', step: 1 });
      const lost = await rejection(s.update({ ...v1, step: 2 }));
      expect(isConcurrencyError(lost), String(lost)).toBe(true);
      expect(await s.get(v1.id)).toEqual(won);

      // Two writers of one version race; the loser reads as soon as it lost, maybe before the
      // winner's call has resolved, and must see the winner's write and be able to write over it.
      for (let round = 0; round < 10; round++) {
        const base = await s.create(init(`${saga}-race-${round}`, saga));
        const attempt = (step: number): Promise<{ won?: SagaRecord; reread?: SagaRecord }> =>
          s.update({ ...base, status: 'in_progress', step }).then(
            (record) => ({ won: record }),
            async (error: unknown) => {
              if (!isConcurrencyError(error)) throw error;
              return { reread: await s.get(base.id) };
            },
          );
        const outcomes = await Promise.all([attempt(1), attempt(2)]);
        const winners = outcomes.flatMap((o) => (o.won ? [o.won] : []));
        const rereads = outcomes.flatMap((o) => (o.reread ? [o.reread] : []));
        expect(winners, `round ${round}`).toHaveLength(1);
        expect(rereads, `round ${round}: what the loser read`).toEqual(winners);
        expect(await s.update({ ...rereads[0]!, step: 3 })).toMatchObject({ version: 3, step: 3 });
      }

      // A read started with a write returns the state before or after it; a read started once the
      // write resolved never returns the state before it.
      const base = await s.create(init(`${saga}-b`, saga));
      const writing = s.update({ ...base, status: 'in_progress', step: 1 });
      const during = await s.get(base.id);
      const written = await writing;
      expect([base, written]).toContainEqual(during);
      expect(await s.get(base.id)).toEqual(written);
    }, timeoutMs);

    it('leases: a held instance cannot be acquired by another owner; its owner can; taking over bumps the version', async () => {
      const s = await get();
      const saga = sagaName();
      const created = await s.create(init(`${saga}-a`, saga), { owner: 'A', ms: 60_000 });
      expect(created.owner).toBe('A');
      expect(created.leaseUntil).toBeGreaterThan(Date.now() - 60_000);
      expect(await s.acquire(created.id, { owner: 'B', ms: 60_000 })).toBeUndefined();
      const again = await s.acquire(created.id, { owner: 'A', ms: 60_000 });
      expect(again).toMatchObject({ owner: 'A', version: 2 });
      // A's lease runs out (1 ms); B takes over and A's next write fails.
      const short = await s.update({ ...again!, step: 1 }, { owner: 'A', ms: 1 });
      const taken = await afterLease(s, created.id, 'B');
      expect(taken).toMatchObject({ owner: 'B', version: short.version + 1, step: 1 });
      const stale = await rejection(s.update({ ...short, step: 2 }, { owner: 'A', ms: 60_000 }));
      expect(isConcurrencyError(stale), String(stale)).toBe(true);
    }, timeoutMs);

    it('a write without a lease clears the owner; settled instances are never acquired or claimed', async () => {
      const s = await get();
      const saga = sagaName();
      const a = await s.create(init(`${saga}-a`, saga), { owner: 'A', ms: 60_000 });
      const released = await s.update({ ...a, owner: undefined });
      expect(released.owner).toBeUndefined();
      expect(await s.acquire(a.id, { owner: 'B', ms: 60_000 })).toMatchObject({ owner: 'B' });
      for (const status of ['completed', 'rolled_back', 'compensation_failed'] as const) {
        const r = await s.create(init(`${saga}-${status}`, saga, { status }));
        expect(await s.acquire(r.id, { owner: 'B', ms: 60_000 })).toBeUndefined();
      }
      expect((await s.claim({ owner: 'C', ms: 60_000 }, 100, { sagas: [saga] })).map((r) => r.id)).toEqual([]);
    }, timeoutMs);

    it('claim takes unfinished instances not leased to others, its own at once, and skips excluded ids and other sagas', async () => {
      const s = await get();
      const saga = sagaName();
      const other = sagaName();
      await s.create(init(`${saga}-free`, saga));
      await s.create(init(`${saga}-mine`, saga, { status: 'in_progress' }), { owner: 'A', ms: 60_000 });
      await s.create(init(`${saga}-theirs`, saga, { status: 'compensating' }), { owner: 'B', ms: 60_000 });
      await s.create(init(`${saga}-excluded`, saga));
      await s.create(init(`${saga}-done`, saga, { status: 'completed' }));
      await s.create(init(`${other}-x`, other));
      const claimed = await s.claim({ owner: 'A', ms: 60_000 }, 100, { sagas: [saga], exclude: [`${saga}-excluded`] });
      expect(claimed.map((r) => r.id).toSorted()).toEqual([`${saga}-free`, `${saga}-mine`]);
      for (const r of claimed) expect(r.owner).toBe('A');
      expect(await s.claim({ owner: 'C', ms: 60_000 }, 100, { sagas: [saga], exclude: [`${saga}-excluded`] })).toEqual([]);
    }, timeoutMs);

    it('concurrent claimers never get the same instance', async () => {
      const s = await get();
      const saga = sagaName();
      for (let i = 0; i < 60; i++) await s.create(init(`${saga}-${i}`, saga));
      const owners = ['A', 'B', 'C'];
      const rounds = await Promise.all(
        owners.map(async (owner) => {
          const got: string[] = [];
          // Each claimer excludes what it drives already, as an orchestrator does.
          for (let batch; (batch = await s.claim({ owner, ms: 60_000 }, 7, { sagas: [saga], exclude: got })).length > 0; ) {
            got.push(...batch.map((r) => r.id));
          }
          return got;
        }),
      );
      const all = rounds.flat();
      expect(all).toHaveLength(60);
      expect(new Set(all).size).toBe(60);
      for (const [i, ids] of rounds.entries()) for (const id of ids) expect((await s.get(id))!.owner).toBe(owners[i]);
    }, timeoutMs);

    it('renew extends only the caller’s leases', async () => {
      const s = await get();
      const saga = sagaName();
      await s.create(init(`${saga}-a`, saga), { owner: 'A', ms: 60_000 });
      await s.create(init(`${saga}-b`, saga), { owner: 'B', ms: 60_000 });
      expect((await s.renew([`${saga}-a`, `${saga}-b`, `${saga}-missing`], { owner: 'A', ms: 60_000 })).toSorted()).toEqual([`${saga}-a`]);
      expect(await s.renew([], { owner: 'A', ms: 1 })).toEqual([]);
    }, timeoutMs);

    it('lists newest first, filtered by status and saga, with limit and offset', async () => {
      const s = await get();
      const saga = sagaName();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const id = `${saga}-${i}`;
        ids.push(id);
        await s.create(init(id, saga, { status: i % 2 === 0 ? 'completed' : 'rolled_back' }));
      }
      const all = await s.list({ saga });
      expect(all.map((r) => r.id)).toEqual(ids.toReversed());
      expect((await s.list({ saga, status: ['rolled_back'] })).map((r) => r.id)).toEqual([ids[3], ids[1]]);
      expect((await s.list({ saga, limit: 2, offset: 1 })).map((r) => r.id)).toEqual([ids[3], ids[2]]);
      expect((await s.list({ status: ['completed'], limit: 1000 })).every((r) => r.status === 'completed')).toBe(true);
    }, timeoutMs);

    it('list refuses a limit or offset that is not a whole number ≥ 0 with a ConfigError naming it', async () => {
      const s = await get();
      const saga = sagaName();
      await s.create(init(`${saga}-a`, saga));
      const bad: Array<[field: 'limit' | 'offset', value: number]> = [
        ['limit', -1],
        ['limit', 1.5],
        ['limit', Number.NaN],
        ['offset', -1],
        ['offset', 0.5],
        ['offset', Number.NaN],
      ];
      for (const [field, value] of bad) {
        const error = await s.list({ saga, [field]: value }).then(
          (records) => new Error(`list({ ${field}: ${value} }) returned ${records.length} records instead of a ConfigError`),
          (e: unknown) => e,
        );
        expect(isConfigError(error), `${field}: ${value}: ${String(error)}`).toBe(true);
        expect((error as Error).message, `${field}: ${value}`).toContain(field);
      }
      expect((await s.list({ saga, limit: 0 })).map((r) => r.id)).toEqual([]);
      expect((await s.list({ saga, limit: 1, offset: 0 })).map((r) => r.id)).toEqual([`${saga}-a`]);
    }, timeoutMs);
  });
}
