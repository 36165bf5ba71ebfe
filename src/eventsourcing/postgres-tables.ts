import type { Pool } from 'pg';
import { ConfigError } from '../core/errors.ts';
import { advisoryLockKey, inTransaction } from '../postgres/in-transaction.ts';

/** Where the PostgreSQL event-sourcing tables live. */
export interface PostgresTableOptions {
  /** Schema of the tables, created if missing. Default `public`. */
  schema?: string;
  /** Prefix of every table name. Default `switchyard_`. */
  tablePrefix?: string;
}

/** Fully quoted table names, and the advisory-lock keys derived from them. */
export interface PostgresTables {
  schema: string;
  events: string;
  streams: string;
  snapshots: string;
  checkpoints: string;
  /** Key of the transaction-level advisory lock that orders appends. */
  appendLock: string;
  /** Key of the advisory lock that serialises migrations of these tables. */
  migrateLock: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Quoted names of the event-sourcing tables in a schema (validated: plain identifiers only).
 *
 * @example
 * ```ts
 * postgresTables({ schema: 'orders' }).events; // '"orders"."switchyard_events"'
 * ```
 */
export function postgresTables(options: PostgresTableOptions = {}): PostgresTables {
  const schema = options.schema ?? 'public';
  const prefix = options.tablePrefix ?? 'switchyard_';
  const problems: string[] = [];
  if (!IDENTIFIER.test(schema)) problems.push(`schema must be a plain identifier (letters, digits, _), got ${JSON.stringify(schema)}`);
  if (prefix !== '' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(prefix)) problems.push(`tablePrefix must be a plain identifier prefix, got ${JSON.stringify(prefix)}`);
  ConfigError.throwIfAny(problems);
  const table = (name: string): string => `"${schema}"."${prefix}${name}"`;
  const events = table('events');
  return {
    schema: `"${schema}"`,
    events,
    streams: table('streams'),
    snapshots: table('snapshots'),
    checkpoints: table('checkpoints'),
    appendLock: advisoryLockKey(`append:${events}`),
    migrateLock: advisoryLockKey(`migrate:${events}`),
  };
}

/** Runs DDL once per process, serialised across processes by an advisory lock. */
export function migration(pool: Pool, tables: PostgresTables, ddl: string): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [tables.migrateLock]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${tables.schema}`);
      await client.query(ddl);
    }).catch((error: unknown) => {
      done = undefined;
      throw error;
    });
    return done;
  };
}
