import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { declareGroup } from '../core/declare-group.ts';
import { faultProxy } from '../testing/fault-proxy.ts';
import { defaultAmqpUrl, rabbitmq, type RabbitMQTransport } from '../transports/rabbitmq/index.ts';
import { deleteDeclared } from '../transports/rabbitmq/test-support.ts';
import { parseProm, valueOf } from './harness.test-support.ts';
import { lagMonitor, type LagEvent } from './lag.ts';
import { rabbitmqLagSource } from './lag-sources.ts';
import { METRIC_NAMES } from './metric-names.ts';

// The lag monitor while the broker is away: RabbitMQ (SWITCHYARD_AMQP_URL) reached through a TCP
// proxy that the test stops ("the broker is gone") and starts again on the same port.
const run = randomBytes(4).toString('hex');
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('lag monitor of a broker that goes away and comes back', () => {
  it('RabbitMQ: reports lag.error rather than wait for the broker, exports no frozen figures meanwhile, keeps the alert open, and reads again once it is back', async () => {
    const broker = new URL(defaultAmqpUrl());
    const target = { host: broker.hostname, port: Number(broker.port || 5672) };
    const proxy = await faultProxy({ target });
    cleanups.push(() => proxy.close());
    const url = new URL(broker.href);
    url.hostname = proxy.host;
    url.port = String(proxy.port);
    const bus: RabbitMQTransport = rabbitmq({ url: url.href, exchange: `switchyard.lag-gone.${run}`, reconnectDelayMs: { min: 50, max: 200 } });
    cleanups.push(() => deleteDeclared([bus]));
    const topic = `lag-gone-${run}.orders`;
    await declareGroup(bus, topic, 'billing');
    await bus.publish(topic, Array.from({ length: 20 }, (_, i) => ({ payload: new Uint8Array([i]) })));

    const registry = new Registry();
    const monitor = lagMonitor({ sources: [rabbitmqLagSource(bus, [{ topic, group: 'billing' }])], high: { messages: 10 }, readTimeoutMs: 1_000, registry });
    const events: LagEvent[] = [];
    monitor.on((e) => events.push(e));
    const lagGauge = async (): Promise<number | undefined> => valueOf(parseProm(await registry.metrics()), METRIC_NAMES.consumerLag, { topic, group: 'billing' });

    expect(await monitor.sample()).toMatchObject([{ topic, group: 'billing', messages: 20 }]);
    expect(await lagGauge()).toBe(20);

    await proxy.close(); // the broker is gone
    // Once the transport knows, the read is refused at once as not connected (a read the client held
    // until it reconnects would give up after readTimeoutMs: lag.test.ts checks that).
    for (const deadline = Date.now() + 10_000; bus.connected && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(bus.connected).toBe(false);
    expect(await monitor.sample()).toEqual([]); // nothing read now: no readings that pass for current ones
    expect(events.map((e) => e.type)).toEqual(['lag.high', 'lag.error']);
    expect(events[1]).toMatchObject({ type: 'lag.error', source: 'rabbitmq', error: { name: 'TransportError', message: expect.stringMatching(/not connected/) } });
    expect(await lagGauge()).toBeUndefined(); // the series goes (Prometheus marks it stale) rather than freeze at 20
    expect(monitor.lagging).toMatchObject([{ topic, group: 'billing', messages: 20 }]); // the alert stays open: no lag.recovered

    const back = await faultProxy({ target, listen: { port: proxy.port } });
    cleanups.push(() => back.close());
    let readings = await monitor.sample();
    for (const deadline = Date.now() + 20_000; readings.length === 0 && Date.now() < deadline; readings = await monitor.sample()) {
      await new Promise((resolve) => setTimeout(resolve, 100)); // reconnecting
    }
    expect(readings).toMatchObject([{ topic, group: 'billing', messages: 20 }]);
    expect(await lagGauge()).toBe(20);
    expect(events.filter((e) => e.type !== 'lag.error').map((e) => e.type)).toEqual(['lag.high']); // still the one episode
    await bus.close();
  }, 60_000);
});
