/**
 * The processes of the backlog benchmark.
 *
 * `node backlog-child.ts consume BROKER COUNT SIZE DRAIN_MS` (BROKER: embedded, nats, rabbitmq,
 * kafka) is the measured one. A slow consumer (concurrency 1, 1 ms per message) is attached; then
 * COUNT messages of SIZE bytes are published as fast as the broker confirms them, and the consumer
 * keeps reading for DRAIN_MS more. This process's RSS is sampled every 100 ms from just before
 * publishing; with `--expose-gc`, the live heap (heap used + external, after a full GC) is read
 * before publishing and again at the end with the consumer still attached: what the process really
 * holds, without the garbage V8 has not collected yet. The run's topics, streams and queues are
 * deleted; one JSON line on stdout says what was seen. A fresh process, so neither earlier
 * benchmarks nor this backlog distort another figure.
 *
 * Where the broker is a server, the publisher is another process, so its garbage is not counted as
 * the consumer's: the consumer prints `{"ready":TOPIC}` once subscribed and waits for a line
 * `published SECONDS` on stdin, sent once `node backlog-child.ts publish BROKER TOPIC COUNT SIZE`
 * has published everything (it prints `{"publishSeconds":…}`). The embedded broker lives in the
 * consumer's process, so there it publishes in-process too.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Transport } from '../core/transport.ts';
import { embeddedBroker, kafkaBroker, natsJetStreamBroker, rabbitmqBroker, withBroker, type Broker } from './brokers.ts';
import { MiB, sampleRss } from './rss.ts';
import { publishAll } from './workloads.ts';

/** What the consuming child prints. */
export interface BacklogResult {
  published: number;
  publishSeconds: number;
  /** Whether the messages were published from another process (else from the measured one). */
  separatePublisher: boolean;
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

/** Publishes `count` messages of `size` bytes to `topic`; resolves to the seconds it took. */
async function publishTimed(bus: Transport, topic: string, count: number, size: number): Promise<number> {
  const start = performance.now();
  await publishAll(bus, topic, count, new Uint8Array(size));
  return (performance.now() - start) / 1_000;
}

/** The seconds in the first stdin line `published SECONDS`. */
async function publishedSignal(): Promise<number> {
  for await (const line of createInterface({ input: process.stdin })) {
    const [word, seconds] = line.trim().split(' ');
    if (word === 'published') return Number(seconds);
  }
  throw new Error('stdin closed before the publisher finished');
}

const brokers: Record<string, Broker> = { embedded: embeddedBroker, nats: natsJetStreamBroker, rabbitmq: rabbitmqBroker, kafka: kafkaBroker };
const usage = `usage: node backlog-child.ts consume ${Object.keys(brokers).join('|')} COUNT SIZE DRAIN_MS | publish BROKER TOPIC COUNT SIZE`;
const write = (value: object): void => void process.stdout.write(`${JSON.stringify(value)}\n`);

const [role, which = '', ...rest] = process.argv.slice(2);
const broker = brokers[which];
if (!broker || (role !== 'consume' && role !== 'publish')) throw new Error(usage);

if (role === 'publish') {
  const [topic = '', countArg, sizeArg] = rest;
  if (!broker.openPublisher) throw new Error(`${which} has no separate publisher: the consumer publishes in-process`);
  const bus = await broker.openPublisher();
  write({ publishSeconds: await publishTimed(bus, topic, Number(countArg), Number(sizeArg)) });
  await bus.close();
} else {
  const [countArg, sizeArg, drainArg] = rest;
  const count = Number(countArg);
  const drainMs = Number(drainArg);
  const separatePublisher = broker.openPublisher !== undefined;
  const result = await withBroker(broker, async ({ bus, topic }): Promise<BacklogResult> => {
    let consumed = 0;
    const sub = await bus.subscribe(topic, { group: 'bench-backlog', from: 'earliest', concurrency: 1 }, async () => {
      await sleep(1);
      consumed++;
    });
    const liveBeforeMiB = live();
    const rss = sampleRss({ intervalMs: 100 });
    if (separatePublisher) write({ ready: topic });
    const publishSeconds = separatePublisher ? await publishedSignal() : await publishTimed(bus, topic, count, Number(sizeArg));
    await sleep(drainMs);
    const { baselineBytes, peakBytes, samples } = rss.stop();
    const liveAfterMiB = live();
    const seen = consumed;
    await sub.close();
    return { published: count, publishSeconds, separatePublisher, consumed: seen, baselineMiB: baselineBytes / MiB, peakMiB: peakBytes / MiB, samples, liveBeforeMiB, liveAfterMiB };
  });
  write(result);
}
// Client libraries may keep timers alive after close; the result is out.
process.exit(0);
