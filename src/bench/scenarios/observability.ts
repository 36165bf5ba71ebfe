import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { deadLetter } from '../../middleware/dead-letter.ts';
import { idempotency } from '../../middleware/idempotency.ts';
import { retry } from '../../middleware/retry.ts';
import { instrument } from '../../observability/instrument.ts';
import { metrics } from '../../observability/metrics.ts';
import { tracing } from '../../observability/tracing.ts';
import type { Middleware } from '../../router/types.ts';
import { memoryIdempotencyStore } from '../../stores/idempotency/memory.ts';
import { memory } from '../../transports/memory/index.ts';
import { defaultAmqpUrl, rabbitmq } from '../../transports/rabbitmq/index.ts';
import { dropQueues } from '../cleanup.ts';
import { requireService } from '../reachable.ts';
import { SkipScenario, type BenchCase, type Sample, type Scenario } from '../types.ts';
import { routerThroughput } from '../workloads.ts';

/**
 * What metrics and tracing cost a Router when no OpenTelemetry SDK is registered: the same
 * workload with and without `instrument()` + `metrics()` + `tracing()`, on the memory transport
 * (where the router's own path is all there is to measure against). Two routers: the one the
 * benchmarks measure everywhere else — retry, dead letters and idempotency, the target's case —
 * and, as the worst case, a router with no middleware at all and a no-op handler, where the
 * whole delivery costs about a microsecond and a single clock read is several per cent of it.
 *
 * The third case runs the reliability router on RabbitMQ (confirms, persistent messages), where a
 * delivery costs a network round trip rather than a microsecond: what the overhead is in a service.
 *
 * A round takes well under a second, and round-to-round spread (garbage collection, the
 * idempotency map growing) is ±10 % — twice the 5 % being measured — so these cases run 15
 * interleaved rounds each rather than the run's default, and compare medians.
 */
export const observabilityScenario: Scenario = {
  name: 'observability',
  title: 'Observability: a Router with metrics + tracing (no SDK) vs without, 256 B — on the memory transport, and on RabbitMQ',
  async cases(ctx) {
    const count = ctx.quick ? 50_000 : 200_000;
    const rounds = ctx.quick ? 5 : 15;
    const payload = randomBytes(256);
    const reliability = (): Middleware[] => [retry({ attempts: 3, initialDelayMs: 1 }), deadLetter(), idempotency({ store: memoryIdempotencyStore({ maxKeys: count * 2 }) })];
    const compare = (name: string, use: () => Middleware[], target: BenchCase['target'], note?: string): BenchCase => ({
      name,
      unit: 'msgs/s',
      target,
      note,
      rounds,
      ours: {
        name: 'with instrument + metrics + tracing',
        run: () => {
          const registry = new Registry();
          return routerThroughput(instrument(memory({ retain: 1 }), { registry }), [metrics({ registry }), tracing(), ...use()], count, payload);
        },
      },
      baseline: { name: 'without', run: () => routerThroughput(memory({ retain: 1 }), use(), count, payload) },
    });
    const cases = [
      compare('router with retry + deadLetter + idempotency(memory), concurrency 1', reliability, { ratio: 0.95, label: '≤ 5 % overhead' }),
      compare('router with no middleware, no-op handler, concurrency 1', () => [], undefined, 'informative: the worst case, a delivery of ≈ 1 µs'),
    ];
    // The same reliability router on a broker, where a delivery costs what a network round trip does.
    const url = defaultAmqpUrl();
    try {
      await requireService(url, 5672, 'RabbitMQ');
      const brokerCount = ctx.quick ? 2_000 : 20_000;
      const onRabbit = async (instrumented: boolean): Promise<Sample> => {
        const bus = rabbitmq({ url, prefetch: 100 });
        await bus.connect();
        const registry = new Registry();
        const use = [retry({ attempts: 3, initialDelayMs: 1 }), deadLetter(), idempotency({ store: memoryIdempotencyStore({ maxKeys: brokerCount * 2 }) })];
        try {
          return instrumented
            ? await routerThroughput(instrument(bus, { registry }), [metrics({ registry }), tracing(), ...use], brokerCount, payload)
            : await routerThroughput(bus, use, brokerCount, payload);
        } finally {
          await dropQueues(bus);
        }
      };
      cases.push({
        name: 'router with retry + deadLetter + idempotency(memory), concurrency 1, RabbitMQ (confirms, persistent, prefetch 100)',
        unit: 'msgs/s',
        note: 'informative: the same overhead where a delivery crosses the network',
        rounds: ctx.quick ? 5 : 9,
        ours: { name: 'with instrument + metrics + tracing', run: () => onRabbit(true) },
        baseline: { name: 'without', run: () => onRabbit(false) },
      });
    } catch (error) {
      if (!(error instanceof SkipScenario)) throw error;
      ctx.skip(`observability on RabbitMQ: ${error.message}`);
    }
    return cases;
  },
};
