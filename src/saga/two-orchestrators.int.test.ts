import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { PermanentError } from '../core/errors.ts';
import { defineSaga } from './definition.ts';
import { SagaOrchestrator } from './orchestrator.ts';
import { postgresSagaStore } from './postgres-saga-store.ts';
import type { SagaRecord, SagaStore } from './saga-store.ts';

const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const table = `saga_two_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const pools = [new pg.Pool({ connectionString: url, max: 5 }), new pg.Pool({ connectionString: url, max: 5 })];
const quiet = { warn: () => {}, error: () => {} };

const retryTable = `${table}_retry`;

afterAll(async () => {
  await pools[0]!.query(`DROP TABLE IF EXISTS "${table}"`);
  await pools[0]!.query(`DROP TABLE IF EXISTS "${retryTable}"`);
  for (const p of pools) await p.end();
});

it('two orchestrators sharing a PostgreSQL store drive each instance with exactly one at a time', async () => {
  const COUNT = 100;
  const running = new Map<string, string>();
  const overlaps: string[] = [];
  const runs = new Map<string, number>();
  const driver = new Map<string, Set<string>>();
  const stepOf = (owner: string) => async (input: number, ctx: { sagaId: string; step: string }) => {
    const previous = running.get(ctx.sagaId);
    if (previous) overlaps.push(`${ctx.sagaId}: ${owner} ran "${ctx.step}" while ${previous} ran a step`);
    running.set(ctx.sagaId, `${owner}/${ctx.step}`);
    runs.set(`${ctx.sagaId}:${ctx.step}`, (runs.get(`${ctx.sagaId}:${ctx.step}`) ?? 0) + 1);
    driver.set(ctx.sagaId, (driver.get(ctx.sagaId) ?? new Set()).add(owner));
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
    running.delete(ctx.sagaId);
    return input + 1;
  };
  const sagaFor = (owner: string) =>
    defineSaga<number>('shared')
      .step({ name: 'one', action: stepOf(owner) })
      .step({ name: 'two', action: stepOf(owner) })
      .step({ name: 'three', action: stepOf(owner) })
      .build();

  const stores = pools.map((pool) => postgresSagaStore({ pool, table }));
  // Instances nobody owns yet, as a web tier writing sagas for workers would leave them.
  for (let i = 0; i < COUNT; i++) await stores[0]!.create({ id: `two-${i}`, saga: 'shared', status: 'initiated', input: 0, step: 0, history: [] });

  const settled = new Map<string, string>();
  const all = Promise.withResolvers<void>();
  const orchestrators = ['A', 'B'].map(
    (owner, i) =>
      new SagaOrchestrator({
        store: stores[i]!,
        sagas: [sagaFor(owner)],
        owner,
        maxActive: 10,
        recoveryIntervalMs: 20,
        logger: quiet,
        onEvent: (e) => {
          if (e.type !== 'saga.completed') return;
          if (settled.has(e.sagaId)) overlaps.push(`${e.sagaId} completed twice`);
          settled.set(e.sagaId, owner);
          if (settled.size === COUNT) all.resolve();
        },
      }),
  );
  await Promise.all(orchestrators.map((o) => o.start()));
  await all.promise;
  await Promise.all(orchestrators.map((o) => o.close()));

  expect(overlaps).toEqual([]);
  expect([...runs.values()].every((n) => n === 1)).toBe(true);
  expect(runs.size).toBe(COUNT * 3);
  const byOwner = [...settled.values()];
  expect(byOwner.filter((o) => o === 'A').length).toBeGreaterThan(0);
  expect(byOwner.filter((o) => o === 'B').length).toBeGreaterThan(0);
  const records = await stores[0]!.list({ saga: 'shared', limit: 1_000 });
  expect(records.map((r: SagaRecord) => r.status)).toEqual(Array.from({ length: COUNT }, () => 'completed'));
  for (const r of records) expect(r.history.map((h) => h.output)).toEqual([1, 2, 3]);
}, 120_000);

it('when an owner cannot renew its lease (partition, stall), the other takes over and the stalled owner’s late write is rejected', async () => {
  const store = postgresSagaStore({ pool: pools[0]!, table });
  const gate = Promise.withResolvers<void>();
  const stalled = Promise.withResolvers<void>();
  const warnings: string[] = [];
  const calls: string[] = [];
  const saga = (owner: string) =>
    defineSaga<number>('takeover')
      .step({
        name: 'slow',
        action: async (n, ctx) => {
          calls.push(`${owner}:${ctx.idempotencyKey}`);
          if (owner === 'A') {
            stalled.resolve();
            await gate.promise; // A hangs (a long GC pause, a frozen VM) and renews nothing
          }
          return n + 1;
        },
      })
      .step({ name: 'after', action: async (n) => n + 1 })
      .build();
  // A's lease renewals never reach the database (a partition, a stalled process): its short
  // lease runs out while its step hangs.
  const partitioned = { ...store, renew: async (): Promise<string[]> => Promise.reject(new Error('connection lost')) };
  const a = new SagaOrchestrator({
    store: partitioned,
    sagas: [saga('A')],
    owner: 'A',
    leaseMs: 200,
    logger: { warn: (m) => warnings.push(m), error: () => {} },
  });
  await a.begin('takeover', 0, { id: 'takeover-1' });
  await stalled.promise;
  const b = new SagaOrchestrator({ store: postgresSagaStore({ pool: pools[1]!, table }), sagas: [saga('B')], owner: 'B', recoveryIntervalMs: 50, logger: quiet });
  const done = b.settled('takeover-1');
  await b.start();
  const record = await done;
  expect(record).toMatchObject({ status: 'completed', owner: 'B' });
  gate.resolve();
  await a.idle();
  expect(warnings.some((w) => /another orchestrator took it over/.test(w))).toBe(true);
  expect(calls).toEqual(['A:takeover-1:slow', 'B:takeover-1:slow']); // the same idempotency key: the re-run is safe
  const final = await store.get('takeover-1');
  expect(final!.history.map((h) => `${h.step}:${h.output}`)).toEqual(['slow:1', 'after:2']);
  await Promise.all([a.close(), b.close()]);
}, 60_000);

it('retry(id) settles the instance it released even when another orchestrator scans right after the release', async () => {
  let healthy = false;
  const compensatedBy: string[] = [];
  const saga = (owner: string) =>
    defineSaga<string>('refund')
      .step({
        name: 'charge',
        action: async () => 'charged',
        compensationRetry: { attempts: 1 },
        compensate: async () => {
          if (!healthy) throw new Error('refund service down');
          compensatedBy.push(owner);
        },
      })
      .step({ name: 'ship', action: async () => Promise.reject(new PermanentError('no stock')) })
      .build();
  const drivenByB = Promise.withResolvers<string>();
  const b = new SagaOrchestrator({
    store: postgresSagaStore({ pool: pools[1]!, table: retryTable }),
    sagas: [saga('B')],
    owner: 'B',
    recoveryIntervalMs: 0,
    logger: quiet,
    onEvent: (e) => drivenByB.resolve(`B drove it (${e.type}) while A waited`),
  });
  // B's recovery scan runs right after A's next write: the retry command's release of the
  // instance. Released unowned, the instance went to B, and A's retry() waited for ever.
  const storeA = postgresSagaStore({ pool: pools[0]!, table: retryTable });
  let scanAfterNextWrite = false;
  const racing: SagaStore = {
    ...storeA,
    update: async (record, lease) => {
      const saved = await storeA.update(record, lease);
      if (scanAfterNextWrite) {
        scanAfterNextWrite = false;
        await b.recover();
      }
      return saved;
    },
  };
  const a = new SagaOrchestrator({ store: racing, sagas: [saga('A')], owner: 'A', recoveryIntervalMs: 0, logger: quiet });
  expect((await a.run('refund', 'in', { id: 'retry-race-1' })).status).toBe('compensation_failed');
  // Settled: the lease is given up (switchyard saga show listed it as leased by A), owner kept.
  const failed = await storeA.get('retry-race-1');
  expect([failed?.owner, failed?.leaseUntil]).toEqual(['A', undefined]);

  healthy = true;
  scanAfterNextWrite = true;
  const retried = await Promise.race([a.retry('retry-race-1'), drivenByB.promise]);
  expect(retried).toMatchObject({ status: 'rolled_back', owner: 'A' });
  expect(compensatedBy).toEqual(['A']);
  expect(b.counts()).toEqual({});
  await Promise.all([a.close(), b.close()]);
}, 60_000);
