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
import type { BenchCase, Scenario } from '../types.ts';
import { routerThroughput } from '../workloads.ts';

/**
 * What metrics and tracing cost a Router when no OpenTelemetry SDK is registered: the same
 * workload with and without `instrument()` + `metrics()` + `tracing()`, on the memory transport
 * (where the router's own path is all there is to measure against). Two routers: the one the
 * benchmarks measure everywhere else — retry, dead letters and idempotency, the target's case —
 * and, as the worst case, a router with no middleware at all and a no-op handler, where the
 * whole delivery costs about a microsecond and a single clock read is several per cent of it.
 *
 * A round takes well under a second, and round-to-round spread (garbage collection, the
 * idempotency map growing) is ±10 % — twice the 5 % being measured — so these cases run 15
 * interleaved rounds each rather than the run's default, and compare medians.
 */
export const observabilityScenario: Scenario = {
  name: 'observability',
  title: 'Observability: a Router on the memory transport with metrics + tracing (no SDK) vs without, 256 B',
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
    return [
      compare('router with retry + deadLetter + idempotency(memory), concurrency 1', reliability, { ratio: 0.95, label: '≤ 5 % overhead' }),
      compare('router with no middleware, no-op handler, concurrency 1', () => [], undefined, 'informative: the worst case, a delivery of ≈ 1 µs'),
    ];
  },
};
