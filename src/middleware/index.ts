/** The reliability middleware, one per file. */
export { retry, type RetryOptions } from './retry.ts';
export { deadLetter, DEAD_LETTER_HEADERS, type DeadLetterOptions } from './dead-letter.ts';
export { timeout } from './timeout.ts';
export { recover } from './recover.ts';
export { correlation, CORRELATION_HEADER, CAUSATION_HEADER } from './correlation.ts';
export { validate } from './validate.ts';
export { concurrency } from './concurrency.ts';
export { rateLimit, type RateLimitOptions } from './rate-limit.ts';
export { circuitBreaker, type CircuitBreaker, type CircuitBreakerOptions, type CircuitEvent, type CircuitState } from './circuit-breaker.ts';
export { idempotency, type IdempotencyOptions } from './idempotency.ts';
