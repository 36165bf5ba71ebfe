import { TransportError } from '../../core/errors.ts';

/** What the file system's error codes mean to someone running the broker, and what they can do. */
const EXPLAINED: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk is full; free space on it',
  EDQUOT: "the user's disk quota is used up; free space or raise the quota",
  EFBIG: 'a file reached the size limit of this process (ulimit -f); raise the limit',
  EROFS: 'the file system is read-only; remount it read-write',
  EACCES: 'permission denied; give this user write access to the data directory',
  EPERM: 'permission denied; give this user write access to the data directory',
  EIO: 'the disk reported an I/O error; check the device',
  // Every segment of every partition keeps a descriptor open, so many topics reach the limit.
  EMFILE:
    'this process has as many files open as its limit allows (ulimit -n; the broker keeps one open per segment of every partition); raise the limit, or use fewer topics or partitions, or a larger segmentBytes',
  ENFILE: 'the system has as many files open as it allows (fs.file-max); raise that limit or close other programs',
};

/** The error's file system code (ENOSPC…), when it has one. */
export function diskErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/**
 * A TransportError for a failed write of the embedded broker: what failed, why in plain words
 * and what to do, then `outcome` (what became of the data). The system error is its `cause`.
 *
 * @example
 * ```ts
 * throw diskError(`writing to ${dir}`, error, 'None of it was stored; try again once the problem is fixed.');
 * ```
 */
export function diskError(what: string, error: unknown, outcome: string, retryable = true): TransportError {
  const code = diskErrorCode(error);
  const why = code && EXPLAINED[code] ? `${EXPLAINED[code]} (${code})` : error instanceof Error ? error.message : String(error);
  return new TransportError(`${what} failed: ${why}. ${outcome}`, { cause: error, retryable });
}
