import type { Pool } from 'pg';
import { ConfigError } from '../core/errors.ts';
import { explainPgResources } from '../internal/pg-errors.ts';
import { migration, postgresTables, type PostgresTableOptions } from './postgres-tables.ts';
import type { Snapshot, SnapshotStore } from './snapshots.ts';

export interface PostgresSnapshotStoreOptions extends PostgresTableOptions {
  /** A pg Pool; the store never ends it. */
  pool: Pool;
}

interface Row {
  stream_id: string;
  name: string;
  version: string;
  schema_version: number;
  content_type: string;
  state: Buffer;
  created_at: string;
}

/**
 * Snapshots in PostgreSQL: one row per (stream, name) with the version it includes and the
 * state's schema version. A save never replaces a newer snapshot of the same schema version.
 *
 * @example
 * ```ts
 * const snapshots = postgresSnapshotStore({ pool, schema: 'orders' });
 * const orders = commandHandler({ store, decider, snapshots: { store: snapshots, policy: { every: 100 } } });
 * ```
 */
export function postgresSnapshotStore(options: PostgresSnapshotStoreOptions): SnapshotStore & { migrate(): Promise<void> } {
  if (!options.pool || typeof options.pool.query !== 'function') throw new ConfigError('postgresSnapshotStore: pool must be a pg Pool');
  const { pool } = options;
  const tables = postgresTables(options);
  const table = tables.snapshots;
  const migrate = migration(
    pool,
    tables,
    `CREATE TABLE IF NOT EXISTS ${table} (
       stream_id text NOT NULL,
       name text NOT NULL,
       version bigint NOT NULL,
       schema_version integer NOT NULL,
       content_type text NOT NULL,
       state bytea NOT NULL,
       created_at bigint NOT NULL,
       PRIMARY KEY (stream_id, name)
     )`,
  );
  return {
    migrate,
    async load(streamId, name): Promise<Snapshot | undefined> {
      await migrate();
      const { rows } = await pool.query<Row>(`SELECT * FROM ${table} WHERE stream_id = $1 AND name = $2`, [streamId, name]);
      const row = rows[0];
      if (!row) return undefined;
      return {
        streamId: row.stream_id,
        name: row.name,
        version: Number(row.version),
        schemaVersion: row.schema_version,
        contentType: row.content_type,
        state: new Uint8Array(row.state.buffer, row.state.byteOffset, row.state.byteLength),
        timestamp: Number(row.created_at),
      };
    },
    async save(snapshot) {
      await migrate();
      const saving = pool.query(
        `INSERT INTO ${table} AS s (stream_id, name, version, schema_version, content_type, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (stream_id, name) DO UPDATE SET
           version = EXCLUDED.version, schema_version = EXCLUDED.schema_version, content_type = EXCLUDED.content_type,
           state = EXCLUDED.state, created_at = EXCLUDED.created_at
         WHERE s.version <= EXCLUDED.version OR s.schema_version <> EXCLUDED.schema_version`,
        [
          snapshot.streamId,
          snapshot.name,
          snapshot.version,
          snapshot.schemaVersion,
          snapshot.contentType,
          Buffer.from(snapshot.state.buffer, snapshot.state.byteOffset, snapshot.state.byteLength),
          snapshot.timestamp,
        ],
      );
      await explainPgResources(`saving the "${snapshot.name}" snapshot of stream "${snapshot.streamId}" at version ${snapshot.version}`, saving);
    },
    async delete(streamId, name) {
      await migrate();
      if (name === undefined) await pool.query(`DELETE FROM ${table} WHERE stream_id = $1`, [streamId]);
      else await pool.query(`DELETE FROM ${table} WHERE stream_id = $1 AND name = $2`, [streamId, name]);
    },
  };
}
