import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingMessage } from '../core/message.ts';
import { isConcurrencyError } from '../core/errors.ts';
import { postgresOutbox } from '../outbox/postgres.ts';
import { memory } from '../transports/memory/index.ts';
import { Inbox } from '../testing/inbox.ts';
import { postgresCheckpointStore } from './postgres-checkpoint-store.ts';
import { postgresEventStore, type TransactionalOutbox } from './postgres-event-store.ts';
import { ProjectionRunner, type Projection } from './projection.ts';

const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const pool = new pg.Pool({ connectionString: url, max: 12 });
const schema = `es_proj_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA "${schema}"`);
});
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

/** An order-summary read model in a PostgreSQL table, written through the checkpoint's transaction. */
function summaryProjection(name: string, table: string): Projection<PoolClient> {
  return {
    name,
    filter: { category: 'order' },
    async handle(event, tx) {
      const data = event.data as { priceCents?: number };
      await tx.query(
        `INSERT INTO ${table} (order_id, items, total_cents, status, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (order_id) DO UPDATE SET items = ${table}.items + EXCLUDED.items, total_cents = ${table}.total_cents + EXCLUDED.total_cents,
           status = coalesce(EXCLUDED.status, ${table}.status), updated_at = EXCLUDED.updated_at`,
        [event.streamId, event.type === 'ItemAdded' ? 1 : 0, data.priceCents ?? 0, event.type === 'ItemAdded' ? null : event.type, event.timestamp],
      );
    },
    async reset(tx) {
      await tx.query(`TRUNCATE ${table}`);
    },
  };
}

async function dumpTable(table: string): Promise<string> {
  const { rows } = await pool.query<{ dump: string | null }>(`SELECT string_agg(t::text, E'\\n' ORDER BY order_id) AS dump FROM ${table} t`);
  return rows[0]!.dump ?? '';
}

describe('postgres projections', () => {
  it('a read model in PostgreSQL rebuilt from zero equals the live one byte for byte', async () => {
    const store = postgresEventStore({ pool, schema, pollIntervalMs: 50 });
    const checkpoints = postgresCheckpointStore({ pool, schema });
    for (const table of ['live_summaries', 'rebuilt_summaries']) {
      await pool.query(`CREATE TABLE "${schema}".${table} (order_id text PRIMARY KEY, items int NOT NULL, total_cents bigint NOT NULL, status text, updated_at bigint NOT NULL)`);
    }
    const live = new ProjectionRunner({ store, checkpoints, projection: summaryProjection('live', `"${schema}".live_summaries`), batchSize: 13, eventsPerTransaction: 5 });
    live.start();
    // Concurrent writers while the projection runs live.
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 25; i++) {
          const order = `order-${(w * 7 + i) % 12}`;
          const event = i % 9 === 8 ? { type: 'OrderPlaced', data: {} } : { type: 'ItemAdded', data: { priceCents: 100 * w + i } };
          await store.appendToStream(order, event);
          if (i % 5 === 0) await store.appendToStream(`cart-${w}`, { type: 'Viewed', data: {} });
        }
      }),
    );
    await live.waitForHead();
    expect((await live.status()).lag).toBe(0);
    const rebuilt = new ProjectionRunner({ store, checkpoints, projection: summaryProjection('rebuilt', `"${schema}".rebuilt_summaries`) });
    rebuilt.start();
    await rebuilt.waitForHead();
    const liveDump = await dumpTable(`"${schema}".live_summaries`);
    expect(liveDump.split('\n').length).toBe(12);
    expect(await dumpTable(`"${schema}".rebuilt_summaries`)).toBe(liveDump);
    await live.rebuild();
    await live.waitForHead();
    expect(await dumpTable(`"${schema}".live_summaries`)).toBe(liveDump);
    await Promise.all([live.stop(), rebuilt.stop()]);
    await store.close();
  });

  it('after SIGKILL mid-projection, a restarted process resumes from its checkpoint with no event applied twice', async () => {
    const store = postgresEventStore({ pool, schema });
    await store.migrate();
    await pool.query(`CREATE TABLE "${schema}".applied_log (position bigint NOT NULL, stream_id text NOT NULL)`);
    for (let i = 0; i < 30; i++) {
      await store.appendToStream(`crash-${i % 4}`, Array.from({ length: 10 }, (_, j) => ({ type: 'Tick', data: { i, j } })));
    }
    const head = await store.headPosition();
    const fixture = fileURLToPath(new URL('./fixtures/slow-projection.ts', import.meta.url));

    // First run: killed once it has committed some transactions (and is inside another one).
    const child = spawn(process.execPath, [fixture, schema, 'forever'], { env: { ...process.env, SWITCHYARD_PG_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        const counts = [...chunk.toString().matchAll(/applied (\d+)/g)].map((m) => Number(m[1]));
        if (counts.some((n) => n >= 55)) resolve();
      });
      void exited.then((how) => reject(new Error(`fixture exited early (${String(how)}): ${stderr}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    // What survived the crash is consistent: the checkpoint covers exactly the committed writes.
    const checkpointAfterCrash = await postgresCheckpointStore({ pool, schema }).get('crash-test');
    const { rows: afterCrash } = await pool.query<{ n: string; max: string | null }>(`SELECT count(*) AS n, max(position) AS max FROM "${schema}".applied_log`);
    expect(checkpointAfterCrash).toBeGreaterThan(0);
    expect(checkpointAfterCrash).toBeLessThan(head);
    expect(Number(afterCrash[0]!.n)).toBe(checkpointAfterCrash);
    expect(Number(afterCrash[0]!.max)).toBe(checkpointAfterCrash);

    // Second run: resumes and finishes.
    const second = spawn(process.execPath, [fixture, schema, 'head'], { env: { ...process.env, SWITCHYARD_PG_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    second.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    second.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => second.on('exit', resolve));
    expect(code, err).toBe(0);
    expect(out).toMatch(new RegExp(`done ${head}`));
    // Its first applied event is the one after the checkpoint: nothing before it was applied again.
    const { rows: duplicates } = await pool.query(`SELECT position FROM "${schema}".applied_log GROUP BY position HAVING count(*) > 1`);
    expect(duplicates).toEqual([]);
    const { rows: all } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".applied_log`);
    expect(Number(all[0]!.n)).toBe(head); // every event of the schema (earlier cases wrote some too), each once
    await store.close();
  }, 120_000);

  it('enqueues appended events in an outbox in the same transaction: a failed append leaves nothing behind', async () => {
    await pool.query(`CREATE TABLE "${schema}".outbox (topic text NOT NULL, id text NOT NULL, key text NOT NULL, headers jsonb NOT NULL)`);
    const outbox: TransactionalOutbox = {
      async enqueue(tx, topic, messages: OutgoingMessage[]) {
        for (const m of messages) await tx.query(`INSERT INTO "${schema}".outbox VALUES ($1, $2, $3, $4)`, [topic, m.id, m.key, JSON.stringify(m.headers)]);
      },
    };
    const store = postgresEventStore({ pool, schema, outbox: { outbox, topic: 'orders.events' } });
    const result = await store.appendToStream('order-ob', [{ type: 'ItemAdded', data: {} }, { type: 'OrderPlaced', data: {} }], { expectedVersion: 'noStream' });
    const conflict = await store.appendToStream('order-ob', { type: 'OrderShipped', data: {} }, { expectedVersion: 'noStream' }).catch((e: unknown) => e);
    expect(isConcurrencyError(conflict)).toBe(true);
    const failing: TransactionalOutbox = { enqueue: async () => Promise.reject(new Error('outbox down')) };
    const broken = postgresEventStore({ pool, schema, outbox: { outbox: failing } });
    await expect(broken.appendToStream('order-ob', { type: 'OrderShipped', data: {} })).rejects.toThrow('outbox down');
    expect(await store.streamVersion('order-ob')).toBe(2); // the append rolled back with the outbox write
    const { rows } = await pool.query(`SELECT topic, id, key, headers->>'x-stream-version' AS version FROM "${schema}".outbox ORDER BY version`);
    expect(rows).toEqual(result.events.map((e) => ({ topic: 'orders.events', id: e.id, key: 'order-ob', version: String(e.version) })));
    await store.close();
    await broken.close();
  });

  it("with Switchyard's postgresOutbox, appended events reach the transport through the relay, keyed by stream id", async () => {
    const box = postgresOutbox({ pool, table: `${schema}.switchyard_outbox` });
    await box.migrate();
    const store = postgresEventStore({ pool, schema, outbox: { outbox: box, topic: 'orders.events' } });
    const result = await store.appendToStream('order-relay', [{ type: 'ItemAdded', data: { priceCents: 5 } }, { type: 'OrderPlaced', data: {} }], { expectedVersion: 'noStream' });
    await store.appendToStream('order-relay', { type: 'OrderShipped', data: {} }, { expectedVersion: 0 }).catch(() => undefined); // conflict: nothing enqueued
    expect(await box.pending()).toBe(2);
    const bus = memory();
    const inbox = new Inbox();
    await bus.subscribe('orders.events', { group: 'g' }, async (m) => inbox.push(m));
    expect(await box.relayOnce({ transport: bus })).toBe(2);
    await inbox.untilCount(2, 10_000);
    expect(inbox.messages.map((m) => [m.id, m.key, m.headers['x-event-type'], m.headers['x-stream-version']])).toEqual(
      result.events.map((e) => [e.id, 'order-relay', e.type, String(e.version)]),
    );
    await bus.close();
    await store.close();
  });
});
