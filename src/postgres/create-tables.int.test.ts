import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresOutbox } from '../outbox/postgres.ts';
import { postgresSagaStore } from '../saga/postgres-saga-store.ts';
import { postgresIdempotencyStore } from '../stores/idempotency/postgres.ts';

const PG_URL = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
// One pool per "process": each its own sessions, as separate processes starting together have.
const processes = Array.from({ length: 8 }, () => new pg.Pool({ connectionString: PG_URL, max: 2 }));
const tables: string[] = [];

afterAll(async () => {
  for (const t of tables) await processes[0]!.query(`DROP TABLE IF EXISTS ${t}`);
  await Promise.all(processes.map((p) => p.end()));
});

/** Rounds on fresh tables: one round rarely shows a race that most rounds do. */
const ROUNDS = 5;

describe('tables created on first use by several processes at once', () => {
  it('every first claim of idempotency stores on a fresh table succeeds (none fails with a unique violation on pg_type)', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      for (const transactional of [true, false]) {
        const table = `idem_race_${run}_${round}_${transactional ? 'tx' : 'lease'}`;
        tables.push(table);
        const claims = await Promise.allSettled(
          processes.map((pool, i) => postgresIdempotencyStore({ pool, table, transactional }).claim(`key-${i}`, { leaseMs: 5_000, ttlMs: 60_000 })),
        );
        const failures = claims.flatMap((c) => (c.status === 'rejected' ? [(c.reason as Error).message] : []));
        expect(failures).toEqual([]);
        for (const c of claims) if (c.status === 'fulfilled' && c.value.status === 'claimed') await c.value.complete();
        expect(claims.map((c) => c.status === 'fulfilled' && c.value.status)).toEqual(processes.map(() => 'claimed'));
      }
    }
  });

  it('every outbox migrate() on a fresh table succeeds when all processes migrate at once', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const table = `outbox_race_${run}_${round}`;
      tables.push(table);
      const migrations = await Promise.allSettled(processes.map((pool) => postgresOutbox({ pool, table }).migrate()));
      expect(migrations.flatMap((m) => (m.status === 'rejected' ? [(m.reason as Error).message] : []))).toEqual([]);
      const box = postgresOutbox({ pool: processes[0]!, table });
      await box.enqueue(processes[0]!, 'race.topic', { payload: new Uint8Array([1]) });
      expect(await box.pending()).toBe(1);
    }
  });

  it('every saga store migrate() on a fresh table succeeds when all processes migrate at once', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const table = `saga_race_${run}_${round}`;
      tables.push(table);
      const migrations = await Promise.allSettled(processes.map((pool) => postgresSagaStore({ pool, table }).migrate()));
      expect(migrations.flatMap((m) => (m.status === 'rejected' ? [(m.reason as Error).message] : []))).toEqual([]);
      expect(await postgresSagaStore({ pool: processes[0]!, table }).get('none')).toBeUndefined();
    }
  });
});
