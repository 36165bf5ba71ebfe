import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` in a transaction on one pooled client: commits what it did, rolls back when it
 * throws. A connection that cannot even roll back is discarded, not handed to the next user.
 *
 * @example
 * ```ts
 * await inTransaction(pool, (client) => client.query('UPDATE accounts SET …'));
 * ```
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollback: unknown) => (broken = rollback as Error));
    throw error;
  } finally {
    client.release(broken);
  }
}

/** A signed 64-bit advisory-lock key (as decimal text), the same in every process for one name. */
export function advisoryLockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}
