import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresIdempotencyStore } from './postgres.ts';
import { redisIdempotencyStore } from './redis.ts';
import type { IdempotencyStore } from './store.ts';

const PG_URL = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.SWITCHYARD_REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
const redis = new Redis(REDIS_URL);
const prefix = `switchyard-test:keys:${run}:`;
const tables = [`idem_keys_tx_${run}`, `idem_keys_lease_${run}`];

afterAll(async () => {
  for (const t of tables) await pool.query(`DROP TABLE IF EXISTS ${t}`);
  await pool.end();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const options = { leaseMs: 30_000, ttlMs: 60_000 };
const stores: Array<[string, () => IdempotencyStore]> = [
  ['postgres (transactional)', () => postgresIdempotencyStore({ pool, table: tables[0] })],
  ['postgres (lease)', () => postgresIdempotencyStore({ pool, table: tables[1], transactional: false })],
  ['redis', () => redisIdempotencyStore({ client: redis, prefix })],
];

// Message ids come from other systems: anything a string can hold. Random base64 does not
// compress, so a long one really is long to the index.
const long = randomBytes(6_000).toString('base64');
const keys: Record<string, string> = {
  'with NUL': `${run}-a\u0000b`,
  'of 8 kB': `${run}-${long}`,
  'of 8 kB, one character different': `${run}-${long.slice(0, -1)}!`,
  'with a lone high surrogate': `${run}-x\ud800`,
  'with another lone high surrogate': `${run}-x\ud801`,
  'with U+FFFD where the surrogate was': `${run}-x\ufffd`,
  'with unicode and colons': `${run}-ключ:🔑:é`,
};

describe.each(stores)('%s store with unusual keys', (_name, makeStore) => {
  it('claims each key once, then reports it processed, and never takes one key for another', async () => {
    const store = makeStore();
    for (const [what, key] of Object.entries(keys)) {
      const claim = await store.claim(key, options);
      expect(claim.status, `first claim of the key ${what}`).toBe('claimed');
      if (claim.status === 'claimed') await claim.complete();
      expect((await store.claim(key, options)).status, `second claim of the key ${what}`).toBe('processed');
    }
  });
});
