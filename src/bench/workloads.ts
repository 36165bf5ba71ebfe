import type { Codec } from '../core/codec.ts';
import type { Transport } from '../core/transport.ts';
import { Router } from '../router/router.ts';
import type { Middleware } from '../router/types.ts';
import { timed } from './stats.ts';
import type { Sample } from './types.ts';

let run = 0;

/**
 * Publishes `count` messages in batches and consumes them with one group; the sample covers
 * first publish to last handler. Any transport: the same workload measures every adapter.
 */
export async function publishAndConsume(
  transport: Transport,
  topicPrefix: string,
  count: number,
  payload: Uint8Array,
  concurrency: number,
  batch = 1_000,
): Promise<Sample> {
  const topic = `${topicPrefix}.${process.pid}.${++run}`;
  let received = 0;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const sub = await transport.subscribe(topic, { group: 'bench', concurrency }, async () => {
    if (++received === count) resolve();
  });
  const messages = Array.from({ length: batch }, () => ({ payload }));
  const sample = await timed(async () => {
    for (let sent = 0; sent < count; sent += batch) await transport.publish(topic, messages.slice(0, Math.min(batch, count - sent)));
    await done;
    return count;
  });
  await sub.close();
  return sample;
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A Router with `use` middleware handling `count` messages published in batches of 1,000 on one
 * topic (concurrency 1); the sample covers first publish to last handler.
 */
export async function routerThroughput(
  transport: Transport,
  use: readonly Middleware[],
  count: number,
  payload: Uint8Array,
  codec?: Codec<unknown>,
): Promise<Sample> {
  const topic = `bench.router.${process.pid}.${++run}`;
  const router = new Router({ logger: quiet });
  router.use(...use);
  let handled = 0;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  router.handle('bench', { from: transport, topic, group: 'bench', codec, concurrency: 1 }, async () => {
    if (++handled === count) resolve();
  });
  await router.start();
  const batch = Array.from({ length: 1_000 }, () => ({ payload }));
  const sample = await timed(async () => {
    for (let sent = 0; sent < count; sent += 1_000) await transport.publish(topic, batch.slice(0, Math.min(1_000, count - sent)));
    await done;
    return count;
  });
  await router.stop();
  return sample;
}
