/**
 * `switchyard/postgres`: the PostgreSQL idempotency store (transactional: exactly-once effect)
 * and the transactional outbox. Needs the `pg` package.
 */
export { postgresIdempotencyStore, pgTransaction, type PostgresIdempotencyOptions } from '../stores/idempotency/postgres.ts';
export { postgresOutbox, type PostgresOutbox, type PostgresOutboxOptions, type OutboxRelay, type RelayOptions, type Queryable } from '../outbox/postgres.ts';
