import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { instrument } from '../../observability/instrument.ts';
import { metrics } from '../../observability/metrics.ts';
import { tracing } from '../../observability/tracing.ts';
import { memory } from '../../transports/memory/index.ts';
import type { Scenario } from '../types.ts';
import { routerThroughput } from '../workloads.ts';

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
            return routerThroughput(instrument(memory({ retain: 1 }), { registry }), [metrics({ registry }), tracing()], count, payload);
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
