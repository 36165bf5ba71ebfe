import { inspect } from 'node:util';
import type { Logger } from '../router/types.ts';

/**
 * The logger used when none is given: warnings and errors to stderr, one line each — `prefix:
 * message {fields}` — so a stream of them (a dead letter per bad message, say) stays one line per
 * event for grep and for log shippers, rather than an object spread over several lines.
 *
 * @example
 * ```ts
 * const logger = consoleLogger('switchyard saga');
 * logger.warn('step failed', { step: 'charge', attempt: 2 });
 * ```
 */
export function consoleLogger(prefix = 'switchyard'): Logger {
  const line = (message: string, fields?: Record<string, unknown>): string =>
    fields === undefined || Object.keys(fields).length === 0 ? `${prefix}: ${message}` : `${prefix}: ${message} ${inspect(fields, { breakLength: Infinity, depth: 4 })}`;
  return {
    debug: () => {},
    info: () => {},
    warn: (message, fields) => console.warn(line(message, fields)),
    error: (message, fields) => console.error(line(message, fields)),
  };
}
