import { SwitchyardError } from '../../core/errors.ts';

/**
 * A segment file holds damaged data that is not a torn tail: a record in the middle (or in a
 * closed segment) whose CRC or framing is wrong. The log refuses to open rather than skip it.
 * `file`, `offset` (the last good offset + 1, the record that is damaged), `position` (byte
 * position in the file) and `reason` say exactly where and what.
 */
export class CorruptLogError extends SwitchyardError {
  readonly file: string;
  readonly position: number;
  readonly offset: number;
  readonly reason: string;

  constructor(file: string, position: number, offset: number, reason: string) {
    super(
      `corrupt log segment ${file} at byte ${position} (record offset ${offset}): ${reason}. ` +
        'Records before it are intact; restore the file from a backup, or truncate it at that byte to drop the damaged records and everything after them.',
      { code: 'CORRUPT_LOG' },
    );
    this.name = 'CorruptLogError';
    this.file = file;
    this.position = position;
    this.offset = offset;
    this.reason = reason;
  }
}

/** True for a CorruptLogError, from any copy of the package. */
export function isCorruptLogError(error: unknown): error is CorruptLogError {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'CORRUPT_LOG';
}
