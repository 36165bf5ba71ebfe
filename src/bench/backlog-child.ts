/**
 * The measured process of the backlog benchmark:
 * `node backlog-child.ts BROKER COUNT SIZE DRAIN_MS` (BROKER: embedded, nats, rabbitmq, kafka).
 * A slow consumer (concurrency 1, 1 ms per message) is attached; then COUNT messages of SIZE bytes
 * are published as fast as the broker confirms them, and the consumer keeps reading for DRAIN_MS
 * more. This process's RSS is sampled every 100 ms from just before publishing; with `--expose-gc`,
 * the live heap (heap used + external, after a full GC) is read before publishing and again at the
 * end with the consumer still attached: what the process really holds, without the garbage V8 has
 * not collected yet. The run's topics, streams and queues are deleted; one JSON line on stdout says
 * what was seen. A fresh process, so neither earlier benchmarks nor this backlog distort another figure.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { embeddedBroker, kafkaBroker, natsJetStreamBroker, rabbitmqBroker, withBroker, type Broker } from './brokers.ts';
import { MiB, sampleRss } from './rss.ts';
import { publishAll } from './workloads.ts';

/** What the child prints. */
export interface BacklogResult {
  published: number;
  publishSeconds: number;
  consumed: number;
  baselineMiB: number;
  peakMiB: number;
  samples: number;
  /** Live heap after a full GC, before publishing and at the end (NaN without --expose-gc). */
  liveBeforeMiB: number;
  liveAfterMiB: number;
}

/** Heap used + external memory after a full GC, in MiB. */
function live(): number {
  if (!globalThis.gc) return Number.NaN;
  globalThis.gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.external) / MiB;
}

const brokers: Record<string, Broker> = { embedded: embeddedBroker, nats: natsJetStreamBroker, rabbitmq: rabbitmqBroker, kafka: kafkaBroker };

const [which = '', countArg, sizeArg, drainArg] = process.argv.slice(2);
const broker = brokers[which];
if (!broker) throw new Error(`usage: node backlog-child.ts ${Object.keys(brokers).join('|')} COUNT SIZE DRAIN_MS`);
const count = Number(countArg);
const payload = new Uint8Array(Number(sizeArg));
const drainMs = Number(drainArg);

const result = await withBroker(broker, async ({ bus, topic }): Promise<BacklogResult> => {
  let consumed = 0;
  const sub = await bus.subscribe(topic, { group: 'bench-backlog', from: 'earliest', concurrency: 1 }, async () => {
    await sleep(1);
    consumed++;
  });
  const liveBeforeMiB = live();
  const rss = sampleRss({ intervalMs: 100 });
  const start = performance.now();
  await publishAll(bus, topic, count, payload);
  const publishSeconds = (performance.now() - start) / 1_000;
  await sleep(drainMs);
  const { baselineBytes, peakBytes, samples } = rss.stop();
  const liveAfterMiB = live();
  const seen = consumed;
  await sub.close();
  return { published: count, publishSeconds, consumed: seen, baselineMiB: baselineBytes / MiB, peakMiB: peakBytes / MiB, samples, liveBeforeMiB, liveAfterMiB };
});
process.stdout.write(`${JSON.stringify(result)}\n`);
// Client libraries may keep timers alive after close; the result is out.
process.exit(0);
