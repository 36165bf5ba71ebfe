import { TransportError } from '../core/errors.ts';

/** PostgreSQL's "insufficient resources" errors (SQLSTATE class 53), in plain words. */
const RESOURCES: Readonly<Record<string, string>> = {
  '53100': 'the database server is out of disk space',
  '53200': 'the database server is out of memory',
  '53300': 'the database server has no connection slots left (max_connections)',
};

/** What became of a write that failed in a transaction of its own: PostgreSQL rolled it back. */
export const NOTHING_STORED = 'Nothing of it was stored (the transaction rolled back)';

/**
 * `error` as it should reach the caller of a write: PostgreSQL running out of disk, memory or
 * connections becomes a retryable TransportError saying what failed, what became of the write
 * (`outcome`, by default that nothing was stored) and what to do; anything else is returned as is.
 *
 * @example
 * ```ts
 * } catch (error) {
 *   await client.query('ROLLBACK');
 *   throw pgResourceError(`appending to stream "${id}"`, error);
 * }
 * ```
 */
export function pgResourceError(what: string, error: unknown, outcome: string = NOTHING_STORED): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const plain = typeof code === 'string' ? RESOURCES[code] : undefined;
  if (plain === undefined) return error;
  return new TransportError(
    `${what} failed: ${plain} (SQLSTATE ${String(code)}: ${(error as Error).message}). ${outcome}; free space or resources on the server, then try again.`,
    { cause: error, retryable: true },
  );
}

/**
 * `work`'s result, or its failure explained by `pgResourceError` (for one statement, or a
 * transaction, that either stores all of it or nothing).
 *
 * @example
 * ```ts
 * await explainPgResources(`saving the snapshot of "${id}"`, pool.query(sql, values));
 * ```
 */
export async function explainPgResources<T>(what: string, work: Promise<T>, outcome?: string): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw pgResourceError(what, error, outcome);
  }
}
