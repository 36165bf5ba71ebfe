import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { json } from '../../codecs/json.ts';
import { deadLetter } from '../../middleware/dead-letter.ts';
import { idempotency } from '../../middleware/idempotency.ts';
import { retry } from '../../middleware/retry.ts';
import { metrics } from '../../observability/metrics.ts';
import { memoryIdempotencyStore } from '../../stores/idempotency/memory.ts';
import { memory } from '../../transports/memory/index.ts';
import type { Scenario } from '../types.ts';
import { publishAndConsume, routerThroughput } from '../workloads.ts';

/**
 * The Router's full reliability stack — `metrics()`, `retry()`, `deadLetter()` and
 * `idempotency()` with the memory store — against a bare subscription on the same transport. Both
 * sides get the same JSON payload as bytes (no codec on the route: decoding is the handler's
 * business on either side), so the ratio is what the stack itself costs per message.
 */
export const routerScenario: Scenario = {
  name: 'router',
  title: 'Router: metrics + retry + deadLetter + idempotency(memory) vs a bare subscription, memory transport',
  async cases(ctx) {
    const count = ctx.quick ? 20_000 : 100_000;
    const payload = json<{ n: number; pad: string }>().toBytes({ n: 1, pad: randomBytes(100).toString('hex') });
    return [
      {
        name: 'full stack vs bare subscription, concurrency 1',
        unit: 'msgs/s',
        ours: {
          name: 'router',
          run: async () => {
            const bus = memory({ retain: 1 });
            const sample = await routerThroughput(
              bus,
              [metrics({ registry: new Registry() }), retry({ attempts: 3, initialDelayMs: 1 }), deadLetter(), idempotency({ store: memoryIdempotencyStore({ maxKeys: count * 2 }) })],
              count,
              payload,
            );
            await bus.close();
            return sample;
          },
        },
        baseline: {
          name: 'bare subscribe',
          run: async () => {
            const bus = memory({ retain: 1 });
            const sample = await publishAndConsume(bus, 'bench.bare', count, payload, 1);
            await bus.close();
            return sample;
          },
        },
        target: { ratio: 0.8, label: '≥ 0.8× bare' },
      },
    ];
  },
};
