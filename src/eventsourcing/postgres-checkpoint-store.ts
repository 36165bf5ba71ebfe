import type { Pool, PoolClient } from 'pg';
import { ConfigError } from '../core/errors.ts';
import type { CheckpointStore } from './checkpoints.ts';
import { inTransaction } from '../postgres/in-transaction.ts';
import { migration, postgresTables, type PostgresTableOptions } from './postgres-tables.ts';

export interface PostgresCheckpointStoreOptions extends PostgresTableOptions {
  /** A pg Pool; the store never ends it. */
  pool: Pool;
}

/**
 * Projection checkpoints in PostgreSQL. Each unit of work is a transaction on one pooled client,
 * which the projection's `handle` receives: read-model writes made through it commit together
 * with the checkpoint, or not at all. The checkpoint row is locked (`FOR UPDATE`) for the
 * transaction, so two runners of one projection take turns and skip what the other applied.
 *
 * @example
 * ```ts
 * const checkpoints = postgresCheckpointStore({ pool, schema: 'orders' });
 * const summaries: Projection<PoolClient> = {
 *   name: 'order-summaries',
 *   handle: (event, tx) => tx.query('INSERT INTO order_summaries …', […]).then(() => undefined),
 * };
 * new ProjectionRunner({ store, projection: summaries, checkpoints }).start();
 * ```
 */
export function postgresCheckpointStore(options: PostgresCheckpointStoreOptions): CheckpointStore<PoolClient> & { migrate(): Promise<void> } {
  if (!options.pool || typeof options.pool.query !== 'function') throw new ConfigError('postgresCheckpointStore: pool must be a pg Pool');
  const { pool } = options;
  const tables = postgresTables(options);
  const table = tables.checkpoints;
  const migrate = migration(
    pool,
    tables,
    `CREATE TABLE IF NOT EXISTS ${table} (
       name text PRIMARY KEY,
       position bigint NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  return {
    migrate,
    transactional: true,
    async transaction(work) {
      await migrate();
      return inTransaction(pool, work);
    },
    async load(name, tx) {
      await tx.query(`INSERT INTO ${table} (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING`, [name]);
      const { rows } = await tx.query<{ position: string }>(`SELECT position FROM ${table} WHERE name = $1 FOR UPDATE`, [name]);
      return Number(rows[0]!.position);
    },
    async save(name, position, tx) {
      await tx.query(`UPDATE ${table} SET position = $2, updated_at = now() WHERE name = $1`, [name, position]);
    },
    async get(name) {
      await migrate();
      const { rows } = await pool.query<{ position: string }>(`SELECT position FROM ${table} WHERE name = $1`, [name]);
      return rows.length === 0 ? 0 : Number(rows[0]!.position);
    },
  };
}
