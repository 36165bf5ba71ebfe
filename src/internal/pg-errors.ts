import { TransportError } from '../core/errors.ts';

/** PostgreSQL's "insufficient resources" errors (SQLSTATE class 53), in plain words. */
const RESOURCES: Readonly<Record<string, string>> = {
  '53100': 'the database server is out of disk space',
  '53200': 'the database server is out of memory',
  '53300': 'the database server has no connection slots left (max_connections)',
};

/**
 * `error` as it should reach the caller of a write that ran in a transaction: PostgreSQL running
 * out of disk, memory or connections becomes a retryable TransportError saying what failed, that
 * nothing was stored (the transaction rolled back) and what to do; anything else is returned as is.
 *
 * @example
 * ```ts
 * } catch (error) {
 *   await client.query('ROLLBACK');
 *   throw pgResourceError(`appending to stream "${id}"`, error);
 * }
 * ```
 */
export function pgResourceError(what: string, error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const plain = typeof code === 'string' ? RESOURCES[code] : undefined;
  if (plain === undefined) return error;
  return new TransportError(
    `${what} failed: ${plain} (SQLSTATE ${String(code)}: ${(error as Error).message}). Nothing of it was stored (the transaction rolled back); free space or resources on the server, then try again.`,
    { cause: error, retryable: true },
  );
}
