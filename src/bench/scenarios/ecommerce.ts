import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Scenario } from '../types.ts';
import { SkipScenario } from '../types.ts';

/** What this scenario uses of examples/ecommerce/main.ts (kept local: examples are not part of the build). */
interface DemoModule {
  runDemo(options: Record<string, unknown>): Promise<{
    ok: boolean;
    orders: { completed: number; rolledBack: number };
    throughput: { ordersPerSecond: number };
    checks: Array<{ name: string; ok: boolean; detail: string }>;
    latenciesMs?: number[];
  }>;
  noFaults: Record<string, number>;
}

const DEMO = new URL('../../../examples/ecommerce/main.ts', import.meta.url);

/**
 * The e-commerce demo end to end at full speed on the embedded broker: an order is placed,
 * appended to its event stream, and driven by the fulfillment saga (inventory, payment, shipping,
 * confirmation, email, real-time update, analytics) until it settles. Orders/s counts settled
 * orders from the first placed to the last settled; latency is placed → settled. Every round's
 * summary checks must pass, or the round fails.
 */
export const ecommerceScenario: Scenario = {
  name: 'ecommerce',
  title: 'E-commerce demo: orders end to end (saga, event store, queues), embedded',
  async cases(ctx) {
    if (!existsSync(fileURLToPath(DEMO))) throw new SkipScenario('examples/ecommerce is not here (runs from a repository checkout)');
    if (import.meta.resolve('switchyard').includes('/dist/')) {
      ctx.log('ecommerce: the example imports "switchyard" from dist/ (stale unless just built); run with node --conditions=switchyard-source to measure the sources');
    }
    const demo = (await import(pathToFileURL(fileURLToPath(DEMO)).href)) as DemoModule;
    const durationS = ctx.quick ? 5 : 15;
    return [
      {
        name: `orders placed → settled, full speed (64 in flight), ${durationS} s, no faults`,
        unit: 'orders/s',
        minimum: { min: 2_000, label: '≥ 2,000 orders/s' },
        ours: {
          name: 'switchyard demo',
          run: async () => {
            const summary = await demo.runDemo({ profile: 'embedded', durationS, rate: 0, customers: 200, products: 50, faults: demo.noFaults, maxInFlight: 64, keepLatencies: true });
            if (!summary.ok) throw new Error(`the demo's checks failed: ${summary.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; ')}`);
            const ops = summary.orders.completed + summary.orders.rolledBack;
            ctx.log(`ecommerce: ${ops} orders, ${summary.throughput.ordersPerSecond} orders/s`);
            return { ops, seconds: ops / summary.throughput.ordersPerSecond, latenciesMs: summary.latenciesMs ?? [] };
          },
        },
      },
    ];
  },
};
