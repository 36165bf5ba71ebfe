import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describeStore } from '../../testing/describe-store.ts';
import { postgresIdempotencyStore } from './postgres.ts';
import { redisIdempotencyStore } from './redis.ts';
import { describeRenew } from './renew-suite.test-support.ts';

const PG_URL = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.SWITCHYARD_REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

const pool = new pg.Pool({ connectionString: PG_URL, max: 12 });
const txTable = `idem_tx_${run}`;
const leaseTable = `idem_lease_${run}`;

describeStore('postgres (transactional)', () => postgresIdempotencyStore({ pool, table: txTable }), {
  lease: false,
  cleanup: async () => {
    await pool.query(`DROP TABLE IF EXISTS ${txTable}`);
  },
});

// Before the lease suite, whose cleanup ends the pool.
describeRenew('postgres (lease)', () => postgresIdempotencyStore({ pool, table: leaseTable, transactional: false }));
describeStore('postgres (lease)', () => postgresIdempotencyStore({ pool, table: leaseTable, transactional: false }), {
  cleanup: async () => {
    await pool.query(`DROP TABLE IF EXISTS ${leaseTable}`);
    await pool.end();
  },
});

const redis = new Redis(REDIS_URL, { lazyConnect: true });
const prefix = `switchyard-test:${run}:`;
describeRenew('redis', () => redisIdempotencyStore({ client: redis, prefix }));
describeStore('redis', () => redisIdempotencyStore({ client: redis, prefix }), {
  cleanup: async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  },
});
