import { afterEach, describe, expect, it } from 'vitest';
import type { Transport } from '../core/transport.ts';
import { faultProxy, type FaultProxy } from '../testing/fault-proxy.ts';
import { kafka } from '../transports/kafka/index.ts';
import { startOwnCluster, usingMock } from '../transports/kafka/test-cluster.ts';
import { nats } from '../transports/nats/index.ts';
import { DEFAULT_NATS_URL } from '../transports/nats/options.ts';
import { defaultAmqpUrl, rabbitmq } from '../transports/rabbitmq/index.ts';
import { health, type HealthReport } from './health.ts';
import { instrument } from './instrument.ts';

// Against the real brokers (SWITCHYARD_AMQP_URL, SWITCHYARD_NATS_URL), reached through a TCP proxy
// that the test stops ("the broker is gone") and starts again on the same port. Kafka: a private
// librdkafka mock cluster (NOT Apache Kafka) whose brokers the test takes down and brings back up
// (a proxy cannot stand in for a Kafka cluster: clients connect to the addresses it advertises).

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** Polls `h.check()` until `done(report)` or `withinMs`; returns the last report. */
async function until(check: () => Promise<HealthReport>, done: (r: HealthReport) => boolean, withinMs: number): Promise<HealthReport> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const report = await check();
    if (done(report) || Date.now() >= deadline) return report;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function target(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url.includes('://') ? url : `nats://${url}`);
  return { host: u.hostname, port: Number(u.port || defaultPort) };
}

/** Ready → broker gone → not ready within a bounded wait → broker back → ready again. */
async function goneAndBack(bus: Transport, broker: { host: string; port: number }, proxy: FaultProxy): Promise<void> {
  const wrapped = instrument(bus, { registry: false });
  const h = health({ transports: [wrapped], timeoutMs: 500 });
  await bus.connect();
  expect(bus.connected).toBe(true);
  expect(wrapped.connected).toBe(true);
  expect(await h.check()).toMatchObject({ live: true, ready: true });

  await proxy.close(); // connections reset, nothing listening: the broker is gone
  const gone = await until(() => h.check(), (r) => !r.ready, 10_000);
  expect(gone).toMatchObject({ live: true, ready: false, components: [{ kind: 'transport', live: true, ready: false }] });
  expect(gone.components[0]!.detail).toMatch(/disconnected/);
  expect(bus.connected).toBe(false);
  expect(wrapped.connected).toBe(false);
  // Not waiting for a probe: the answer comes at once, well within timeoutMs.
  const t0 = performance.now();
  expect((await h.check()).ready).toBe(false);
  expect(performance.now() - t0).toBeLessThan(250);

  const back = await faultProxy({ target: broker, listen: { port: proxy.port } });
  cleanups.push(() => back.close());
  const ready = await until(() => h.check(), (r) => r.ready, 20_000);
  expect(ready).toMatchObject({ live: true, ready: true });
  expect(bus.connected).toBe(true);
}

describe('health of a transport whose broker goes away', () => {
  it('NATS: ready, not ready once the connection dropped, ready again after it reconnected', async () => {
    const broker = target(process.env['SWITCHYARD_NATS_URL']?.split(',')[0] ?? DEFAULT_NATS_URL, 4222);
    const proxy = await faultProxy({ target: broker });
    cleanups.push(() => proxy.close());
    const bus = nats({
      servers: `${proxy.host}:${proxy.port}`,
      mode: 'core',
      reconnect: { waitMs: 100, jitterMs: 0, pingIntervalMs: 1_000, maxPingsOut: 2, maxReconnects: -1 },
    });
    cleanups.push(() => bus.close());
    expect(bus.connected).toBe(false); // before connect()
    await goneAndBack(bus, broker, proxy);
    await bus.close();
    expect(bus.connected).toBe(false);
  });

  it('RabbitMQ: not ready while connecting, ready, not ready once the connection dropped, ready again after it reconnected', async () => {
    const broker = target(defaultAmqpUrl(), 5672);
    const proxy = await faultProxy({ target: broker });
    cleanups.push(() => proxy.close());
    const url = new URL(defaultAmqpUrl());
    url.hostname = proxy.host;
    url.port = String(proxy.port);
    const bus = rabbitmq({ url: url.href, reconnectDelayMs: { min: 100, max: 500 }, heartbeatSeconds: 2 });
    cleanups.push(() => bus.close());
    expect(bus.connected).toBe(false);
    // A transport not connected yet is not ready; the check starts connecting it.
    const first = await health({ transports: [bus] }).check();
    expect(first.ready).toBe(false);
    expect(first.components[0]!.detail).toMatch(/connecting/);
    await goneAndBack(bus, broker, proxy);
    await bus.close();
    expect(bus.connected).toBe(false);
  });

  it.skipIf(!usingMock())('Kafka: not ready while connecting, ready, not ready once every broker is down, ready again once they are back', async () => {
    const cluster = await startOwnCluster();
    cleanups.push(() => cluster.stop());
    const bus = kafka({ brokers: cluster.brokers, connectTimeoutMs: 1_000, requestTimeoutMs: 1_000 });
    cleanups.push(() => bus.close());
    const wrapped = instrument(bus, { registry: false });
    const h = health({ transports: [wrapped], timeoutMs: 500 });
    expect(bus.connected).toBe(false);
    // A transport not connected yet is not ready; the check starts connecting it.
    const first = await h.check();
    expect(first.ready).toBe(false);
    expect(first.components[0]!.detail).toMatch(/disconnected/);
    expect(await until(() => h.check(), (r) => r.ready, 10_000)).toMatchObject({ live: true, ready: true });
    expect(wrapped.connected).toBe(true);

    const brokers = [1, 2, 3];
    try {
      for (const id of brokers) await cluster.control(`broker-down ${id}`);
      const gone = await until(() => h.check(), (r) => !r.ready, 10_000);
      expect(gone).toMatchObject({ live: true, ready: false, components: [{ kind: 'transport', live: true, ready: false }] });
      expect(gone.components[0]!.detail).toMatch(/disconnected/);
      expect(wrapped.connected).toBe(false);
      // Not waiting for a probe: the answer comes at once, well within timeoutMs.
      const t0 = performance.now();
      expect((await h.check()).ready).toBe(false);
      expect(performance.now() - t0).toBeLessThan(250);
    } finally {
      for (const id of brokers) await cluster.control(`broker-up ${id}`);
    }
    expect(await until(() => h.check(), (r) => r.ready, 20_000)).toMatchObject({ live: true, ready: true });
    expect(bus.connected).toBe(true);
    await bus.close();
    expect(bus.connected).toBe(false);
    expect((await h.check()).components[0]).toMatchObject({ live: false, ready: false });
  });
});
