import { MAX_TIMER_MS } from '../core/timer-limit.ts';

/**
 * Checks of middleware options, each returning the problems found (none: `[]`), so a factory
 * reports every bad option at once in one ConfigError. A bad number otherwise failed later and
 * far away: NaN attempts retried for ever, a NaN TTL forgot every key, a TTL Redis refuses failed
 * each message after its handler ran.
 */

/** A whole number ≥ `min` (or `Infinity`, when `infinite`). */
export function wholeProblems(where: string, name: string, value: number | undefined, min: number, infinite = false): string[] {
  if (value === undefined || (Number.isInteger(value) && value >= min) || (infinite && value === Number.POSITIVE_INFINITY)) return [];
  return [`${where}: ${name} must be a whole number ≥ ${min}${infinite ? ' (or Infinity)' : ''}, got ${String(value)}`];
}

/**
 * A number from `min` to `max`. A wait a timer makes passes `max: MAX_TIMER_MS`: Node fires a
 * longer one at once.
 */
export function rangeProblems(where: string, name: string, value: number | undefined, min: number, max = Number.MAX_VALUE, unit = ''): string[] {
  if (value === undefined || (typeof value === 'number' && value >= min && value <= max)) return [];
  const upTo = max === MAX_TIMER_MS ? `${max} (the longest timer)` : max === Number.MAX_VALUE ? '' : String(max);
  return [`${where}: ${name} must be a number${unit} ${upTo ? `from ${min} to ${upTo}` : `≥ ${min}`}, got ${String(value)}`];
}

/** A number of milliseconds greater than 0 (finite). */
export function positiveMsProblems(where: string, name: string, value: number | undefined, max = Number.MAX_VALUE): string[] {
  if (value === undefined || (typeof value === 'number' && value > 0 && value <= max)) return [];
  return [`${where}: ${name} must be a number of ms above 0${max === MAX_TIMER_MS ? ` and at most ${max} (the longest timer)` : ' (finite)'}, got ${String(value)}`];
}
