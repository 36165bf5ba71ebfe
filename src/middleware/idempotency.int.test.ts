import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { Router } from '../router/router.ts';
import type { Middleware } from '../router/types.ts';
import { pgTransaction, postgresIdempotencyStore } from '../stores/idempotency/postgres.ts';
import { embeddedIdempotencyStore } from '../stores/idempotency/embedded.ts';
import { memoryIdempotencyStore } from '../stores/idempotency/memory.ts';
import { redisIdempotencyStore } from '../stores/idempotency/redis.ts';
import type { IdempotencyStore } from '../stores/idempotency/store.ts';
import { Inbox } from '../testing/inbox.ts';
import { MemoryBroker, memory } from '../transports/memory/index.ts';
import { quiet } from './harness.test-support.ts';
import { idempotency } from './idempotency.ts';
import { retry } from './retry.ts';
import { timeout } from './timeout.ts';

const PG_URL = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.SWITCHYARD_REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const pool = new pg.Pool({ connectionString: PG_URL, max: 20 });
const redis = new Redis(REDIS_URL);
const tables: string[] = [];

const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const t of tables) await pool.query(`DROP TABLE IF EXISTS ${t}`);
  await pool.end();
  const keys = await redis.keys(`switchyard-test:${run}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const codec = json<{ n: number }>();

/**
 * Two consumers (routers) in one group on one broker; each message id is published 10 times
 * under different ordering keys, so copies run at the same moment on both consumers.
 */
async function concurrentDuplicates(store: () => IdempotencyStore, write: (ctx: Parameters<Middleware>[1], id: string) => Promise<void>): Promise<void> {
  const broker = new MemoryBroker();
  const topic = `idem-int.${run}.${tables.length}`;
  const acked = new Inbox();
  const observe: Middleware = async function observe(msg, _ctx, next) {
    await next();
    acked.push(msg);
  };
  const routers = [1, 2].map((i) =>
    new Router({ logger: quiet }).use(observe, idempotency({ store: store() })).handle(`c${i}`, { from: memory({ broker }), topic, group: 'g', codec, concurrency: 8 }, async (msg, ctx) => {
      await write(ctx, msg.id);
      await new Promise((r) => setTimeout(r, 5)); // hold the claim a moment so copies overlap
    }),
  );
  await Promise.all(routers.map((r) => r.start()));
  const publisher = memory({ broker });
  for (let n = 0; n < 20; n++) {
    await publisher.publish(topic, Array.from({ length: 10 }, (_, copy) => codec.encode({ n }, { id: `${run}-m${n}`, key: `copy-${copy}` })));
  }
  await acked.untilCount(200, 60_000);
  await Promise.all(routers.map((r) => r.stop()));
  const skipped = routers.reduce((sum, r) => sum + (r.inspector.handlers()[0]!.counters['skipped-duplicate'] ?? 0), 0);
  expect(skipped).toBe(180);
}

describe('idempotency() with shared stores: concurrent copies on two consumers run once', () => {
  it('PostgreSQL, transactional: one effect per id', async () => {
    const effects = `idem_int_effects_${run}`;
    const keys = `idem_int_keys_${run}`;
    tables.push(effects, keys);
    await pool.query(`CREATE TABLE ${effects} (msg_id text NOT NULL)`);
    await concurrentDuplicates(
      () => postgresIdempotencyStore({ pool, table: keys }),
      async (ctx, id) => void (await pgTransaction(ctx).query(`INSERT INTO ${effects} VALUES ($1)`, [id])),
    );
    const r = await pool.query<{ rows: string; ids: string }>(`SELECT count(*) AS rows, count(DISTINCT msg_id) AS ids FROM ${effects}`);
    expect(r.rows[0]).toEqual({ rows: '20', ids: '20' });
  });

  it('Redis: one effect per id', async () => {
    const effects = new Map<string, number>();
    await concurrentDuplicates(
      () => redisIdempotencyStore({ client: redis, prefix: `switchyard-test:${run}:` }),
      async (_ctx, id) => void effects.set(id, (effects.get(id) ?? 0) + 1),
    );
    expect(effects.size).toBe(20);
    expect([...effects.values()].every((n) => n === 1)).toBe(true);
  });
});

describe('idempotency() with the transactional PostgreSQL store: an attempt that timed out and writes late', () => {
  // timeout() in the route's use sits inside the router's idempotency(): the claim rolls back when
  // the attempt times out, while the handler runs on. Its late write must not land in the retry's
  // transaction (nor outside any): one effect.
  for (const when of ['took the transaction before the timeout', 'asks for it after the timeout'] as const) {
    it(`writes nothing when the handler ${when}`, async () => {
      const suffix = when.startsWith('took') ? 'early' : 'late';
      const effects = `idem_int_late_effects_${suffix}_${run}`;
      const keys = `idem_int_late_keys_${suffix}_${run}`;
      tables.push(effects, keys);
      await pool.query(`CREATE TABLE ${effects} (msg_id text NOT NULL, attempt int NOT NULL)`);
      const bus = memory();
      const topic = `idem-int-late.${suffix}.${run}`;
      const acked = new Inbox();
      const refusals: string[] = [];
      let secondWrote!: () => void;
      const afterSecondWrote = new Promise<void>((resolve) => (secondWrote = resolve));
      let firstTried!: () => void;
      const afterFirstTried = new Promise<void>((resolve) => (firstTried = resolve));
      const router = new Router({ logger: quiet, closeTransports: false })
        .use(
          async function observe(msg, _ctx, next) {
            await next();
            acked.push(msg);
          },
          retry({ attempts: 2, initialDelayMs: 0 }),
          idempotency({ store: postgresIdempotencyStore({ pool, table: keys }) }),
        )
        .handle('late-writer', { from: bus, topic, group: 'g', codec, use: [timeout(100)] }, async (msg, ctx) => {
          const attempt = ctx.attempt;
          if (attempt === 1) {
            const early = suffix === 'early' ? pgTransaction(ctx) : undefined;
            await afterSecondWrote; // ignores its signal: still running when attempt 2 holds the key
            try {
              await (early ?? pgTransaction(ctx)).query(`INSERT INTO ${effects} VALUES ($1, $2)`, [msg.id, attempt]);
            } catch (error) {
              refusals.push((error as Error).name);
            }
            firstTried();
            return;
          }
          await pgTransaction(ctx).query(`INSERT INTO ${effects} VALUES ($1, $2)`, [msg.id, attempt]);
          secondWrote();
          await afterFirstTried; // the late write happens while this transaction is open
        });
      await router.start();
      await bus.publish(topic, codec.encode({ n: 1 }));
      await acked.untilCount(1, 10_000);
      await router.stop();
      await bus.close();
      const r = await pool.query<{ attempt: number }>(`SELECT attempt FROM ${effects}`);
      expect(r.rows).toEqual([{ attempt: 2 }]);
      expect(refusals).toEqual(['ClosedError']);
    });
  }
});

/**
 * A handler that runs 1 s under a 300 ms lease, on one of two consumers; a duplicate is delivered
 * (to either consumer) once it has started. The duplicate must wait (or fail and come back)
 * until the first run is done, then be skipped: the handler runs once, never twice at a time.
 */
async function longHandlerWithDuplicate(store: IdempotencyStore): Promise<void> {
  const broker = new MemoryBroker();
  const topic = `idem-int-lease.${run}.${store.name}.${tables.length}.${dirs.length}`;
  const entered = new Inbox();
  const acked = new Inbox();
  let running = 0;
  let most = 0;
  let runs = 0;
  const observe: Middleware = async function observe(msg, _ctx, next) {
    await next();
    acked.push(msg);
  };
  const routers = [1, 2].map((i) =>
    new Router({ logger: quiet }).use(observe, idempotency({ store, leaseMs: 300 })).handle(`c${i}`, { from: memory({ broker }), topic, group: 'g', codec, concurrency: 4 }, async (msg) => {
      most = Math.max(most, ++running);
      runs++;
      entered.push(msg as never); // the routed message, its payload decoded
      await new Promise((r) => setTimeout(r, 1_000)); // outlives the lease three times over
      running--;
    }),
  );
  await Promise.all(routers.map((r) => r.start()));
  const publisher = memory({ broker });
  await publisher.publish(topic, codec.encode({ n: 1 }, { id: `${run}-long`, key: 'first' }));
  await entered.untilCount(1, 10_000);
  await publisher.publish(topic, codec.encode({ n: 1 }, { id: `${run}-long`, key: 'copy' }));
  await acked.untilCount(2, 30_000);
  await Promise.all(routers.map((r) => r.stop()));
  await store.close();
  expect({ runs, most }).toEqual({ runs: 1, most: 1 });
  const skipped = routers.reduce((sum, r) => sum + (r.inspector.handlers()[0]!.counters['skipped-duplicate'] ?? 0), 0);
  expect(skipped).toBe(1);
}

describe('idempotency() with a handler that outlives leaseMs: the claim is renewed, the duplicate never runs alongside', () => {
  it('memory store', async () => {
    await longHandlerWithDuplicate(memoryIdempotencyStore());
  });

  it('embedded store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-idem-lease-'));
    dirs.push(dir);
    await longHandlerWithDuplicate(embeddedIdempotencyStore({ dir }));
  });

  it('Redis store', async () => {
    await longHandlerWithDuplicate(redisIdempotencyStore({ client: redis, prefix: `switchyard-test:${run}:lease:` }));
  });

  it('PostgreSQL store, lease mode', async () => {
    const keys = `idem_int_lease_keys_${run}`;
    tables.push(keys);
    await longHandlerWithDuplicate(postgresIdempotencyStore({ pool, table: keys, transactional: false }));
  });

  it('PostgreSQL store, transactional (a row lock, no lease)', async () => {
    const keys = `idem_int_lease_tx_keys_${run}`;
    tables.push(keys);
    await longHandlerWithDuplicate(postgresIdempotencyStore({ pool, table: keys }));
  });
});
