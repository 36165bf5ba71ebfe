import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ClaimOptions, IdempotencyClaim, IdempotencyStore } from './store.ts';
import { redisKey } from './stored-key.ts';

/** Redis store settings. */
export interface RedisIdempotencyOptions {
  /** An ioredis client (the store never closes it). */
  client: Redis;
  /** Prefix of the store's keys. Default `switchyard:idem:`. */
  prefix?: string;
}

const DONE = 'done';
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
/** Extends the claim only while the key still holds our token: a lease another consumer took over stays theirs. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/**
 * Processed keys in Redis: a claim is `SET key token NX PX lease`, completion overwrites it with
 * a "done" mark that expires after the TTL, a release deletes it only if the claim is still ours,
 * and a renewal (while a long handler runs) extends it only if it is still ours.
 * Guarantee: concurrent duplicates never both run (while the lease lasts) and completed keys are
 * skipped across processes; but the mark is not atomic with the handler's own writes, so a crash
 * between the side effect and the mark lets the message run again (at-least-once effect).
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisIdempotencyStore } from 'switchyard/redis';
 * router.use(idempotency({ store: redisIdempotencyStore({ client: new Redis() }) }));
 * ```
 */
export function redisIdempotencyStore(options: RedisIdempotencyOptions): IdempotencyStore {
  const { client } = options;
  const prefix = options.prefix ?? 'switchyard:idem:';
  return {
    name: 'redis',
    async claim(key: string, { leaseMs, ttlMs }: ClaimOptions): Promise<IdempotencyClaim> {
      const k = prefix + redisKey(key);
      const token = randomUUID();
      const lease = Math.max(1, Math.round(leaseMs));
      const claimed: IdempotencyClaim = {
        status: 'claimed',
        async complete() {
          await client.set(k, DONE, 'PX', Math.max(1, Math.round(ttlMs)));
        },
        async release() {
          await client.eval(RELEASE, 1, k, token);
        },
        async renew() {
          return (await client.eval(RENEW, 1, k, token, lease)) === 1;
        },
      };
      for (let i = 0; i < 3; i++) {
        if ((await client.set(k, token, 'PX', lease, 'NX')) === 'OK') return claimed;
        const value = await client.get(k);
        // Our own token: the SET took effect, but the connection dropped before its reply came
        // and ioredis sent it again on reconnecting, which found the key taken — by us.
        if (value === token) return claimed;
        if (value === DONE) return { status: 'processed' };
        if (value !== null) return { status: 'busy' };
        // Expired between SET and GET: try again.
      }
      return { status: 'busy' };
    },
    async close() {},
  };
}
