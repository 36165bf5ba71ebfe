/**
 * The longest delay a Node timer takes (2³¹ − 1 ms, about 24.8 days). Node fires a longer one
 * after 1 ms instead, with a warning: a setting above it would end a wait at once, so it is refused.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Why `value` (the setting `name`) is no wait a timer can make — not a number from 0 to
 * MAX_TIMER_MS — or undefined when it is, or when it is not set.
 *
 * @example
 * ```ts
 * const problem = timerMsProblem('drainTimeoutMs', options.drainTimeoutMs);
 * if (problem) problems.push(problem);
 * ```
 */
export function timerMsProblem(name: string, value: unknown): string | undefined {
  if (value === undefined || (typeof value === 'number' && value >= 0 && value <= MAX_TIMER_MS)) return undefined;
  return `${name} must be a number of ms from 0 to ${MAX_TIMER_MS}, got ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`;
}
