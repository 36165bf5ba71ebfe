import { inspect } from 'node:util';
import { redact } from '../core/redact.ts';
import { safeFields } from '../observability/logging.ts';
import type { Logger } from '../router/types.ts';

/**
 * The logger used when none is given: warnings and errors to stderr, one line each — `prefix:
 * message {fields}` — so a stream of them (a dead letter per bad message, say) stays one line per
 * event for grep and for log shippers, rather than an object spread over several lines.
 * Credentials are masked as `pinoLogger` masks them (`redact()` on the message, `safeFields()` on
 * the fields): a connection URL in an error text or a field never reaches the terminal whole.
 *
 * @example
 * ```ts
 * const logger = consoleLogger('switchyard saga');
 * logger.warn('step failed', { step: 'charge', attempt: 2 });
 * ```
 */
export function consoleLogger(prefix = 'switchyard'): Logger {
  const line = (message: string, fields?: Record<string, unknown>): string =>
    fields === undefined || Object.keys(fields).length === 0
      ? `${prefix}: ${redact(message)}`
      : `${prefix}: ${redact(message)} ${inspect(safeFields(fields), { breakLength: Infinity, depth: 4 })}`;
  return {
    debug: () => {},
    info: () => {},
    warn: (message, fields) => console.warn(line(message, fields)),
    error: (message, fields) => console.error(line(message, fields)),
  };
}
