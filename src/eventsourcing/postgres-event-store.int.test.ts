import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';
import { describeEventStore } from '../testing/index.ts';
import { postgresCheckpointStore } from './postgres-checkpoint-store.ts';
import { postgresEventStore } from './postgres-event-store.ts';
import { postgresSnapshotStore } from './postgres-snapshot-store.ts';

const pool = new pg.Pool({ connectionString: process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test', max: 20 });
// One schema per run, dropped afterwards, so reruns and parallel runs never share tables.
const schema = `es_suite_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

describeEventStore('postgres', (options) => ({
  store: postgresEventStore({ ...options, pool, schema, pollIntervalMs: 50 }),
  snapshots: postgresSnapshotStore({ pool, schema }),
  checkpoints: postgresCheckpointStore({ pool, schema }),
}));
