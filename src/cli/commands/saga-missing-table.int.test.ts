import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { spawnCli } from './cli.test-support.ts';

// The saga store creates its table on first use, which suits an application; `saga list` with a
// mistyped --table must not, or the typo becomes a new empty table and a "no sagas" answer.
const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const table = `saga_cli_typo_${randomBytes(4).toString('hex')}`;
const pool = new pg.Pool({ connectionString: url, max: 1 });

afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS "${table}"`); // only there if the command wrongly made it
  await pool.end();
});

it.each([['list'], ['show', 'some-id'], ['retry', 'some-id']])('saga %s on a table that does not exist says so (exit 2) and creates nothing', async (...args) => {
  const { code, stdout, stderr } = await spawnCli(['saga', ...args, '--pg', url, '--table', table]).done;
  expect(stderr.trim()).toBe(`switchyard: no table ${table} in PostgreSQL at ${url}; check --table (default switchyard_sagas)`);
  expect(code).toBe(2);
  expect(stdout).not.toContain('no sagas');
  const { rows } = await pool.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [table]);
  expect(rows[0]!.found).toBeNull();
});
