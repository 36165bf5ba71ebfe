import type { Pool, PoolClient } from 'pg';
import { ConfigError, toError, TransportError } from '../core/errors.ts';
import { normalizeOutgoing, type OutgoingMessage } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import { explainPgResources, pgResourceError } from '../internal/pg-errors.ts';
import { createTables } from '../postgres/create-tables.ts';
import { delay } from '../router/shutdown.ts';
import { NO_KEY, publishRows, type OutboxRow } from './publish-rows.ts';
import { assertStorable } from './storable-text.ts';
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
  /**
   * Refusals after which a row the transport refuses (a PermanentError, ConfigError or a
   * TransportError that is not retryable: an oversized message, a forbidden topic) is set aside,
   * so the rows of its key behind it go on (a row without a key holds up nothing meanwhile); see `failed()` and `requeueFailed()`. Failures trying
   * again may cure (the broker down) never count. Default 5.
   */
  maxAttempts?: number;
  /**
   * Called when a round fails (the relay then waits `pollIntervalMs` and carries on), and for each
   * row the transport refused (a TransportError saying whether it was set aside).
   */
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
  /** Rows not yet published (those set aside not counted). */
  pending(): Promise<number>;
  /** Rows set aside after the transport refused them `maxAttempts` times, oldest first. */
  failed(limit?: number): Promise<FailedOutboxRow[]>;
  /** Puts rows set aside (those with `ids`, or all) back to pending, attempts reset; returns how many. */
  requeueFailed(ids?: readonly string[]): Promise<number>;
}

/** A row the relay set aside after the transport refused it `maxAttempts` times. */
export interface FailedOutboxRow {
  /** The row's id (for `requeueFailed`). */
  readonly id: string;
  readonly topic: string;
  readonly messageId: string;
  readonly key: string;
  /** How often the transport refused it. */
  readonly attempts: number;
  /** The last refusal's message. */
  readonly lastError: string;
  readonly failedAt: Date;
}

/** Rows a relay publishes: not sent, and not set aside. */
const PENDING = 'sent_at IS NULL AND failed_at IS NULL';

/**
 * The transactional outbox: write messages to a table in the same transaction as your business
 * data, and a relay publishes them to any transport. At-least-once: a relay that crashes after
 * publishing but before marking rows sent publishes them again, with the same message ids (dedup
 * downstream with `idempotency()`). Messages of one key are published in enqueue order, also with
 * several relays running: each round locks the oldest pending rows with `FOR UPDATE SKIP LOCKED`
 * and publishes a key's rows only up to the first pending row of that key it does not hold.
 * Messages without a key have no order to keep, as on any broker: each is published on its own,
 * by whichever relay holds it, and one the transport refuses holds up no other.
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
    const maxAttempts = relay.maxAttempts ?? 5;
    const client = await pool.connect();
    let ended = false;
    try {
      await client.query('BEGIN');
      const taken = await client.query<OutboxRow>(
        `SELECT id, topic, msg_id, key, payload, headers FROM ${table} WHERE ${PENDING} ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batchSize],
      );
      if (taken.rows.length === 0) {
        await client.query('COMMIT');
        ended = true;
        return 0;
      }
      // Per key, publish only the rows before the first pending row we do not hold (another
      // relay has it locked, or it fell outside our batch): order per key is then kept. Rows
      // without a key promise no order (as on every broker): each goes out on its own, so
      // relays share them and none waits behind another.
      const held = [...taken.rows].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
      const keys = [...new Set(held.filter((r) => r.key !== NO_KEY).map((r) => r.key))];
      const gaps =
        keys.length === 0
          ? { rows: [] }
          : await client.query<{ key: string; id: string }>(
              `SELECT key, min(id)::text AS id FROM ${table}
               WHERE ${PENDING} AND key = ANY($1::text[]) AND NOT (id = ANY($2::bigint[])) GROUP BY key`,
              [keys, held.map((r) => r.id)],
            );
      const gapAt = new Map(gaps.rows.map((r) => [r.key, BigInt(r.id)]));
      const rows = held.filter((r) => {
        const gap = gapAt.get(r.key);
        return gap === undefined || BigInt(r.id) < gap;
      });
      const { sent, refused, failed } = await publishRows(relay.transport, rows);
      let setAside: Array<{ id: string; attempts: number }> = [];
      try {
        if (sent.length > 0) await client.query(`UPDATE ${table} SET sent_at = now() WHERE id = ANY($1::bigint[])`, [sent]);
        if (refused.length > 0) {
          // A row refused `maxAttempts` times is set aside, so the rows of its key behind it go on.
          const counted = await client.query<{ id: string; attempts: number; aside: boolean }>(
            `UPDATE ${table} AS o SET attempts = o.attempts + 1, last_error = r.error,
               failed_at = CASE WHEN o.attempts + 1 >= $3 THEN now() END
             FROM unnest($1::bigint[], $2::text[]) AS r(id, error) WHERE o.id = r.id
             RETURNING o.id::text AS id, o.attempts, o.failed_at IS NOT NULL AS aside`,
            [refused.map((r) => r.row.id), refused.map((r) => r.error.message), maxAttempts],
          );
          setAside = counted.rows.filter((r) => r.aside);
        }
        await client.query('COMMIT');
        ended = true;
      } catch (error) {
        throw pgResourceError(`outbox relay: marking ${sent.length} published rows sent`, error, UNMARKED);
      }
      for (const { row, error } of refused) {
        const aside = setAside.find((r) => r.id === row.id);
        const behind = row.key === NO_KEY ? 'it has no key, so no other row waits for it' : `the rows of key "${row.key}" behind it`;
        const what = aside
          ? `set aside after ${aside.attempts} refusals; ${row.key === NO_KEY ? behind : `${behind} go on`}. Fix the cause, then requeueFailed() to publish it again`
          : `it stays pending and is tried again next round (${row.key === NO_KEY ? behind : `${behind} wait`})`;
        const message = `outbox relay: the transport refused row ${row.id} (message ${row.msg_id} to "${row.topic}"): ${error.message}; ${what}`;
        relay.onError?.(new TransportError(message, { cause: error, retryable: aside === undefined }));
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
      // Serialised across processes: several starting at once all migrate together.
      await createTables(pool, table, [
        `CREATE TABLE IF NOT EXISTS ${table} (id bigserial PRIMARY KEY, topic text NOT NULL, msg_id text NOT NULL, key text NOT NULL,
          payload bytea NOT NULL, headers jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz)`,
        // Tables made before rows could be set aside get the columns for it.
        `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0, ADD COLUMN IF NOT EXISTS last_error text,
          ADD COLUMN IF NOT EXISTS failed_at timestamptz`,
        `CREATE INDEX IF NOT EXISTS ${index} ON ${table} (key, id) WHERE sent_at IS NULL`,
      ]);
    },
    async enqueue(tx, topic, messages) {
      const list = normalizeOutgoing(topic, messages);
      if (list.length === 0) return;
      assertStorable(topic, list);
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
      const r = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${PENDING}`);
      return Number(r.rows[0]?.n ?? 0);
    },
    async failed(limit = 100) {
      const r = await pool.query<{ id: string; topic: string; msg_id: string; key: string; attempts: number; last_error: string; failed_at: Date }>(
        `SELECT id::text AS id, topic, msg_id, key, attempts, last_error, failed_at FROM ${table}
         WHERE sent_at IS NULL AND failed_at IS NOT NULL ORDER BY id LIMIT $1`,
        [limit],
      );
      return r.rows.map((row) => ({
        id: row.id,
        topic: row.topic,
        messageId: row.msg_id,
        key: row.key,
        attempts: row.attempts,
        lastError: row.last_error,
        failedAt: row.failed_at,
      }));
    },
    async requeueFailed(ids) {
      const r = await pool.query(
        `UPDATE ${table} SET failed_at = NULL, attempts = 0 WHERE sent_at IS NULL AND failed_at IS NOT NULL AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[]))`,
        [ids ? [...ids] : null],
      );
      return r.rowCount ?? 0;
    },
  };
}
