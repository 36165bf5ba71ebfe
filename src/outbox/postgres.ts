import type { Pool, PoolClient } from 'pg';
import { ConfigError, toError } from '../core/errors.ts';
import { normalizeOutgoing, type OutgoingMessage } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import { explainPgResources, pgResourceError } from '../internal/pg-errors.ts';
import { delay } from '../router/shutdown.ts';
import { quoteTable } from '../stores/idempotency/postgres.ts';

/** What became of an enqueue that failed: it ran in the caller's transaction, which cannot commit now. */
const IN_CALLERS_TRANSACTION = 'Your transaction cannot commit now: roll it back (nothing of it is stored)';
/** What became of a relay round whose "sent" marks failed: at-least-once, so they go out again. */
const UNMARKED = 'The messages were published and stay pending, so a relay publishes them again (consumers dedupe by message id)';

/** Something that runs queries: a pg Pool, PoolClient or Client (in a transaction for `enqueue`). */
export interface Queryable {
  query: PoolClient['query'];
}

/** Outbox settings. */
export interface PostgresOutboxOptions {
  /** The pool the relay uses (the outbox never ends it). */
  pool: Pool;
  /** Outbox table, created by `migrate()` if missing. Default `switchyard_outbox`. */
  table?: string;
}

/** Relay settings. */
export interface RelayOptions {
  /** Where rows are published. */
  transport: Transport;
  /** Rows taken per round. Default 100. */
  batchSize?: number;
  /** Wait when nothing is pending, in ms. Default 200. */
  pollIntervalMs?: number;
  /** Called when a round fails (the relay then waits `pollIntervalMs` and carries on). */
  onError?: (error: Error) => void;
}

/** A running relay. */
export interface OutboxRelay {
  /** Stops after the current round; resolves when stopped. */
  stop(): Promise<void>;
  /** Messages published so far. */
  readonly published: number;
}

/** A transactional outbox in PostgreSQL. */
export interface PostgresOutbox {
  /** Creates the table and index if missing. */
  migrate(): Promise<void>;
  /**
   * Adds messages to the outbox inside the caller's transaction: they are published if and only
   * if it commits. Ids are assigned now, so downstream consumers can dedup on them.
   */
  enqueue(tx: Queryable, topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void>;
  /** Publishes one round of pending rows; returns how many were published. */
  relayOnce(options: RelayOptions): Promise<number>;
  /** Runs rounds until `stop()`. Several relays (processes) may run at once. */
  relay(options: RelayOptions): OutboxRelay;
  /** Deletes rows sent more than `olderThanMs` ago; returns how many. */
  purgeSent(olderThanMs: number): Promise<number>;
  /** Rows not yet published. */
  pending(): Promise<number>;
}

interface Row {
  id: string;
  topic: string;
  msg_id: string;
  key: string;
  payload: Buffer;
  headers: Record<string, string>;
}

/**
 * The transactional outbox: write messages to a table in the same transaction as your business
 * data, and a relay publishes them to any transport. At-least-once: a relay that crashes after
 * publishing but before marking rows sent publishes them again, with the same message ids (dedup
 * downstream with `idempotency()`). Messages of one key are published in enqueue order, also with
 * several relays running: each round locks the oldest pending rows with `FOR UPDATE SKIP LOCKED`
 * and publishes a key's rows only up to the first pending row of that key it does not hold.
 *
 * @example
 * ```ts
 * const box = postgresOutbox({ pool });
 * await box.migrate();
 * const tx = await pool.connect();
 * await tx.query('BEGIN');
 * await tx.query('INSERT INTO orders(id) VALUES ($1)', [orderId]);
 * await box.enqueue(tx, 'orders.placed', json().encode({ orderId }, { key: orderId }));
 * await tx.query('COMMIT'); tx.release();
 * const relay = box.relay({ transport: bus });
 * ```
 */
export function postgresOutbox(options: PostgresOutboxOptions): PostgresOutbox {
  const { pool } = options;
  if (typeof pool?.connect !== 'function') throw new ConfigError('postgresOutbox({ pool }): pool must be a pg Pool');
  const table = quoteTable(options.table ?? 'switchyard_outbox');
  const index = quoteTable(`${(options.table ?? 'switchyard_outbox').replace(/^.*\./, '')}_pending`, 'index');

  async function relayOnce(relay: RelayOptions): Promise<number> {
    const batchSize = relay.batchSize ?? 100;
    const client = await pool.connect();
    let failed: unknown;
    let ended = false;
    try {
      await client.query('BEGIN');
      const taken = await client.query<Row>(
        `SELECT id, topic, msg_id, key, payload, headers FROM ${table} WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batchSize],
      );
      if (taken.rows.length === 0) {
        await client.query('COMMIT');
        ended = true;
        return 0;
      }
      // Per key, publish only the rows before the first pending row we do not hold (another
      // relay has it locked, or it fell outside our batch): order per key is then kept.
      const taken2 = [...taken.rows].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
      const gaps = await client.query<{ key: string; id: string }>(
        `SELECT key, min(id)::text AS id FROM ${table}
         WHERE sent_at IS NULL AND key = ANY($1::text[]) AND NOT (id = ANY($2::bigint[])) GROUP BY key`,
        [[...new Set(taken2.map((r) => r.key))], taken2.map((r) => r.id)],
      );
      const gapAt = new Map(gaps.rows.map((r) => [r.key, BigInt(r.id)]));
      const rows = taken2.filter((r) => {
        const gap = gapAt.get(r.key);
        return gap === undefined || BigInt(r.id) < gap;
      });
      const sent: string[] = [];
      try {
        let i = 0;
        while (i < rows.length) {
          // Consecutive rows of one topic go in one publish call (order kept within it).
          let j = i + 1;
          while (j < rows.length && rows[j]!.topic === rows[i]!.topic) j++;
          const batch = rows.slice(i, j);
          await relay.transport.publish(
            rows[i]!.topic,
            batch.map((r) => ({ id: r.msg_id, key: r.key, payload: new Uint8Array(r.payload), headers: r.headers })),
          );
          sent.push(...batch.map((r) => r.id));
          i = j;
        }
      } catch (error) {
        failed = error;
      }
      try {
        if (sent.length > 0) await client.query(`UPDATE ${table} SET sent_at = now() WHERE id = ANY($1::bigint[])`, [sent]);
        await client.query('COMMIT');
        ended = true;
      } catch (error) {
        throw pgResourceError(`outbox relay: marking ${sent.length} published rows sent`, error, UNMARKED);
      }
      if (failed) throw failed;
      return sent.length;
    } catch (error) {
      // Whatever failed, the connection goes back to the pool outside any transaction.
      if (!ended) await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  return {
    async migrate() {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${table} (id bigserial PRIMARY KEY, topic text NOT NULL, msg_id text NOT NULL, key text NOT NULL,
          payload bytea NOT NULL, headers jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz)`,
      );
      await pool.query(`CREATE INDEX IF NOT EXISTS ${index} ON ${table} (key, id) WHERE sent_at IS NULL`);
    },
    async enqueue(tx, topic, messages) {
      const list = normalizeOutgoing(topic, messages);
      if (list.length === 0) return;
      const inserting = tx.query(
        `INSERT INTO ${table} (topic, msg_id, key, payload, headers)
         SELECT $1, m, k, p, h FROM unnest($2::text[], $3::text[], $4::bytea[], $5::jsonb[]) WITH ORDINALITY AS u(m, k, p, h, n) ORDER BY n`,
        [topic, list.map((m) => m.id), list.map((m) => m.key), list.map((m) => Buffer.from(m.payload)), list.map((m) => JSON.stringify(m.headers))],
      );
      await explainPgResources(`outbox: enqueueing ${list.length} message(s) for "${topic}"`, inserting, IN_CALLERS_TRANSACTION);
    },
    relayOnce,
    relay(relayOptions) {
      const stop = new AbortController();
      const pollIntervalMs = relayOptions.pollIntervalMs ?? 200;
      let published = 0;
      const loop = (async () => {
        while (!stop.signal.aborted) {
          let n = 0;
          try {
            n = await relayOnce(relayOptions);
            published += n;
          } catch (error) {
            relayOptions.onError?.(toError(error));
          }
          if (n === 0) await delay(pollIntervalMs, stop.signal);
        }
      })();
      return {
        get published() {
          return published;
        },
        async stop() {
          stop.abort();
          await loop;
        },
      };
    },
    async purgeSent(olderThanMs) {
      const r = await pool.query(`DELETE FROM ${table} WHERE sent_at < now() - $1 * interval '1 millisecond'`, [olderThanMs]);
      return r.rowCount ?? 0;
    },
    async pending() {
      const r = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE sent_at IS NULL`);
      return Number(r.rows[0]?.n ?? 0);
    },
  };
}
