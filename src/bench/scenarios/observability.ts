import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import type { Transport } from '../../core/transport.ts';
import { instrument } from '../../observability/instrument.ts';
import { metrics } from '../../observability/metrics.ts';
import { tracing } from '../../observability/tracing.ts';
import { Router } from '../../router/router.ts';
import type { Logger, Middleware } from '../../router/types.ts';
import { memory } from '../../transports/memory/index.ts';
import { timed } from '../stats.ts';
import type { Sample, Scenario } from '../types.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
let run = 0;

/**
 * Publishes `count` messages in batches of 1,000 to `bus` and handles them with a one-handler
 * Router using `use`; the sample covers first publish to last handled.
 */
async function routerThroughput(bus: Transport, use: Middleware[], count: number, payload: Uint8Array): Promise<Sample> {
  const topic = `bench.observability.${process.pid}.${++run}`;
  let handled = 0;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const router = new Router({ logger: quiet });
  router.use(...use);
  router.handle('bench', { from: bus, topic, group: 'bench' }, async () => {
    if (++handled === count) resolve();
  });
  await router.start();
  const batch = Array.from({ length: 1_000 }, () => ({ payload }));
  const sample = await timed(async () => {
    for (let sent = 0; sent < count; sent += 1_000) await bus.publish(topic, batch.slice(0, Math.min(1_000, count - sent)));
    await done;
    return count;
  });
  await router.stop();
  return sample;
}

/**
 * What metrics and tracing cost a Router when no OpenTelemetry SDK is registered: the same
 * workload with and without `instrument()` + `tracing()` + `metrics()`. Target: ≥ 0.95 (≤ 5 % overhead).
 */
export const observabilityScenario: Scenario = {
  name: 'observability',
  title: 'Observability: Router on the memory transport with metrics + tracing (no SDK) vs without, 256 B',
  async cases(ctx) {
    const count = ctx.quick ? 50_000 : 200_000;
    const payload = randomBytes(256);
    return [
      {
        name: 'router publish and consume, concurrency 1',
        unit: 'msgs/s',
        target: { ratio: 0.95, label: '≤ 5 % overhead' },
        ours: {
          name: 'router + instrument + tracing + metrics',
          run: () => {
            const registry = new Registry();
            return routerThroughput(instrument(memory({ retain: 1 }), { registry }), [tracing(), metrics({ registry })], count, payload);
          },
        },
        baseline: {
          name: 'router',
          run: () => routerThroughput(memory({ retain: 1 }), [], count, payload),
        },
      },
    ];
  },
};
