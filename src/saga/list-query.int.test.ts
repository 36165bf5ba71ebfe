import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError } from '../core/errors.ts';
import { embeddedSagaStore } from './embedded-saga-store.ts';
import { memorySagaStore } from './memory-saga-store.ts';
import { postgresSagaStore } from './postgres-saga-store.ts';
import type { SagaQuery, SagaStore } from './saga-store.ts';

const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const table = `saga_query_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const pool = new pg.Pool({ connectionString: url, max: 2 });
const dir = mkdtempSync(join(tmpdir(), 'sy-saga-query-'));
const stores: Array<[string, SagaStore]> = [
  ['memory', memorySagaStore()],
  ['embedded', embeddedSagaStore({ dir })],
  ['postgres', postgresSagaStore({ pool, table })],
];

afterAll(async () => {
  for (const [, store] of stores) await store.close();
  await pool.query(`DROP TABLE IF EXISTS "${table}"`);
  await pool.end();
  rmSync(dir, { recursive: true, force: true });
});

// Regression: the memory and embedded stores sliced with whatever came — a negative limit or
// offset returned the wrong records without a word (offset -1: the oldest instance alone), NaN
// none; PostgreSQL refused them with its own error ("LIMIT must not be negative").
describe.each(stores)('list() on the %s saga store', (_name, store) => {
  it('refuses a limit or offset that is not a whole number ≥ 0 with a ConfigError naming it, and pages with good ones', async () => {
    for (let i = 0; i < 3; i++) await store.create({ id: `q-${i}`, saga: 'query', status: 'completed', input: i, step: 0, history: [] });
    const bad: SagaQuery[] = [{ limit: -1 }, { offset: -1 }, { limit: 1.5 }, { limit: Number.NaN }, { offset: '1' as never }];
    for (const query of bad) {
      const error = await store.list({ saga: 'query', ...query }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(isConfigError(error), `${JSON.stringify(query)}: ${String(error)}`).toBe(true);
      expect(error!.message).toMatch(/list\(\) (limit|offset) must be a whole number ≥ 0/);
    }
    expect((await store.list({ saga: 'query', limit: 2, offset: 1 })).map((r) => r.id)).toEqual(['q-1', 'q-0']);
    expect(await store.list({ saga: 'query', limit: 0 })).toEqual([]);
  });
});
