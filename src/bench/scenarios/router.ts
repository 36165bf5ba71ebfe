import { randomBytes } from 'node:crypto';
import { json } from '../../codecs/json.ts';
import type { Transport } from '../../core/transport.ts';
import { deadLetter } from '../../middleware/dead-letter.ts';
import { idempotency } from '../../middleware/idempotency.ts';
import { retry } from '../../middleware/retry.ts';
import type { Middleware } from '../../router/types.ts';
import { Router } from '../../router/router.ts';
import { memoryIdempotencyStore } from '../../stores/idempotency/memory.ts';
import { memory } from '../../transports/memory/index.ts';
import { timed } from '../stats.ts';
import type { Sample, Scenario } from '../types.ts';
import { publishAndConsume } from '../workloads.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let run = 0;

/** Extra middleware a scenario adds to the full stack (metrics, tracing), when it has them. */
export const fullStackExtras: Array<() => Middleware> = [];

/** A Router handling `count` JSON messages through retry + deadLetter + idempotency(memory) (+ extras). */
async function routed(bus: Transport, count: number, payload: Uint8Array): Promise<Sample> {
  const topic = `bench.router.${process.pid}.${++run}`;
  const router = new Router({ logger: quiet });
  router.use(retry({ attempts: 3, initialDelayMs: 1 }), deadLetter(), idempotency({ store: memoryIdempotencyStore({ maxKeys: count * 2 }) }), ...fullStackExtras.map((make) => make()));
  let received = 0;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  router.handle('bench', { from: bus, topic, group: 'bench', codec: json<{ n: number }>(), concurrency: 1 }, async () => {
    if (++received === count) resolve();
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

/** The Router's full reliability stack against a bare subscription on the same transport. */
export const routerScenario: Scenario = {
  name: 'router',
  title: 'Router: retry + deadLetter + idempotency(memory) vs a bare subscription, memory transport',
  async cases(ctx) {
    const count = ctx.quick ? 20_000 : 100_000;
    const payload = json<{ n: number; pad: string }>().toBytes({ n: 1, pad: randomBytes(100).toString('hex') });
    return [
      {
        name: `full stack${fullStackExtras.length > 0 ? ' with metrics' : ''} vs bare subscription, concurrency 1`,
        unit: 'msgs/s',
        ours: {
          name: 'router',
          run: async () => {
            const bus = memory({ retain: 1 });
            const sample = await routed(bus, count, payload);
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
