import type { Codec } from '../core/codec.ts';
import type { Transport } from '../core/transport.ts';
import { withTimeout } from '../internal/with-timeout.ts';
import { Router } from '../router/router.ts';
import type { Middleware } from '../router/types.ts';
import { pace, stamped, stampOf } from './pacer.ts';
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

/** Publish calls in flight at once in `publishAll`: lets group commit share one fsync between them. */
const IN_FLIGHT = 4;

/** Publishes `count` messages of `payload` in batches, `IN_FLIGHT` publish calls at a time. */
export async function publishAll(transport: Transport, topic: string, count: number, payload: Uint8Array, batch = 1_000): Promise<void> {
  const full = Array.from({ length: batch }, () => ({ payload }));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const n = Math.min(batch, count - next);
      next += n;
      await transport.publish(topic, n === batch ? full : full.slice(0, n));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

/** Times one group reading `count` messages already on `topic`, from subscribe to the last handler. */
export async function consumeAll(transport: Transport, topic: string, count: number, options: { group?: string; concurrency?: number } = {}): Promise<Sample> {
  let received = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  return timed(async () => {
    const sub = await transport.subscribe(topic, { group: options.group ?? 'bench', from: 'earliest', concurrency: options.concurrency ?? 64 }, async () => {
      if (++received === count) resolve();
    });
    await promise;
    await sub.close();
    return count;
  });
}

/** A publisher and a consumer under test by `fixedRateLatency`. */
export interface LatencyRig {
  /** Publishes these payloads; called again before earlier calls resolved. */
  send(payloads: Buffer[]): Promise<void>;
  /** Stops the consumer and releases what the rig opened. */
  close(): Promise<void>;
}

export interface FixedRateOptions {
  /** Messages per second. */
  rate: number;
  seconds: number;
  /** Payload bytes (the first 8 hold the send time). */
  size: number;
}

/** Longest wait for the last message after the last send, ms. */
const DRAIN_TIMEOUT_MS = 60_000;

/**
 * End-to-end latency at a fixed rate. `open` starts a consumer that passes each payload it gets to
 * `received`, and returns how to publish. A probe message first makes sure the consumer is attached;
 * then a paced publisher sends `rate × seconds` messages, each stamped with its send time, without
 * waiting for earlier sends; the consumer records now − sent. The sample's rate is what was
 * achieved (the fixed rate when the broker keeps up) and its latencies are per message.
 */
export async function fixedRateLatency(open: (received: (payload: Uint8Array) => void) => Promise<LatencyRig>, options: FixedRateOptions): Promise<Sample> {
  const total = Math.round(options.rate * options.seconds);
  const latenciesMs: number[] = [];
  const probe = Promise.withResolvers<void>();
  const all = Promise.withResolvers<void>();
  const rig = await open((payload) => {
    const sent = stampOf(payload);
    if (sent < 0) return probe.resolve(); // the probe, stamped -1
    latenciesMs.push(performance.now() - sent);
    if (latenciesMs.length === total) all.resolve();
  });
  try {
    await rig.send([stamped(options.size, -1)]);
    await withTimeout(probe.promise, DRAIN_TIMEOUT_MS, 'the probe message reaching the consumer');
    const sends = new Set<Promise<void>>();
    let failure: unknown;
    const sample = await timed(async () => {
      await pace({ rate: options.rate, total }, (n) => {
        const now = performance.now();
        const one = rig
          .send(Array.from({ length: n }, () => stamped(options.size, now)))
          .catch((error: unknown) => void (failure ??= error))
          .finally(() => sends.delete(one));
        sends.add(one);
      });
      await Promise.all(sends);
      if (failure !== undefined) throw failure;
      await withTimeout(all.promise, DRAIN_TIMEOUT_MS, `the last of ${total} messages at ${options.rate} msgs/s`).catch((error: unknown) => {
        throw new Error(`only ${latenciesMs.length} of ${total} messages arrived`, { cause: error });
      });
      return total;
    });
    return { ...sample, latenciesMs };
  } finally {
    await rig.close();
  }
}

/** `fixedRateLatency` through the contract: one group on a fresh topic under `topicPrefix`. */
export function transportLatency(transport: Transport, topicPrefix: string, options: FixedRateOptions, concurrency = 64): Promise<Sample> {
  const topic = `${topicPrefix}.${process.pid}.${++run}`;
  return fixedRateLatency(async (received) => {
    const sub = await transport.subscribe(topic, { group: 'bench-latency', from: 'earliest', concurrency }, async (m) => received(m.payload));
    return {
      send: (payloads) => transport.publish(topic, payloads.map((payload) => ({ payload }))),
      close: () => sub.close(),
    };
  }, options);
}
