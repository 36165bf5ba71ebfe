import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describeSagaStore } from '../testing/describe-saga-store.ts';
import { postgresSagaStore } from './postgres-saga-store.ts';

const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const table = `saga_suite_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const pool = new pg.Pool({ connectionString: url, max: 8 });

describeSagaStore('postgres', () => postgresSagaStore({ pool, table }), {
  cleanup: async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  },
});
