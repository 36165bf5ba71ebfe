import type { Transport } from '../core/transport.ts';
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
