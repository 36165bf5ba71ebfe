import { ConfigError } from '../core/errors.ts';
import { MAX_TIMER_MS } from '../core/timer-limit.ts';

// Commander hands option values over as strings; these turn them into numbers or refuse them with
// a ConfigError (exit code 2) naming the option, before the command does anything. Number() rather
// than parseInt(): "10abc" and "2.5" are mistakes to report, not 10 and 2.


/** A number > 0 (`--high`). */
export const positiveNumber =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new ConfigError(`${name} must be a positive number, got "${v}"`);
    return n;
  };

/** A number from `min` to `max` (`--duration`, `--rate`). */
export const numberBetween =
  (name: string, min: number, max = Number.POSITIVE_INFINITY) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new ConfigError(`${name} must be a number from ${min}${Number.isFinite(max) ? ` to ${max}` : ''}, got "${v}"`);
    }
    return n;
  };

/** A duration in ms > 0 (or ≥ `min`) that a timer can wait (`--interval`, `--idle`). */
export const milliseconds =
  (name: string, min?: number) =>
  (v: string): number => {
    const n = positiveNumber(name)(v);
    if (min !== undefined && n < min) throw new ConfigError(`${name} must be at least ${min} ms, got "${v}"`);
    if (n > MAX_TIMER_MS) throw new ConfigError(`${name} must be at most ${MAX_TIMER_MS} ms, got "${v}"`);
    return n;
  };

/** A whole number ≥ `min`, and ≤ `max` when given (`--rounds`, `--limit`). */
export const wholeNumber =
  (name: string, min = 1, max = Number.MAX_SAFE_INTEGER) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(`${name} must be a whole number ${max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `≥ ${min}`}, got "${v}"`);
    }
    return n;
  };

/** A TCP port, 0 (any free one) to 65535 (`--metrics-port`). */
export const portNumber =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65_535) throw new ConfigError(`${name} must be a port number (0-65535), got "${v}"`);
    return n;
  };
