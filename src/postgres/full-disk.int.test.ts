import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransportError } from '../core/errors.ts';
import { postgresEventStore } from '../eventsourcing/postgres-event-store.ts';
import { postgresSnapshotStore } from '../eventsourcing/postgres-snapshot-store.ts';
import { cannotFillTablespace, fullTablespace } from '../internal/pg-full-tablespace.test-support.ts';
import { postgresOutbox } from '../outbox/postgres.ts';
import { postgresSagaStore } from '../saga/postgres-saga-store.ts';
import { postgresIdempotencyStore } from '../stores/idempotency/postgres.ts';

/**
 * Every PostgreSQL-backed store on a full disk, for real: its tables live in a tablespace on a
 * small tmpfs, filled up before the write under test. Each refused write says why, is retryable,
 * stores nothing, and the same store writes again once there is room.
 */
const OUT_OF_DISK = /failed: the database server is out of disk space \(SQLSTATE 53100: .*No space left on device/;
const reason = cannotFillTablespace;

/** What `work` rejected with (it must reject). */
async function refusal(work: Promise<unknown>): Promise<TransportError> {
  const outcome = await work.then(
    () => new Error('the write was accepted on a full disk'),
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(TransportError);
  expect((outcome as TransportError).retryable).toBe(true);
  return outcome as TransportError;
}

/** Bytes that do not compress, so they take their size on disk. */
const bulk = (kib: number): string => randomBytes(kib * 768).toString('base64');

describe.skipIf(reason !== undefined)(`PostgreSQL stores on a full disk${reason ? ` — skipped: ${reason}` : ''}`, () => {
  const disk = fullTablespace();
  const { pool, schema } = disk;

  beforeAll(() => disk.setUp());
  afterAll(() => disk.tearDown());

  /** Runs `write` on a full tablespace, then frees the room again whatever happened. */
  async function whileFull<T>(write: () => Promise<T>): Promise<T> {
    expect(await disk.fill()).toBe('53100');
    try {
      return await write();
    } finally {
      await disk.makeRoom();
    }
  }

  it('event store: refuses an append with the reason and stores none of its events, and appends again once there is room', async (ctx) => {
    if (disk.unavailable) ctx.skip(disk.unavailable);
    const store = postgresEventStore({ pool, schema });
    await store.appendToStream('account-1', { type: 'Opened', data: { owner: 'alice' } }); // creates the tables, in the tablespace
    const big = { pad: bulk(48) };
    const refused = await whileFull(() =>
      refusal(
        store.appendToStream('account-1', [
          { type: 'Deposited', data: big },
          { type: 'Deposited', data: big },
          { type: 'Deposited', data: big },
        ]),
      ),
    );
    expect(refused.message).toMatch(/appending to stream "account-1" failed: the database server is out of disk space/);
    expect(refused.message).toMatch(OUT_OF_DISK);
    expect(refused.message).toMatch(/Nothing of it was stored/);
    expect((await store.readStream('account-1')).map((e) => e.type)).toEqual(['Opened']); // none of the three

    await store.appendToStream('account-1', { type: 'Deposited', data: { amount: 5 } }, { expectedVersion: 1 });
    expect((await store.readStream('account-1')).map((e) => e.type)).toEqual(['Opened', 'Deposited']);
    await store.close();
  });

  it('saga store: refuses to create a saga, stores nothing of it, and creates it once there is room', async (ctx) => {
    if (disk.unavailable) ctx.skip(disk.unavailable);
    const store = postgresSagaStore({ pool, table: `${schema}.sagas` });
    const saga = (id: string) => ({ id, saga: 'fulfillment', status: 'in_progress' as const, input: { pad: bulk(96) }, step: 0, history: [] });
    await store.create(saga('order-1'));
    const refused = await whileFull(() => refusal(store.create(saga('order-2'))));
    expect(refused.message).toMatch(/^saga store: creating saga "order-2" failed/);
    expect(refused.message).toMatch(OUT_OF_DISK);
    expect(await store.get('order-2')).toBeUndefined();
    expect((await store.create(saga('order-2'))).version).toBe(1);
    expect((await store.list()).map((s) => s.id).toSorted()).toEqual(['order-1', 'order-2']);
  });

  it('snapshot store: refuses a snapshot and keeps the previous one, and saves once there is room', async (ctx) => {
    if (disk.unavailable) ctx.skip(disk.unavailable);
    const store = postgresSnapshotStore({ pool, schema });
    const snapshot = (version: number) => ({ streamId: 'account-1', name: 'default', version, schemaVersion: 1, contentType: 'application/octet-stream', state: randomBytes(160 * 1024), timestamp: Date.now() });
    await store.save(snapshot(1));
    const refused = await whileFull(() => refusal(store.save(snapshot(2))));
    expect(refused.message).toMatch(/^saving the "default" snapshot of stream "account-1" at version 2 failed/);
    expect(refused.message).toMatch(OUT_OF_DISK);
    expect((await store.load('account-1', 'default'))?.version).toBe(1);
    await store.save(snapshot(2));
    expect((await store.load('account-1', 'default'))?.version).toBe(2);
  });

  it("outbox: an enqueue that finds no room tells the caller to roll back, and nothing of the caller's transaction is published", async (ctx) => {
    if (disk.unavailable) ctx.skip(disk.unavailable);
    const outbox = postgresOutbox({ pool, table: `${schema}.outbox` });
    await outbox.migrate();
    const message = (id: string) => ({ id, key: 'order-1', payload: new TextEncoder().encode(bulk(96)) });
    const enqueueInTransaction = async (id: string): Promise<void> => {
      const tx = await pool.connect();
      try {
        await tx.query('BEGIN');
        await outbox.enqueue(tx, 'orders.placed', [message(id)]);
        await tx.query('COMMIT');
      } catch (error) {
        await tx.query('ROLLBACK');
        throw error;
      } finally {
        tx.release();
      }
    };
    const refused = await whileFull(() => refusal(enqueueInTransaction('m-1')));
    expect(refused.message).toMatch(/^outbox: enqueueing 1 message\(s\) for "orders.placed" failed/);
    expect(refused.message).toMatch(OUT_OF_DISK);
    expect(refused.message).toMatch(/Your transaction cannot commit now: roll it back/);
    expect(await outbox.pending()).toBe(0);
    await enqueueInTransaction('m-1');
    expect(await outbox.pending()).toBe(1);
  });

  for (const transactional of [true, false]) {
    it(`idempotency store (${transactional ? 'transactional' : 'lease'} mode): a claim that finds no room says why and marks nothing processed`, async (ctx) => {
      if (disk.unavailable) ctx.skip(disk.unavailable);
      const store = postgresIdempotencyStore({ pool, table: `${schema}.keys_${transactional ? 'tx' : 'lease'}`, transactional });
      const options = { leaseMs: 60_000, ttlMs: 3_600_000 };
      const claimAndComplete = async (key: string): Promise<void> => {
        const claim = await store.claim(key, options);
        if (claim.status !== 'claimed') throw new Error(`${key}: ${claim.status}`);
        await claim.complete();
      };
      await claimAndComplete('k-0');
      // Small rows: claims fit in the table's last page until it is full, then one needs a new page.
      const refused = await whileFull(async () => {
        for (let i = 1; i <= 5_000; i++) {
          const failed = await claimAndComplete(`k-${i}`).then(
            () => undefined,
            (error: unknown) => ({ key: `k-${i}`, error }),
          );
          if (failed) return { key: failed.key, error: await refusal(Promise.reject(failed.error)) };
        }
        throw new Error('5,000 claims fitted on a full disk');
      });
      expect(refused.error.message).toMatch(OUT_OF_DISK);
      if (refused.error.message.startsWith(`idempotency store: claiming key "${refused.key}" failed`)) {
        // Not marked: once there is room the key is claimed, not skipped as processed.
        const again = await store.claim(refused.key, options);
        expect(again.status).toBe('claimed');
        if (again.status === 'claimed') await again.complete();
      } else {
        // Lease mode only: the claim went in and the mark did not, so the key waits out its lease.
        expect(transactional).toBe(false);
        expect(refused.error.message).toMatch(new RegExp(`^idempotency store: marking key "${refused.key}" processed failed.*stays claimed until its lease runs out`));
        expect((await store.claim(refused.key, options)).status).toBe('busy');
        await pool.query(`UPDATE ${schema}.keys_lease SET expires_at = now() - interval '1 second' WHERE key = $1`, [refused.key]); // the lease runs out
        const again = await store.claim(refused.key, options);
        expect(again.status).toBe('claimed');
        if (again.status === 'claimed') await again.complete();
      }
    });
  }
});
