import type { Pool } from 'pg';
import { advisoryLockKey, inTransaction } from './in-transaction.ts';

/**
 * Runs `statements` (CREATE … IF NOT EXISTS and the like) in one transaction that first takes a
 * transaction-level advisory lock named after `name`, so processes creating the same tables at
 * the same time take turns.
 *
 * Why: `IF NOT EXISTS` does not make concurrent creation safe in PostgreSQL. Two sessions that
 * both find the table missing both create it, and the second fails with a unique violation on
 * `pg_type_typname_nsp_index` (or `pg_class_relname_nsp_index` for an index): the first claim or
 * `migrate()` of every process but one started together failed.
 *
 * @example
 * ```ts
 * await createTables(pool, '"public"."switchyard_outbox"', [`CREATE TABLE IF NOT EXISTS …`]);
 * ```
 */
export async function createTables(pool: Pool, name: string, statements: readonly string[]): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryLockKey(`switchyard.create-tables:${name}`)]);
    for (const sql of statements) await client.query(sql);
  });
}
