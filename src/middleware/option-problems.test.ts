import { describe, expect, it } from 'vitest';
import { memoryIdempotencyStore } from '../stores/idempotency/memory.ts';
import { circuitBreaker } from './circuit-breaker.ts';
import { deadLetter } from './dead-letter.ts';
import { idempotency } from './idempotency.ts';
import { rateLimit } from './rate-limit.ts';
import { retry } from './retry.ts';

/** The problems of the ConfigError `make` throws. */
function problems(make: () => unknown): readonly string[] {
  try {
    make();
  } catch (error) {
    expect((error as Error).name).toBe('ConfigError');
    return (error as { problems: readonly string[] }).problems;
  }
  throw new Error('no ConfigError thrown');
}

// Each of these used to be accepted and fail later, far away: NaN attempts retried for ever and
// never dead-lettered, a NaN TTL forgot every key (duplicates ran), an infinite TTL made Redis
// refuse each "processed" mark after the handler ran (it ran again on every delivery), zero
// probes left a circuit half-open and its intake paused for good.
describe('middleware options: a bad number is a ConfigError at construction, naming every problem', () => {
  it('idempotency()', () => {
    const store = memoryIdempotencyStore();
    expect(problems(() => idempotency({ store, ttlMs: Number.NaN, leaseMs: -1 }))).toEqual([
      'idempotency(): ttlMs must be a number of ms above 0 (finite), got NaN',
      'idempotency(): leaseMs must be a number of ms above 0 (finite), got -1',
    ]);
    expect(problems(() => idempotency({ store, ttlMs: Number.POSITIVE_INFINITY }))).toHaveLength(1);
    expect(() => idempotency({ store, ttlMs: 1, leaseMs: 30 * 24 * 3600_000 })).not.toThrow();
  });

  it('retry()', () => {
    expect(problems(() => retry({ attempts: Number.NaN, initialDelayMs: -1, multiplier: 0.5, maxDelayMs: 2 ** 31, jitter: 2, maxElapsedMs: 0 }))).toEqual([
      'retry(): attempts must be a whole number ≥ 1 (or Infinity), got NaN',
      'retry(): initialDelayMs must be a number of ms from 0 to 2147483647 (the longest timer), got -1',
      'retry(): multiplier must be a number ≥ 1, got 0.5',
      'retry(): maxDelayMs must be a number of ms from 0 to 2147483647 (the longest timer), got 2147483648',
      'retry(): jitter must be a number from 0 to 1, got 2',
      'retry(): maxElapsedMs must be a number of ms above 0 (finite), got 0',
    ]);
    expect(() => retry({ attempts: Number.POSITIVE_INFINITY, maxElapsedMs: Number.POSITIVE_INFINITY, jitter: 1, initialDelayMs: 0 })).not.toThrow();
  });

  it('deadLetter()', () => {
    expect(problems(() => deadLetter({ maxAttempts: Number.NaN, stackLines: -1 }))).toEqual([
      'deadLetter(): maxAttempts must be a whole number ≥ 1, got NaN',
      'deadLetter(): stackLines must be a whole number ≥ 0, got -1',
    ]);
    expect(() => deadLetter({ maxAttempts: 1, stackLines: 0 })).not.toThrow();
  });

  it('circuitBreaker()', () => {
    expect(problems(() => circuitBreaker({ failureThreshold: 0, resetTimeoutMs: Number.POSITIVE_INFINITY, probes: 0 }))).toEqual([
      'circuitBreaker(): failureThreshold must be a whole number ≥ 1, got 0',
      'circuitBreaker(): resetTimeoutMs must be a number of ms from 0 to 2147483647 (the longest timer), got Infinity',
      'circuitBreaker(): probes must be a whole number ≥ 1, got 0',
    ]);
    expect(problems(() => circuitBreaker({ failureRate: { rate: 0, windowMs: Number.NaN, minimumCalls: 0.5 } }))).toEqual([
      'circuitBreaker(): failureRate.rate must be a fraction above 0, at most 1, got 0',
      'circuitBreaker(): failureRate.windowMs must be a number of ms above 0 (finite), got NaN',
      'circuitBreaker(): failureRate.minimumCalls must be a whole number ≥ 1, got 0.5',
    ]);
    expect(() => circuitBreaker({ failureRate: { rate: 1, windowMs: 1_000 }, resetTimeoutMs: 0, probes: 1 })).not.toThrow();
  });

  it('rateLimit()', () => {
    expect(problems(() => rateLimit({ perSecond: Number.POSITIVE_INFINITY, burst: Number.NaN }))).toEqual([
      'rateLimit({ perSecond }): perSecond must be a positive number (finite), got Infinity',
      'rateLimit(): burst must be a number ≥ 1, got NaN',
    ]);
  });
});
