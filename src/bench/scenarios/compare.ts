import { randomBytes } from 'node:crypto';
import { declareGroup } from '../../core/declare-group.ts';
import { defaultAmqpUrl } from '../../transports/rabbitmq/index.ts';
import { embeddedBroker, natsJetStreamBroker, natsUrl, rabbitmqBroker, withBroker, type Broker } from '../brokers.ts';
import { requireService } from '../reachable.ts';
import { timed } from '../stats.ts';
import { SkipScenario, type BenchCase, type Sample, type Scenario } from '../types.ts';
import { consumeAll, publishAll, transportLatency, type FixedRateOptions } from '../workloads.ts';

/** Confirmed publish of `count` messages to a topic whose group exists (so every broker stores them). */
function publishRun(c: Broker, count: number, payload: Uint8Array): Promise<Sample> {
  return withBroker(c, async ({ bus, topic }) => {
    await declareGroup(bus, topic, 'bench'); // consumeAll's group
    return timed(async () => {
      await publishAll(bus, topic, count, payload);
      return count;
    });
  });
}

/** The group reading `count` stored messages with acknowledgements, concurrency 64. */
function consumeRun(c: Broker, count: number, payload: Uint8Array): Promise<Sample> {
  return withBroker(c, async ({ bus, topic }) => {
    await declareGroup(bus, topic, 'bench'); // consumeAll's group
    await publishAll(bus, topic, count, payload);
    return consumeAll(bus, topic, count);
  });
}

function latencyRun(c: Broker, fixed: FixedRateOptions): Promise<Sample> {
  return withBroker(c, ({ bus, topic }) => transportLatency(bus, topic, fixed));
}

/**
 * The zero-setup default against what a user would pick instead, on one workload and through
 * Switchyard's own transports (one API): durable, confirmed publish of N 256 B messages, then a
 * consumer group reading them with acknowledgements; and end-to-end latency at a fixed rate.
 * Each alternative is a pair with the embedded broker, interleaved; the ratio (embedded ÷ the
 * alternative) is informative, with no target. A broker that is not running is skipped, and the
 * report says so.
 */
export const compareScenario: Scenario = {
  name: 'compare',
  title: 'Zero-setup default vs the usual picks: embedded vs NATS JetStream vs RabbitMQ, 256 B, durable',
  async cases(ctx) {
    const alternatives: Broker[] = [];
    const missing: string[] = [];
    for (const [check, broker] of [
      [() => requireService(natsUrl().split(',')[0]!, 4222, 'NATS'), natsJetStreamBroker],
      [() => requireService(defaultAmqpUrl(), 5672, 'RabbitMQ'), rabbitmqBroker],
    ] as const) {
      try {
        await check();
        alternatives.push(broker);
      } catch (error) {
        if (!(error instanceof SkipScenario)) throw error;
        missing.push(error.message);
      }
    }
    if (alternatives.length === 0) throw new SkipScenario(missing.join('; '));
    for (const reason of missing) ctx.skip(reason);

    const count = ctx.quick ? 10_000 : 50_000;
    const payload = randomBytes(256);
    const fixed: FixedRateOptions = { rate: 2_000, seconds: ctx.quick ? 1 : 5, size: 256 };
    const cases: BenchCase[] = [];
    const pair = (what: string, alt: Broker, run: (c: Broker) => Promise<Sample>, ratioOf?: 'p99'): BenchCase => ({
      name: `${what} — vs ${alt.name}`,
      unit: 'msgs/s',
      ours: { name: embeddedBroker.name, run: () => run(embeddedBroker) },
      baseline: { name: alt.name, run: () => run(alt) },
      ...(ratioOf ? { ratioOf } : {}),
      note: `informative (embedded ÷ ${alt.name.split(' (')[0]}), no target`,
    });
    for (const alt of alternatives) {
      cases.push(pair(`confirmed publish of ${count.toLocaleString('en-US')}, batches of 1,000`, alt, (c) => publishRun(c, count, payload)));
      cases.push(pair(`group reads ${count.toLocaleString('en-US')} with acks, concurrency 64`, alt, (c) => consumeRun(c, count, payload)));
      cases.push(pair(`end to end at ${fixed.rate.toLocaleString('en-US')} msgs/s`, alt, (c) => latencyRun(c, fixed), 'p99'));
    }
    return cases;
  },
};
