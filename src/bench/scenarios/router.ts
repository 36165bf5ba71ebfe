import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { json } from '../../codecs/json.ts';
import type { Transport } from '../../core/transport.ts';
import { deadLetter } from '../../middleware/dead-letter.ts';
import { idempotency } from '../../middleware/idempotency.ts';
import { retry } from '../../middleware/retry.ts';
import { metrics } from '../../observability/metrics.ts';
import { memoryIdempotencyStore } from '../../stores/idempotency/memory.ts';
import { embedded } from '../../transports/embedded/index.ts';
import { memory } from '../../transports/memory/index.ts';
import { defaultAmqpUrl, rabbitmq, type RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { dropQueues } from '../cleanup.ts';
import { requireService } from '../reachable.ts';
import { SkipScenario, type BenchCase, type Sample, type Scenario } from '../types.ts';
import { publishAndConsume, routerThroughput } from '../workloads.ts';

/** A transport for one round, and what to release after it. */
interface Opened {
  transport: Transport;
  done(): Promise<void>;
}

/**
 * The Router's full reliability stack — `metrics()`, `retry()`, `deadLetter()` and
 * `idempotency()` with the memory store — against a bare subscription on the same transport. Both
 * sides get the same JSON payload as bytes (no codec on the route: decoding is the handler's
 * business on either side), so the ratio is what the stack itself costs per message.
 *
 * One case per kind of transport, because the same per-message cost weighs differently on each:
 * the memory transport delivers in about a microsecond (the stack's cost laid bare), the embedded
 * broker writes and reads a durable log, RabbitMQ is a broker over the network.
 */
export const routerScenario: Scenario = {
  name: 'router',
  title: 'Router: metrics + retry + deadLetter + idempotency(memory) vs a bare subscription on the same transport',
  async cases(ctx) {
    const payload = json<{ n: number; pad: string }>().toBytes({ n: 1, pad: randomBytes(100).toString('hex') });
    const cases = [
      routerCase('memory transport', ctx.quick ? 20_000 : 100_000, payload, async () => {
        const transport = memory({ retain: 1 });
        return { transport, done: () => transport.close() };
      }),
      routerCase('embedded broker (fsync batch)', ctx.quick ? 20_000 : 100_000, payload, async () => {
        const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-router-'));
        const transport = embedded({ dir, partitions: 1 });
        return {
          transport,
          done: async () => {
            await transport.close();
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }),
    ];
    const url = defaultAmqpUrl();
    try {
      await requireService(url, 5672, 'RabbitMQ');
      cases.push(
        routerCase('RabbitMQ (confirms, persistent, prefetch 100)', ctx.quick ? 2_000 : 20_000, payload, async () => {
          const transport: RabbitMQTransport = rabbitmq({ url, prefetch: 100 });
          await transport.connect();
          return {
            transport,
            done: async () => {
              await dropQueues(transport);
              await transport.close();
            },
          };
        }),
      );
    } catch (error) {
      if (!(error instanceof SkipScenario)) throw error;
      ctx.skip(`router on RabbitMQ: ${error.message}`);
    }
    return cases;
  },
};

function routerCase(transportName: string, count: number, payload: Uint8Array, open: () => Promise<Opened>): BenchCase {
  const round = async (measure: (transport: Transport) => Promise<Sample>): Promise<Sample> => {
    const { transport, done } = await open();
    try {
      return await measure(transport);
    } finally {
      await done();
    }
  };
  return {
    name: `full stack vs bare subscription, concurrency 1, ${transportName}`,
    unit: 'msgs/s',
    ours: {
      name: 'router',
      run: () =>
        round((transport) =>
          routerThroughput(
            transport,
            [metrics({ registry: new Registry() }), retry({ attempts: 3, initialDelayMs: 1 }), deadLetter(), idempotency({ store: memoryIdempotencyStore({ maxKeys: count * 2 }) })],
            count,
            payload,
          ),
        ),
    },
    baseline: { name: 'bare subscribe', run: () => round((transport) => publishAndConsume(transport, 'bench.bare', count, payload, 1)) },
    target: { ratio: 0.8, label: '≥ 0.8× bare' },
  };
}
