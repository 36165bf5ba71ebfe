import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { faultProxy } from '../../testing/fault-proxy.ts';
import { redisIdempotencyStore } from './redis.ts';

const REDIS_URL = process.env.SWITCHYARD_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `switchyard-test:reconnect:${Date.now().toString(36)}${randomBytes(3).toString('hex')}:`;
const direct = new Redis(REDIS_URL);

afterAll(async () => {
  const keys = await direct.keys(`${prefix}*`);
  if (keys.length > 0) await direct.del(...keys);
  direct.disconnect();
});

describe('redis idempotency store across a dropped connection', () => {
  it("claims a key whose claim reached Redis but whose reply was lost (ioredis resends it on reconnecting): the key is the claimer's, not busy", async () => {
    const target = new URL(REDIS_URL);
    const proxy = await faultProxy({ target: { host: target.hostname, port: Number(target.port || 6379) } });
    const client = new Redis({ host: proxy.host, port: proxy.port });
    const errors: Error[] = [];
    client.on('error', (e: Error) => errors.push(e));
    try {
      const store = redisIdempotencyStore({ client, prefix });
      await client.ping();
      // Replies vanish: the claim's SET runs on the server, its "OK" never comes back.
      proxy.blackhole('downstream');
      const claiming = Promise.resolve(store.claim('order-1', { leaseMs: 30_000, ttlMs: 60_000 }));
      while ((await direct.exists(`${prefix}order-1`)) === 0) await new Promise((resolve) => setImmediate(resolve));
      proxy.heal();
      proxy.reset();
      const claim = await claiming;
      expect(claim.status).toBe('claimed');
      if (claim.status !== 'claimed') return;
      // The claim is fully usable: it renews, completes, and a duplicate then sees it processed.
      expect(await claim.renew?.()).toBe(true);
      await claim.complete();
      expect((await store.claim('order-1', { leaseMs: 30_000, ttlMs: 60_000 })).status).toBe('processed');
      expect(errors.length).toBeGreaterThan(0); // the reset really dropped the connection
    } finally {
      client.disconnect();
      await proxy.close();
    }
  });
});
