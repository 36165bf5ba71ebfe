import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { Router } from '../router/router.ts';
import type { Middleware } from '../router/types.ts';
import { postgresIdempotencyStore } from '../stores/idempotency/postgres.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory } from '../transports/memory/index.ts';
import { quiet } from './harness.test-support.ts';
import { idempotency } from './idempotency.ts';

const PG_URL = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const table = `idem_renewal_keys_${run}`;
const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });

afterAll(async () => {
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.end();
});

const codec = json<{ n: number }>();

/** Resolves when `signal` aborts. */
const whenAborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

describe('idempotency() renewing a claim whose store does not answer', () => {
  it('counts a renewal still waiting as unconfirmed: the handler is told before its lease runs out, and no other consumer runs the message alongside it', async () => {
    // Consumer A's pool has one connection, and A's handler holds it (a transaction of its own on
    // the application's pool): A's renewals wait for a connection that never comes free.
    const poolA = new pg.Pool({ connectionString: PG_URL, max: 1 });
    const poolB = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const bus = memory();
    const topicA = `idem-renewal.${run}.a`;
    const topicB = `idem-renewal.${run}.b`;
    const entered = new Inbox();
    const failures: string[] = [];
    const failed = new Inbox();
    let running = 0;
    let most = 0;
    // A run that finished, on either consumer (A's own redelivery may get the key back first).
    let ranToEnd!: () => void;
    const afterRanToEnd = new Promise<void>((resolve) => (ranToEnd = resolve));
    const quickRun = (): void => {
      most = Math.max(most, ++running);
      running--;
      ranToEnd();
    };
    const observe: Middleware = async function observe(msg, _ctx, next) {
      try {
        await next();
      } catch (error) {
        failures.push((error as Error).message);
        failed.push(msg);
        throw error;
      }
    };
    const byId = (msg: { id: string }): string => msg.id;
    const a = new Router({ logger: quiet, closeTransports: false })
      .use(observe, idempotency({ store: postgresIdempotencyStore({ pool: poolA, table, transactional: false }), leaseMs: 400, key: byId }))
      .handle('a', { from: bus, topic: topicA, group: 'g', codec }, async (msg, ctx) => {
        if (msg.attempt > 1) return quickRun();
        most = Math.max(most, ++running);
        const client = await poolA.connect();
        try {
          entered.push(msg as never);
          // Stops when told (its signal), or once another run of the message finished meanwhile.
          await Promise.race([whenAborted(ctx.signal), afterRanToEnd]);
          throw ctx.signal.aborted ? ctx.signal.reason : new Error('never told that the claim lapsed');
        } finally {
          client.release();
          running--;
        }
      });
    const b = new Router({ logger: quiet, closeTransports: false })
      .use(idempotency({ store: postgresIdempotencyStore({ pool: poolB, table, transactional: false }), leaseMs: 10_000, key: byId }))
      .handle('b', { from: bus, topic: topicB, group: 'g', codec }, quickRun);
    await a.start();
    await b.start();
    try {
      await bus.publish(topicA, codec.encode({ n: 1 }, { id: `${run}-m` }));
      await entered.untilCount(1, 10_000);
      await bus.publish(topicB, codec.encode({ n: 1 }, { id: `${run}-m` }));
      await failed.untilCount(1, 10_000);
      await afterRanToEnd;
    } finally {
      ranToEnd();
      await a.stop();
      await b.stop();
      await bus.close();
      await poolA.end();
      await poolB.end();
    }
    expect(failures[0]).toMatch(new RegExp(`claim of message key "${run}-m" could not be renewed for \\d+ ms of its 400 ms lease \\(the store did not answer\\)`));
    expect(most).toBe(1);
  });
});
