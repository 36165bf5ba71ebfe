import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { ClosedError, ConfigError } from '../../core/errors.ts';
import { explainPgResources, pgResourceError } from '../../internal/pg-errors.ts';
import { createTables } from '../../postgres/create-tables.ts';
import { attemptEndedError } from '../../router/attempt-context.ts';
import { contextKey, type RouterContext } from '../../router/types.ts';
import type { ClaimOptions, IdempotencyClaim, IdempotencyStore } from './store.ts';
import { postgresKey } from './stored-key.ts';

/** PostgreSQL store settings. */
export interface PostgresIdempotencyOptions {
  /** A pg Pool (the store never ends it). Size it at least to the handlers' total concurrency. */
  pool: Pool;
  /** Table of processed keys, created if missing. Default `switchyard_idempotency`. */
  table?: string;
  /**
   * Default true: each claim opens a transaction that inserts the key first; the handler gets
   * that transaction through `pgTransaction(ctx)`, and its writes and the "processed" mark commit
   * together (exactly-once effect). False: claims are short leases, like the Redis store.
   */
  transactional?: boolean;
}

/** What became of a lease-mode key whose "processed" mark failed. */
const LEASE_KEPT = 'The key stays claimed until its lease runs out, then the message may run again (at-least-once)';

const txKey = contextKey<PoolClient>('switchyard.postgres.transaction');

/**
 * The transaction a transactional PostgreSQL idempotency store opened for this message: write
 * your side effects through it and they commit together with the "processed" mark.
 *
 * @example
 * ```ts
 * router.handle('ledger', route, async (msg, ctx) => {
 *   await pgTransaction(ctx).query('INSERT INTO ledger(id, amount) VALUES ($1, $2)', [msg.id, msg.payload.amount]);
 * });
 * ```
 */
export function pgTransaction(ctx: RouterContext): PoolClient {
  // An attempt that ended (its timeout() fired) and still runs would get the transaction of the
  // attempt that follows it, from the context they share, and its writes would commit with that one.
  if (ctx.ended) throw attemptEndedError(ctx, 'pgTransaction(ctx)');
  const client = ctx.get(txKey);
  if (!client) {
    throw new ConfigError(
      `handler "${ctx.handler}": no PostgreSQL transaction in this context; use idempotency({ store: postgresIdempotencyStore({ pool, transactional: true }) }) on this handler`,
    );
  }
  return client;
}

/**
 * The handler's view of a claim's connection: its queries go through until the claim commits or
 * rolls back, then they are refused. By then the connection is back in the pool, maybe in another
 * message's transaction: a query that a handler whose attempt timed out sends late would run
 * there and commit with it, or outside any transaction — a second effect either way.
 */
function guardedClient(client: PoolClient, key: string, isDone: () => boolean): PoolClient {
  const query = (...args: unknown[]): unknown => {
    if (!isDone()) return (client.query as (...a: unknown[]) => unknown)(...args);
    const error = new ClosedError(`the PostgreSQL transaction of message key "${key}"`, {
      detail: "it was committed or rolled back (its attempt ended: an error, or its timeout() fired); a late query is refused, as it would run in another message's transaction or in none",
    });
    const callback = args.at(-1);
    if (typeof callback !== 'function') return Promise.reject(error);
    queueMicrotask(() => (callback as (e: Error) => void)(error));
    return undefined;
  };
  return new Proxy(client, {
    get(target, property) {
      if (property === 'query') return query;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Quotes a possibly schema-qualified table name, rejecting anything but plain identifiers. */
export function quoteTable(table: string, what = 'table'): string {
  if (typeof table !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(table)) {
    throw new ConfigError(`${what} must be an identifier like "my_table" or "schema.my_table", got ${JSON.stringify(table)}`);
  }
  return table
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}

/**
 * Processed keys in PostgreSQL.
 *
 * Transactional mode (default) gives an exactly-once EFFECT for writes to the same database:
 * the claim is `INSERT … ON CONFLICT` inside a transaction the handler writes through
 * (`pgTransaction(ctx)`); the key's row lock makes a concurrent duplicate wait for the first to
 * commit (then skip) or roll back (then run); handler failure rolls both back. Lease mode
 * (`transactional: false`) behaves like the Redis store (at-least-once effect): a claim is a row
 * with a token and an expiry, renewed while a long handler runs.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { postgresIdempotencyStore, pgTransaction } from 'switchyard/postgres';
 * const store = postgresIdempotencyStore({ pool: new pg.Pool() });
 * router.use(retry(), deadLetter(), idempotency({ store }));
 * ```
 */
export function postgresIdempotencyStore(options: PostgresIdempotencyOptions): IdempotencyStore & {
  /** Creates the table if missing (claims do it on first use). */
  migrate(): Promise<void>;
  /** Deletes expired keys; returns how many. */
  purge(): Promise<number>;
} {
  const { pool } = options;
  const table = quoteTable(options.table ?? 'switchyard_idempotency');
  const transactional = options.transactional ?? true;
  let migrated: Promise<void> | undefined;
  const migrate = (): Promise<void> => {
    // Serialised across processes: several starting at once all make their first claim together.
    migrated ??= createTables(pool, table, [
      `CREATE TABLE IF NOT EXISTS ${table} (key text PRIMARY KEY, state text NOT NULL, token text NOT NULL, expires_at timestamptz NOT NULL)`,
    ]).then(
      () => {},
      (error: unknown) => {
        migrated = undefined;
        throw error;
      },
    );
    return migrated;
  };

  // Insert the key, or take over a row whose lease or TTL has run out.
  const upsert = `INSERT INTO ${table} (key, state, token, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
    ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, token = EXCLUDED.token, expires_at = EXCLUDED.expires_at
    WHERE ${table}.expires_at < now() RETURNING key`;

  async function claimInTransaction(key: string, ttlMs: number): Promise<IdempotencyClaim> {
    const client = await pool.connect();
    // A connection that dies while checked out emits 'error' on the client: its next query fails,
    // the claim is released with the error and the pool discards the client.
    const onError = (): void => {};
    client.on('error', onError);
    let done = false;
    const letGo = (error?: Error): void => {
      client.off('error', onError);
      client.release(error);
    };
    const finish = async (sql: 'COMMIT' | 'ROLLBACK'): Promise<void> => {
      if (done) return;
      done = true;
      try {
        await client.query(sql);
        letGo();
      } catch (error) {
        letGo(error as Error);
        // A COMMIT that fails rolls back: the handler's writes and the mark are both gone.
        throw sql === 'COMMIT' ? pgResourceError(`idempotency store: committing key "${key}" with the handler's writes`, error) : error;
      }
    };
    try {
      await client.query('BEGIN');
      const inserted = await client.query(upsert, [key, 'done', '', ttlMs]);
      if (inserted.rowCount === 0) {
        await finish('ROLLBACK');
        return { status: 'processed' };
      }
    } catch (error) {
      done = true;
      letGo(error as Error);
      throw pgResourceError(`idempotency store: claiming key "${key}"`, error);
    }
    return {
      status: 'claimed',
      attach: (ctx) => ctx.set(txKey, guardedClient(client, key, () => done)),
      complete: () => finish('COMMIT'),
      release: () => finish('ROLLBACK'),
    };
  }

  async function claimLease(key: string, leaseMs: number, ttlMs: number): Promise<IdempotencyClaim> {
    const token = randomUUID();
    const inserted = await explainPgResources(`idempotency store: claiming key "${key}"`, pool.query(upsert, [key, 'processing', token, leaseMs]));
    if (inserted.rowCount === 0) {
      const row = await pool.query<{ state: string }>(`SELECT state FROM ${table} WHERE key = $1`, [key]);
      // Gone meanwhile (released): busy makes the caller try again shortly.
      return { status: row.rows[0]?.state === 'done' ? 'processed' : 'busy' };
    }
    return {
      status: 'claimed',
      async complete() {
        const marking = pool.query(`UPDATE ${table} SET state = 'done', token = '', expires_at = now() + $2 * interval '1 millisecond' WHERE key = $1`, [key, ttlMs]);
        await explainPgResources(`idempotency store: marking key "${key}" processed`, marking, LEASE_KEPT);
      },
      async release() {
        await pool.query(`DELETE FROM ${table} WHERE key = $1 AND token = $2 AND state = 'processing'`, [key, token]);
      },
      async renew() {
        // Only while the row is still our claim: the token changes when another consumer takes it over.
        const renewing = pool.query(
          `UPDATE ${table} SET expires_at = now() + $3 * interval '1 millisecond' WHERE key = $1 AND token = $2 AND state = 'processing'`,
          [key, token, leaseMs],
        );
        return (await explainPgResources(`idempotency store: renewing the claim of key "${key}"`, renewing)).rowCount === 1;
      },
    };
  }

  return {
    name: 'postgres',
    migrate,
    async claim(key: string, { leaseMs, ttlMs }: ClaimOptions): Promise<IdempotencyClaim> {
      await migrate();
      const stored = postgresKey(key);
      return transactional ? claimInTransaction(stored, ttlMs) : claimLease(stored, leaseMs, ttlMs);
    },
    async purge() {
      await migrate();
      return (await pool.query(`DELETE FROM ${table} WHERE expires_at < now()`)).rowCount ?? 0;
    },
    async close() {},
  };
}
