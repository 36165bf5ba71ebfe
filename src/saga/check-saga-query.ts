import { ConfigError } from '../core/errors.ts';
import type { SagaQuery } from './saga-store.ts';

/**
 * Refuses a `list` query whose `limit` or `offset` is not a whole number ≥ 0, with a ConfigError
 * naming it. Every store checks the same way: sliced in memory, a negative limit or offset
 * returned the wrong records without a word (an offset of -1, the oldest one), and PostgreSQL
 * refused them with an error of its own.
 */
export function checkSagaQuery(store: string, query: SagaQuery): void {
  const problems: string[] = [];
  for (const key of ['limit', 'offset'] as const) {
    const value = query[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      problems.push(`saga store ${store}: list() ${key} must be a whole number ≥ 0, got ${JSON.stringify(value) ?? String(value)}`);
    }
  }
  ConfigError.throwIfAny(problems);
}
