import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { TransportError } from '../../core/errors.ts';
import { deferred, type Deferred } from '../../internal/deferred.ts';
import { faultProxy } from '../../testing/fault-proxy.ts';
import { rabbitmqLag } from './lag.ts';
import { defaultAmqpUrl, type RabbitMQEvent } from './options.ts';
import { isolatedTransports } from './test-support.ts';

const run = randomBytes(4).toString('hex');
const { open, cleanUp } = isolatedTransports(run);
afterAll(cleanUp);
const broker = new URL(defaultAmqpUrl());
const target = { host: broker.hostname, port: Number(broker.port || 5672) };

/** Resolves on the first event of `type` emitted after it was called. */
function nextEvent(events: { on?: (e: RabbitMQEvent) => void }, type: RabbitMQEvent['type']): Promise<void> {
  const seen = deferred();
  events.on = (e) => {
    if (e.type === type) seen.resolve();
  };
  return seen.promise;
}

describe('rabbitmqLag (local count)', () => {
  it('rejects at once with "not connected" while the connection is down, instead of waiting for the broker', async () => {
    const proxy = await faultProxy({ target });
    const events: { on?: (e: RabbitMQEvent) => void } = {};
    const bus = open({ url: `amqp://guest:guest@${proxy.host}:${proxy.port}`, reconnectDelayMs: { min: 100, max: 500 }, onEvent: (e) => events.on?.(e) });
    const topic = `lag.down.${run}`;
    await using _sub = await bus.subscribe(topic, { group: 'billing' }, async () => undefined);
    expect((await rabbitmqLag(bus, topic, 'billing')).total).toBe(0);
    const down = nextEvent(events, 'disconnected');
    await proxy.close(); // no listener left: every reconnect attempt fails
    await down;
    const error = await rabbitmqLag(bus, topic, 'billing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).message).toMatch(/not connected/);
    expect((error as TransportError).retryable).toBe(true);
  }, 10_000);

  it('counts a message once after a reconnect although its handler still runs from the dead channel', async () => {
    const proxy = await faultProxy({ target });
    const events: { on?: (e: RabbitMQEvent) => void } = {};
    // prefetch 5 < concurrency 10: the 5 redelivered after the reconnect start next to the 5 still running.
    const bus = open({ url: `amqp://guest:guest@${proxy.host}:${proxy.port}`, prefetch: 5, reconnectDelayMs: { min: 100, max: 500 }, onEvent: (e) => events.on?.(e) });
    const topic = `lag.reconnect.${run}`;
    const release = deferred();
    let started = 0;
    const startedAll: Array<{ count: number; reached: Deferred<void> }> = [5, 10].map((count) => ({ count, reached: deferred<void>() }));
    await using _sub = await bus.subscribe(topic, { group: 'billing', concurrency: 10 }, async () => {
      started++;
      for (const s of startedAll) if (started === s.count) s.reached.resolve();
      await release.promise;
    });
    try {
      await bus.publish(topic, Array.from({ length: 20 }, (_, i) => ({ payload: new TextEncoder().encode(`m${i}`) })));
      await startedAll[0]!.reached.promise;
      expect(await rabbitmqLag(bus, topic, 'billing')).toMatchObject({ ready: 15, unacked: 5, total: 20 });
      const recovered = nextEvent(events, 'consumer-recovered');
      proxy.reset(); // the broker requeues the 5 unacknowledged messages; their handlers keep running here
      await recovered;
      await startedAll[1]!.reached.promise; // the 5 requeued ones were delivered again on the new channel
      expect(await rabbitmqLag(bus, topic, 'billing')).toMatchObject({ ready: 15, unacked: 5, total: 20 });
    } finally {
      release.resolve();
      await proxy.close();
    }
  }, 20_000);
});
