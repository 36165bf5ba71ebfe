import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../middleware/circuit-breaker.ts';
import { deadLetter } from '../middleware/dead-letter.ts';
import { idempotency } from '../middleware/idempotency.ts';
import { retry } from '../middleware/retry.ts';
import { timeout } from '../middleware/timeout.ts';
import { memoryIdempotencyStore } from '../stores/idempotency/memory.ts';
import { memory } from '../transports/memory/index.ts';
import { Router } from './router.ts';
import type { Logger, Middleware } from './types.ts';

let seq = 0;

/** Starts and stops a router with `use` on two handlers (plus `routeUse` on the second); returns its warnings. */
async function warningsOf(use: Middleware[], routeUse: Middleware[] = []): Promise<string[]> {
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, error() {}, warn: (message) => void warnings.push(message) };
  const bus = memory();
  const topic = `order-test.${process.pid}.${++seq}`;
  const router = new Router({ logger })
    .use(...use)
    .handle('a', { from: bus, topic, group: 'a' }, () => {})
    .handle('b', { from: bus, topic, group: 'b', use: routeUse }, () => {});
  await router.start();
  await router.stop();
  return warnings;
}

describe('middleware order', () => {
  it('warns once, naming the handlers, when timeout() runs outside retry() and deadLetter() (the order docs/middleware.md used to recommend)', async () => {
    const warnings = await warningsOf([timeout(5_000), retry(), deadLetter()]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^middleware order of handler "a", handler "b": timeout\(\) comes before retry\(\) and deadLetter\(\) in use\(\)/);
    expect(warnings[0]).toMatch(/delivered again for ever.*Put timeout\(\) after them/);
  });

  it('a message whose attempts keep timing out in that order is redelivered for ever instead of dead-lettered (what the warning is about), and dead-lettered in the recommended one', async () => {
    for (const [order, dlqExpected] of [
      ['warned', false],
      ['recommended', true],
    ] as const) {
      const bus = memory();
      const topic = `order-test.${process.pid}.${++seq}`;
      const dead = Promise.withResolvers<void>();
      await bus.subscribe(`${topic}.dlq`, { group: 'w', from: 'earliest' }, async () => dead.resolve());
      const enough = Promise.withResolvers<void>();
      let deliveries = 0;
      const use = order === 'warned' ? [timeout(20), retry({ attempts: 2, initialDelayMs: 1 }), deadLetter({ maxAttempts: 2 })] : [retry({ attempts: 2, initialDelayMs: 1 }), deadLetter({ maxAttempts: 2 }), timeout(20)];
      const router = new Router({ logger: { debug() {}, info() {}, warn() {}, error() {} } })
        .use(...use)
        .handle('slow', { from: bus, topic, group: 'g' }, async (msg, ctx) => {
          if (msg.attempt === 10) enough.resolve();
          deliveries = msg.attempt;
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        });
      await router.start();
      await bus.publish(topic, { payload: new Uint8Array([1]) });
      const outcome = await Promise.race([dead.promise.then(() => 'dead-lettered'), enough.promise.then(() => 'redelivered 10 times')]);
      await router.stop();
      expect({ order, outcome }).toEqual({ order, outcome: dlqExpected ? 'dead-lettered' : 'redelivered 10 times' });
      if (dlqExpected) expect(deliveries).toBe(1); // both attempts within the first delivery
    }
  });

  it('warns when idempotency() runs outside retry() or deadLetter()', async () => {
    const warnings = await warningsOf([retry()], [idempotency({ store: memoryIdempotencyStore() }), deadLetter()]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^middleware order of handler "b": idempotency\(\) comes before deadLetter\(\) in use\(\)/);
    expect(warnings[0]).toMatch(/replaying it from the DLQ is skipped as a duplicate/);
  });

  it('warns when circuitBreaker() runs inside timeout() — also when the breaker is in a route’s use and the timeout in router.use', async () => {
    const warnings = await warningsOf([retry(), deadLetter(), timeout(5_000)], [circuitBreaker()]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^middleware order of handler "b": circuitBreaker\(\) comes after timeout\(\) in use\(\)/);
    expect(warnings[0]).toMatch(/never opens the circuit.*retried and dead-lettered/);
  });

  it('in that order a hanging downstream never opens the circuit and its message is dead-lettered; before timeout() the circuit opens and holds it', async () => {
    for (const order of ['warned', 'recommended'] as const) {
      const bus = memory();
      const topic = `order-test.${process.pid}.${++seq}`;
      const dead: unknown[] = [];
      await bus.subscribe(`${topic}.dlq`, { group: 'w', from: 'earliest' }, async (m) => void dead.push(m));
      const breaker = circuitBreaker({ failureThreshold: 2, resetTimeoutMs: 60_000 });
      const timedOut = Promise.withResolvers<void>();
      let attempts = 0;
      const layers = order === 'warned' ? [timeout(20), breaker] : [breaker, timeout(20)];
      const router = new Router({ logger: { debug() {}, info() {}, warn() {}, error() {} } })
        .use(retry({ attempts: 4, initialDelayMs: 1 }), deadLetter({ maxAttempts: 4 }))
        .handle('hangs', { from: bus, topic, group: 'g', use: layers }, async (_msg, ctx) => {
          if (++attempts === 4) timedOut.resolve();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          throw ctx.signal.reason;
        });
      await router.start();
      await bus.publish(topic, { payload: new Uint8Array([1]) });
      // Recommended: two timeouts open the circuit, which then holds the message (no third attempt).
      // Warned: every attempt times out with the circuit closed, and the fourth is dead-lettered.
      const outcome = await Promise.race([
        timedOut.promise.then(() => 'four attempts timed out'),
        new Promise<string>((resolve) => breaker.on((e) => e.type === 'open' && resolve('opened'))),
      ]);
      if (order === 'warned') {
        expect(outcome).toBe('four attempts timed out');
        await expect.poll(() => dead.length).toBe(1);
      } else {
        expect(outcome).toBe('opened');
        expect(attempts).toBe(2);
      }
      await router.stop();
      if (order === 'recommended') expect(dead).toHaveLength(0);
    }
  });

  it('says nothing about the recommended order, either order of retry() and deadLetter(), or a middleware of the user’s own that is also called timeout', async () => {
    const store = memoryIdempotencyStore();
    expect(await warningsOf([retry(), deadLetter(), timeout(5_000), idempotency({ store })])).toEqual([]);
    expect(await warningsOf([deadLetter(), retry()], [circuitBreaker(), timeout(5_000), idempotency({ store })])).toEqual([]);
    const own: Middleware = async function timeout(_msg, _ctx, next) {
      await next();
    };
    expect(await warningsOf([own, retry(), deadLetter()])).toEqual([]);
  });
});
