/** `switchyard/redis`: the Redis idempotency store. Needs the `ioredis` package. */
export { redisIdempotencyStore, type RedisIdempotencyOptions } from '../stores/idempotency/redis.ts';
