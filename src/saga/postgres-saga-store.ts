import type { Pool } from 'pg';
import { ConcurrencyError, ConfigError } from '../core/errors.ts';
import { explainPgResources } from '../internal/pg-errors.ts';
import { createTables } from '../postgres/create-tables.ts';
import { UNFINISHED_STATUSES, type NewSagaRecord, type SagaQuery, type SagaRecord, type SagaStatus, type SagaStore } from './saga-store.ts';
import { checkSagaQuery } from './check-saga-query.ts';

/** PostgreSQL saga store settings. */
export interface PostgresSagaStoreOptions {
  /** A pg Pool (the store never ends it). */
  pool: Pool;
  /** Table of instances, created if missing; may be schema-qualified. Default `switchyard_sagas`. */
  table?: string;
}

/** A PostgreSQL saga store; `migrate()` creates the table (the first call of any method does too). */
export interface PostgresSagaStore extends SagaStore {
  migrate(): Promise<void>;
  /** The quoted table name, for your own queries. */
  readonly table: string;
}

/** Quotes a possibly schema-qualified table name, rejecting anything but plain identifiers. */
function quoteTable(table: string): string {
  if (typeof table !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(table)) {
    throw new ConfigError(`saga store table must be an identifier like "sagas" or "schema.sagas", got ${JSON.stringify(table)}`);
  }
  return table
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}

/** The database clock in ms: leases compare against one clock, whichever process wrote them. */
const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;
const UNFINISHED = `(${UNFINISHED_STATUSES.map((s) => `'${s}'`).join(', ')})`;

interface Row {
  id: string;
  saga: string;
  status: SagaStatus;
  version: number;
  owner: string | null;
  lease_until: string | null;
  created_at: string;
  updated_at: string;
  body: Omit<SagaRecord, 'id' | 'saga' | 'status' | 'version' | 'owner' | 'leaseUntil' | 'createdAt' | 'updatedAt'>;
}

function fromRow(row: Row): SagaRecord {
  return {
    ...row.body,
    id: row.id,
    saga: row.saga,
    status: row.status,
    version: row.version,
    ...(row.owner === null ? {} : { owner: row.owner }),
    ...(row.lease_until === null ? {} : { leaseUntil: Number(row.lease_until) }),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function body(record: NewSagaRecord | SagaRecord): string {
  const { id: _i, saga: _s, status: _st, version: _v, owner: _o, leaseUntil: _l, createdAt: _c, updatedAt: _u, ...rest } = record as SagaRecord;
  return JSON.stringify(rest);
}

/**
 * Saga instances in PostgreSQL: one row per instance, its history and state in a `jsonb` body.
 * Writes are `UPDATE … WHERE version = $n` (optimistic concurrency); leases use the database's
 * clock, and `claim` uses `FOR UPDATE SKIP LOCKED`, so orchestrators in several processes share
 * one table safely.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { postgresSagaStore, SagaOrchestrator } from 'switchyard/saga';
 * const store = postgresSagaStore({ pool: new pg.Pool({ connectionString: process.env.SWITCHYARD_PG_URL }) });
 * const orchestrator = new SagaOrchestrator({ store, sagas: [fulfillment] });
 * ```
 */
export function postgresSagaStore(options: PostgresSagaStoreOptions): PostgresSagaStore {
  const { pool } = options;
  if (!pool || typeof pool.query !== 'function') throw new ConfigError('postgresSagaStore needs { pool }: a pg Pool');
  const table = quoteTable(options.table ?? 'switchyard_sagas');
  const indexBase = (options.table ?? 'switchyard_sagas').replace('.', '_');
  let migrated: Promise<void> | undefined;

  const migrate = (): Promise<void> => {
    // Behind a lock: processes creating the table at once would fail on pg_type's unique index.
    migrated ??= createTables(pool, table, [
      `CREATE TABLE IF NOT EXISTS ${table} (
        id text PRIMARY KEY,
        saga text NOT NULL,
        status text NOT NULL,
        version integer NOT NULL,
        owner text,
        lease_until bigint,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        body jsonb NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS "${indexBase}_unfinished" ON ${table} (updated_at) WHERE status IN ${UNFINISHED}`,
      `CREATE INDEX IF NOT EXISTS "${indexBase}_created" ON ${table} (created_at DESC, id DESC)`,
    ]).catch((error: unknown) => {
      migrated = undefined;
      throw error;
    });
    return migrated;
  };

  /** Runs one statement; the server running out of disk, memory or connections is explained as `what` failing. */
  const query = async (what: string, text: string, values: unknown[]): Promise<Row[]> => {
    await migrate();
    return (await explainPgResources(`saga store: ${what}`, pool.query<Row>(text, values))).rows;
  };

  return {
    name: 'postgres',
    table,
    migrate,
    async create(record, lease) {
      const rows = await query(
        `creating saga "${record.id}"`,
        `INSERT INTO ${table} (id, saga, status, version, owner, lease_until, created_at, updated_at, body)
         VALUES ($1, $2, $3, 1, $4, CASE WHEN $4::text IS NULL THEN NULL ELSE ${NOW_MS} + $5::bigint END, ${NOW_MS}, ${NOW_MS}, $6)
         ON CONFLICT (id) DO NOTHING RETURNING *`,
        [record.id, record.saga, record.status, lease?.owner ?? null, lease?.ms ?? 0, body(record)],
      );
      if (rows[0]) return fromRow(rows[0]);
      const existing = await this.get(record.id);
      throw new ConcurrencyError(`saga ${record.id} already exists`, 0, existing?.version ?? 'unknown');
    },
    async get(id) {
      const rows = await query(`reading saga "${id}"`, `SELECT * FROM ${table} WHERE id = $1`, [id]);
      return rows[0] && fromRow(rows[0]);
    },
    async update(record, lease) {
      const rows = await query(
        `saving saga "${record.id}" (version ${record.version + 1})`,
        `UPDATE ${table} SET status = $3, version = version + 1, body = $4, updated_at = ${NOW_MS},
           owner = $5, lease_until = CASE WHEN $6::bigint IS NULL THEN NULL ELSE ${NOW_MS} + $6::bigint END
         WHERE id = $1 AND version = $2 RETURNING *`,
        [record.id, record.version, record.status, body(record), lease ? lease.owner : (record.owner ?? null), lease ? lease.ms : null],
      );
      if (rows[0]) return fromRow(rows[0]);
      const current = await query(`reading the version of saga "${record.id}"`, `SELECT version FROM ${table} WHERE id = $1`, [record.id]);
      throw new ConcurrencyError(`saga ${record.id}`, record.version, current[0]?.version ?? 'none');
    },
    async acquire(id, lease) {
      const rows = await query(
        `taking the lease of saga "${id}"`,
        `UPDATE ${table} SET version = version + 1, owner = $2, lease_until = ${NOW_MS} + $3::bigint, updated_at = ${NOW_MS}
         WHERE id = $1 AND status IN ${UNFINISHED} AND (owner IS NULL OR owner = $2 OR COALESCE(lease_until, 0) < ${NOW_MS}) RETURNING *`,
        [id, lease.owner, lease.ms],
      );
      return rows[0] && fromRow(rows[0]);
    },
    async claim(lease, limit, filter = {}) {
      const rows = await query(
        'claiming unfinished sagas',
        `UPDATE ${table} SET version = version + 1, owner = $1, lease_until = ${NOW_MS} + $2::bigint, updated_at = ${NOW_MS}
         WHERE id IN (
           SELECT id FROM ${table}
           WHERE status IN ${UNFINISHED} AND (owner IS NULL OR owner = $1 OR COALESCE(lease_until, 0) < ${NOW_MS})
             AND ($4::text[] IS NULL OR saga = ANY($4::text[])) AND NOT (id = ANY($5::text[]))
           ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         AND status IN ${UNFINISHED} AND (owner IS NULL OR owner = $1 OR COALESCE(lease_until, 0) < ${NOW_MS})
         RETURNING *`,
        [lease.owner, lease.ms, limit, filter.sagas ? [...filter.sagas] : null, [...(filter.exclude ?? [])]],
      );
      return rows.map(fromRow).toSorted((a, b) => a.createdAt - b.createdAt);
    },
    async renew(ids, lease) {
      if (ids.length === 0) return [];
      const rows = await query('renewing saga leases', `UPDATE ${table} SET lease_until = ${NOW_MS} + $3::bigint WHERE id = ANY($1::text[]) AND owner = $2 RETURNING id`, [
        [...ids],
        lease.owner,
        lease.ms,
      ]);
      return rows.map((r) => r.id);
    },
    async list(q: SagaQuery = {}) {
      checkSagaQuery('postgres', q);
      const rows = await query(
        'listing sagas',
        `SELECT * FROM ${table}
         WHERE ($1::text[] IS NULL OR status = ANY($1::text[])) AND ($2::text IS NULL OR saga = $2)
         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4`,
        [q.status ? [...q.status] : null, q.saga ?? null, q.limit ?? 100, q.offset ?? 0],
      );
      return rows.map(fromRow);
    },
    async close() {},
  };
}
