import type { Pool, PoolClient } from 'pg';
import { ConcurrencyError, ConfigError } from '../core/errors.ts';
import { pgResourceError } from '../internal/pg-errors.ts';
import type { OutgoingMessage } from '../core/message.ts';
import { createEventStore, type EventStoreOptions } from './create-event-store.ts';
import {
  type DomainEvent,
  type EventFilter,
  type EventStorage,
  type EventStore,
  type EventToStore,
  type ExpectedVersion,
  type ReadStreamOptions,
  type StoragePage,
  type StoredEvent,
} from './event-store.ts';
import { migration, postgresTables, type PostgresTableOptions, type PostgresTables } from './postgres-tables.ts';
import { eventToMessage, topicOf } from './publish.ts';

/**
 * A transactional outbox: anything with `enqueue(tx, topic, messages)` that writes the messages
 * through the given client (inside the append's transaction) for a relay to publish later.
 */
export interface TransactionalOutbox {
  enqueue(tx: PoolClient, topic: string, messages: OutgoingMessage[]): Promise<void>;
}

export interface PostgresEventStoreOptions extends EventStoreOptions, PostgresTableOptions {
  /** A pg Pool; the store never ends it. */
  pool: Pool;
  /** How often subscriptions and projections look for appends made by other processes, in ms. Default 250. */
  pollIntervalMs?: number;
  /**
   * Enqueue appended events in an outbox in the same transaction as the append (key = stream
   * id): they are published if and only if they are stored.
   */
  outbox?: { outbox: TransactionalOutbox; topic?: string | ((event: StoredEvent) => string) };
}

const COLUMNS = 'position, stream_id, version, id, type, schema_version, content_type, data, metadata, created_at';

interface Row {
  position: string;
  stream_id: string;
  version: string;
  id: string;
  type: string;
  schema_version: number;
  content_type: string;
  data: Buffer;
  metadata: Record<string, string>;
  created_at: string;
}

function toStored(row: Row): StoredEvent {
  return {
    position: Number(row.position),
    streamId: row.stream_id,
    version: Number(row.version),
    id: row.id,
    type: row.type,
    schemaVersion: row.schema_version,
    contentType: row.content_type,
    data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength),
    metadata: row.metadata,
    timestamp: Number(row.created_at),
  };
}

/**
 * Events in PostgreSQL: one `events` table with a global position (identity) and a unique
 * (stream_id, version), plus a `streams` table holding each stream's version.
 *
 * An append is one transaction: take the store's append lock, check the expected version, insert
 * the events, bump the stream's version, enqueue to the outbox (if configured), commit. The lock
 * makes global positions become visible in order — without it, a reader could see position 7
 * before a slower transaction commits position 6 and skip it forever — at the cost of appends
 * to the store being serialised (batch events per append for throughput).
 *
 * @example
 * ```ts
 * const storage = new PostgresEventStorage({ pool, schema: 'orders' });
 * await storage.migrate();
 * const store = createEventStore(storage, { codec: json() });
 * ```
 */
export class PostgresEventStorage implements EventStorage {
  readonly name = 'postgres';
  readonly pollIntervalMs: number;
  readonly tables: PostgresTables;
  readonly migrate: () => Promise<void>;
  readonly #pool: Pool;
  readonly #listeners = new Set<() => void>();
  readonly #outbox: PostgresEventStoreOptions['outbox'];

  constructor(options: Pick<PostgresEventStoreOptions, 'pool' | 'schema' | 'tablePrefix' | 'pollIntervalMs' | 'outbox'>) {
    const problems: string[] = [];
    if (!options.pool || typeof options.pool.connect !== 'function') problems.push('postgresEventStore: pool must be a pg Pool (new pg.Pool({ connectionString }))');
    const poll = options.pollIntervalMs ?? 250;
    if (!(Number.isFinite(poll) && poll > 0)) problems.push(`postgresEventStore: pollIntervalMs must be > 0, got ${poll}`);
    if (options.outbox && typeof options.outbox.outbox?.enqueue !== 'function') problems.push('postgresEventStore: outbox.outbox must have enqueue(tx, topic, messages)');
    ConfigError.throwIfAny(problems);
    this.#pool = options.pool;
    this.pollIntervalMs = poll;
    this.#outbox = options.outbox;
    this.tables = postgresTables(options);
    const t = this.tables;
    this.migrate = migration(
      this.#pool,
      t,
      `CREATE TABLE IF NOT EXISTS ${t.events} (
         position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         stream_id text NOT NULL,
         version bigint NOT NULL,
         id text NOT NULL,
         type text NOT NULL,
         schema_version integer NOT NULL,
         content_type text NOT NULL,
         data bytea NOT NULL,
         metadata jsonb NOT NULL,
         created_at bigint NOT NULL,
         category text GENERATED ALWAYS AS (split_part(stream_id, '-', 1)) STORED,
         UNIQUE (stream_id, version)
       );
       CREATE INDEX IF NOT EXISTS ${indexName(t.events, 'category')} ON ${t.events} (category, position);
       CREATE TABLE IF NOT EXISTS ${t.streams} (
         stream_id text PRIMARY KEY,
         version bigint NOT NULL
       );`,
    );
  }

  async append(streamId: string, events: readonly EventToStore[], expected: ExpectedVersion): Promise<StoredEvent[]> {
    await this.migrate();
    const t = this.tables;
    const client = await this.#pool.connect();
    let stored: StoredEvent[];
    try {
      // Three round trips: BEGIN + the append lock; check + insert + version bump in one
      // statement; COMMIT. The lock key is our own decimal number, safe to inline.
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${t.appendLock})`);
      const kind = typeof expected === 'number' ? 'version' : expected;
      const inserted = await client.query<Row & { actual: string }>(
        `WITH cur AS (
           SELECT coalesce((SELECT version FROM ${t.streams} WHERE stream_id = $1), 0) AS v
         ), ok AS (
           SELECT v FROM cur
           WHERE CASE $2::text WHEN 'any' THEN true WHEN 'noStream' THEN v = 0 WHEN 'exists' THEN v > 0 ELSE v = $3::bigint END
         ), ins AS (
           INSERT INTO ${t.events} (stream_id, version, id, type, schema_version, content_type, data, metadata, created_at)
           SELECT $1::text, ok.v + e.n, e.id, e.type, e.schema_version, e.content_type, e.data, e.metadata, e.created_at
           FROM ok, unnest($4::text[], $5::text[], $6::int[], $7::text[], $8::bytea[], $9::jsonb[], $10::bigint[])
                WITH ORDINALITY AS e(id, type, schema_version, content_type, data, metadata, created_at, n)
           ORDER BY e.n
           RETURNING ${COLUMNS}
         ), up AS (
           INSERT INTO ${t.streams} (stream_id, version) SELECT $1::text, ok.v + $11::bigint FROM ok
           ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version
         )
         SELECT cur.v AS actual, ins.* FROM cur LEFT JOIN ins ON true`,
        [
          streamId,
          kind,
          typeof expected === 'number' ? expected : 0,
          events.map((e) => e.id),
          events.map((e) => e.type),
          events.map((e) => e.schemaVersion),
          events.map((e) => e.contentType),
          events.map((e) => Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength)),
          events.map((e) => JSON.stringify(e.metadata)),
          events.map((e) => e.timestamp),
          events.length,
        ],
      );
      const actual = Number(inserted.rows[0]!.actual);
      if (inserted.rows[0]!.position === null) throw new ConcurrencyError(`stream "${streamId}"`, expected, actual);
      stored = inserted.rows.map(toStored).sort((a, b) => a.version - b.version);
      if (this.#outbox) {
        const byTopic = new Map<string, OutgoingMessage[]>();
        for (const event of stored) {
          const topic = topicOf(this.#outbox, event);
          byTopic.set(topic, [...(byTopic.get(topic) ?? []), eventToMessage(event)]);
        }
        for (const [topic, messages] of byTopic) await this.#outbox.outbox.enqueue(client, topic, messages);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw pgResourceError(`appending to stream "${streamId}"`, error);
    } finally {
      client.release();
    }
    for (const listener of this.#listeners) listener();
    return stored;
  }

  async readStream(streamId: string, options: ReadStreamOptions & { direction: 'forwards' | 'backwards' }): Promise<StoredEvent[]> {
    await this.migrate();
    const forwards = options.direction === 'forwards';
    const from = options.from ?? (forwards ? 1 : Number.MAX_SAFE_INTEGER);
    const { rows } = await this.#pool.query<Row>(
      `SELECT ${COLUMNS} FROM ${this.tables.events}
       WHERE stream_id = $1 AND version ${forwards ? '>=' : '<='} $2
       ORDER BY version ${forwards ? 'ASC' : 'DESC'} LIMIT $3`,
      [streamId, from, options.limit ?? null],
    );
    return rows.map(toStored);
  }

  async streamVersion(streamId: string): Promise<number> {
    await this.migrate();
    const { rows } = await this.#pool.query<{ version: string }>(`SELECT version FROM ${this.tables.streams} WHERE stream_id = $1`, [streamId]);
    return rows.length === 0 ? 0 : Number(rows[0]!.version);
  }

  async readAll(from: number, limit: number, filter: EventFilter | undefined): Promise<StoragePage> {
    await this.migrate();
    const params: unknown[] = [from, limit];
    const where = ['position >= $1'];
    if (filter?.category !== undefined) {
      params.push(typeof filter.category === 'string' ? [filter.category] : [...filter.category]);
      where.push(`category = ANY($${params.length}::text[])`);
    }
    if (filter?.streamPrefix !== undefined) {
      params.push(`${filter.streamPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      where.push(`stream_id LIKE $${params.length}`);
    }
    if (filter?.types !== undefined) {
      params.push([...filter.types]);
      where.push(`type = ANY($${params.length}::text[])`);
    }
    // One statement, one snapshot: the head it reports is consistent with the rows it returns.
    const { rows } = await this.#pool.query<Row & { head: string }>(
      `SELECT h.head, e.* FROM (SELECT coalesce(max(position), 0) AS head FROM ${this.tables.events}) h
       LEFT JOIN LATERAL (
         SELECT ${COLUMNS} FROM ${this.tables.events} WHERE ${where.join(' AND ')} ORDER BY position LIMIT $2
       ) e ON true`,
      params,
    );
    const head = rows.length === 0 ? 0 : Number(rows[0]!.head);
    const events = rows.filter((row) => row.position !== null).map(toStored);
    const next = events.length === limit ? events[events.length - 1]!.position + 1 : Math.max(from, head + 1);
    return { events, next };
  }

  async headPosition(): Promise<number> {
    await this.migrate();
    const { rows } = await this.#pool.query<{ head: string }>(`SELECT coalesce(max(position), 0) AS head FROM ${this.tables.events}`);
    return Number(rows[0]!.head);
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}

function indexName(table: string, suffix: string): string {
  // "schema"."prefix_events" → "prefix_events_category_idx" (indexes live in the table's schema).
  const bare = table.split('.').pop()!.replaceAll('"', '');
  return `"${bare}_${suffix}_idx"`;
}

/**
 * An event store in PostgreSQL: durable, shared by every process that uses the same tables.
 * Tables are created on first use (or call `migrate()`).
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { postgresEventStore } from 'switchyard/eventsourcing';
 * const pool = new pg.Pool({ connectionString: process.env.SWITCHYARD_PG_URL });
 * const store = postgresEventStore({ pool, schema: 'orders' });
 * await store.appendToStream('order-1', [{ type: 'ItemAdded', data: { sku: 'a', qty: 1 } }], { expectedVersion: 'noStream' });
 * ```
 */
export function postgresEventStore<E extends DomainEvent = DomainEvent>(
  options: PostgresEventStoreOptions,
): EventStore<E> & { migrate(): Promise<void>; readonly tables: PostgresTables } {
  const storage = new PostgresEventStorage(options);
  const store = createEventStore<E>(storage, options);
  return Object.assign(store, { migrate: storage.migrate, tables: storage.tables });
}
