import { randomBytes } from 'node:crypto';
import { memory } from '../../transports/memory/index.ts';
import { timed } from '../stats.ts';
import type { Scenario } from '../types.ts';
import { publishAndConsume } from '../workloads.ts';

/** The in-process transport: the cost of the contract itself, with no I/O. */
export const memoryScenario: Scenario = {
  name: 'memory',
  title: 'Memory transport: publish and consume, 256 B',
  async cases(ctx) {
    const count = ctx.quick ? 50_000 : 200_000;
    const payload = randomBytes(256);
    return [
      {
        name: 'publish, batches of 1,000',
        unit: 'msgs/s',
        ours: {
          name: 'memory',
          run: async () => {
            const bus = memory({ retain: 1 });
            const batch = Array.from({ length: 1_000 }, () => ({ payload }));
            const sample = await timed(async () => {
              for (let i = 0; i < count; i += 1_000) await bus.publish('bench.memory', batch);
              return count;
            });
            await bus.close();
            return sample;
          },
        },
      },
      {
        name: 'publish and consume end to end, concurrency 1',
        unit: 'msgs/s',
        ours: {
          name: 'memory',
          run: async () => {
            const bus = memory({ retain: 1 });
            const sample = await publishAndConsume(bus, 'bench.memory.e2e', count, payload, 1);
            await bus.close();
            return sample;
          },
        },
      },
    ];
  },
};
