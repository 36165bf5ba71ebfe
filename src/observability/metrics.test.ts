import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.ts';
import { circuitBreaker } from '../middleware/circuit-breaker.ts';
import { retry } from '../middleware/retry.ts';
import { Router } from '../router/router.ts';
import { Inbox } from '../testing/inbox.ts';
import { embedded } from '../transports/embedded/index.ts';
import { memory } from '../transports/memory/index.ts';
import { observeCircuit } from './circuit.ts';
import { METRIC_NAMES } from './metric-names.ts';
import { metricSet } from './metric-set.ts';
import { metricsHandler } from './metrics-handler.ts';
import { instrument } from './instrument.ts';
import { CACHED_TOPICS_PER_HANDLER, cachedTopicCount, metrics } from './metrics.ts';
import { expectKnownWorkload, knownWorkload, parseProm, quiet, scrape, serve, valueOf } from './harness.test-support.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
let seq = 0;
const topicName = (name: string): string => `obs-test.${process.pid}.${++seq}.${name}`;

describe('metrics', () => {
  it('counts a known workload on the memory transport and serves it at /metrics over HTTP', async () => {
    const bus = memory();
    cleanups.push(() => bus.close());
    const topic = topicName('orders');
    expectKnownWorkload(await knownWorkload(bus, topic), 'memory', topic);
  });

  it('counts the same workload with the same names on the embedded broker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-obs-metrics-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const bus = embedded({ dir });
    cleanups.push(() => bus.close());
    const topic = topicName('orders');
    expectKnownWorkload(await knownWorkload(bus, topic), 'embedded', topic);
  });

  it('does not count twice when scraped twice', async () => {
    const registry = new Registry();
    const bus = memory();
    cleanups.push(() => bus.close());
    const s = metricSet(registry).consumeSeries('memory', 't', 'g', 'h');
    s.consumed += 3;
    const http = await serve(metricsHandler({ registry }));
    cleanups.push(http.close);
    expect(valueOf(await scrape(http.url('/metrics')), METRIC_NAMES.consumed, { handler: 'h' })).toBe(3);
    s.consumed += 2;
    expect(valueOf(await scrape(http.url('/metrics')), METRIC_NAMES.consumed, { handler: 'h' })).toBe(5);
    const post = await fetch(http.url('/metrics'), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('counts a delivery that failed and came back from the transport as failed, then acked', async () => {
    const registry = new Registry();
    const bus = memory();
    const topic = topicName('flaky');
    const done = new Inbox();
    const router = new Router({ logger: quiet, closeTransports: false });
    router.use(metrics({ registry }));
    router.handle('flaky', { from: bus, topic, group: 'g' }, async (msg) => {
      if (msg.attempt === 1) throw new Error('first time fails');
      done.push({ ...msg, payload: msg.bytes });
    });
    await router.start();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
    });
    await bus.publish(topic, [{ payload: new Uint8Array([1]) }, { payload: new Uint8Array([2]) }]);
    await done.untilCount(2, 10_000);
    await router.stop();
    const samples = parseProm(await registry.metrics());
    const route = { transport: 'memory', topic, group: 'g', handler: 'flaky' };
    expect(valueOf(samples, METRIC_NAMES.consumed, route)).toBe(4);
    expect(valueOf(samples, METRIC_NAMES.failed, route)).toBe(2);
    expect(valueOf(samples, METRIC_NAMES.acked, route)).toBe(2);
  });

  it('leading the chain counts each delivery once, retries as retried; inside retry() it counts each attempt', async () => {
    const outer = new Registry();
    const inner = new Registry();
    const bus = memory();
    const topic = topicName('retried');
    const done = new Inbox();
    const router = new Router({ logger: quiet, closeTransports: false });
    router.use(metrics({ registry: outer }), retry({ attempts: 2, initialDelayMs: 1 }), metrics({ registry: inner }));
    const attempts = new Map<string, number>();
    router.handle('twice', { from: bus, topic, group: 'g' }, async (msg) => {
      const n = (attempts.get(msg.id) ?? 0) + 1;
      attempts.set(msg.id, n);
      if (n === 1) throw new Error('first attempt fails');
      done.push({ ...msg, payload: msg.bytes });
    });
    await router.start();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
    });
    await bus.publish(topic, Array.from({ length: 3 }, () => ({ payload: new Uint8Array(1) })));
    await done.untilCount(3, 10_000);
    await router.stop();
    const byOuter = parseProm(await outer.metrics());
    const byInner = parseProm(await inner.metrics());
    const route = { handler: 'twice' };
    expect([METRIC_NAMES.consumed, METRIC_NAMES.acked, METRIC_NAMES.failed, METRIC_NAMES.retried].map((m) => valueOf(byOuter, m, route))).toEqual([3, 3, 0, 3]);
    expect([METRIC_NAMES.consumed, METRIC_NAMES.acked, METRIC_NAMES.failed].map((m) => valueOf(byInner, m, route))).toEqual([6, 3, 3]);
    expect(valueOf(byOuter, `${METRIC_NAMES.handlerDuration}_count`, route)).toBe(3);
  });

  it('times one delivery in timeEvery for the histograms and still counts every one', async () => {
    const registry = new Registry();
    const bus = memory();
    const topic = topicName('sampled');
    const done = new Inbox();
    const router = new Router({ logger: quiet, closeTransports: false });
    router.use(metrics({ registry, timeEvery: 5 }));
    router.handle('sampled', { from: bus, topic, group: 'g' }, async (msg) => done.push({ ...msg, payload: msg.bytes }));
    await router.start();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
    });
    await bus.publish(topic, Array.from({ length: 10 }, () => ({ payload: new Uint8Array(1) })));
    await done.untilCount(10, 10_000);
    await router.stop();
    const samples = parseProm(await registry.metrics());
    expect(valueOf(samples, METRIC_NAMES.acked, { handler: 'sampled' })).toBe(10);
    expect(valueOf(samples, `${METRIC_NAMES.handlerDuration}_count`, { handler: 'sampled' })).toBe(2);
    expect(valueOf(samples, `${METRIC_NAMES.endToEndLatency}_count`, { handler: 'sampled' })).toBe(2);
    expect(() => metrics({ registry, timeEvery: 0 })).toThrow(/timeEvery must be 'auto' or a whole number ≥ 1, got 0/);
  });

  it('folds topics into the label topicLabel gives, on both sides, and falls back to the topic when it fails', async () => {
    const registry = new Registry();
    const bus = instrument(memory(), { registry, topicLabel: (topic) => topic.replace(/^(.*)\.tenant-\d+$/, '$1.tenant-*') });
    const base = topicName('orders');
    const warnings: string[] = [];
    const done = new Inbox();
    const router = new Router({ logger: { ...quiet, warn: (line) => warnings.push(line) }, closeTransports: false });
    router.use(metrics({ registry, topicLabel: (topic, route) => (topic.endsWith('.tenant-3') ? (undefined as unknown as string) : route) }));
    router.handle('tenants', { from: bus, topic: `${base}.*`, group: 'g' }, async (msg) => done.push({ ...msg, payload: msg.bytes }));
    await router.start();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
    });
    for (const tenant of [1, 2, 3]) await bus.publish(`${base}.tenant-${tenant}`, Array.from({ length: tenant }, () => ({ payload: new Uint8Array(1) })));
    await done.untilCount(6, 10_000);
    await router.stop();
    const samples = parseProm(await registry.metrics());
    // Consumed: tenants 1 and 2 under the route's pattern; tenant 3's label function failed, so its own topic.
    expect(valueOf(samples, METRIC_NAMES.acked, { handler: 'tenants', topic: `${base}.*` })).toBe(3);
    expect(valueOf(samples, METRIC_NAMES.acked, { handler: 'tenants', topic: `${base}.tenant-3` })).toBe(3);
    expect(warnings).toEqual([`metrics: topicLabel returned undefined for topic "${base}.tenant-3"; labelling its series with the topic itself`]);
    // Published: all three tenants folded into one series.
    expect(valueOf(samples, METRIC_NAMES.published, { transport: 'memory', topic: `${base}.tenant-*` })).toBe(6);
    expect(() => metrics({ registry, topicLabel: 'route' as never })).toThrow(/topicLabel must be a function, got string/);
  });

  it('keeps its topic cache bounded over an open-ended topic set that topicLabel folds, and counts every topic in the one series', async () => {
    const registry = new Registry();
    const bus = memory();
    const base = topicName('orders');
    const tenants = 50_000;
    let handled = 0;
    let allHandled!: () => void;
    const done = new Promise<void>((resolve) => (allHandled = resolve));
    const router = new Router({ logger: quiet, closeTransports: false });
    const middleware = metrics({ registry, topicLabel: (_topic, route) => route });
    router.use(middleware);
    router.handle('tenants', { from: bus, topic: `${base}.*`, group: 'g' }, async () => {
      if (++handled === tenants + 2) allHandled();
    });
    await router.start();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
    });
    // Tenant 0 before and after all the others: its cache entry is long gone the second time.
    await bus.publish(`${base}.tenant-0`, { payload: new Uint8Array(1) });
    for (let tenant = 1; tenant < tenants; tenant++) await bus.publish(`${base}.tenant-${tenant}`, { payload: new Uint8Array(1) });
    await bus.publish(`${base}.tenant-0`, [{ payload: new Uint8Array(1) }, { payload: new Uint8Array(1) }]);
    await done;
    await router.stop();
    expect(cachedTopicCount(middleware, 'tenants')).toBeGreaterThan(0);
    expect(cachedTopicCount(middleware, 'tenants')).toBeLessThanOrEqual(CACHED_TOPICS_PER_HANDLER);
    const samples = parseProm(await registry.metrics());
    const consumed = samples.filter((s) => s.name === METRIC_NAMES.consumed && s.labels.handler === 'tenants');
    expect(consumed.map((s) => [s.labels.topic, s.value])).toEqual([[`${base}.*`, tenants + 2]]);
    expect(valueOf(samples, METRIC_NAMES.acked, { handler: 'tenants' })).toBe(tenants + 2);
    expect(valueOf(samples, METRIC_NAMES.inFlight, { handler: 'tenants' })).toBe(0);
  });

  it('exports a circuit breaker state as 0 closed, 2 open', async () => {
    const registry = new Registry();
    const breaker = circuitBreaker({ failureThreshold: 1, resetTimeoutMs: 60_000 });
    const stop = observeCircuit(breaker, { name: 'payments', registry });
    cleanups.push(async () => stop());
    const bus = memory();
    const topic = topicName('cb');
    const router = new Router({ logger: quiet, closeTransports: false, drainTimeoutMs: 50 });
    router.handle('pay', { from: bus, topic, group: 'g', use: [breaker] }, async () => {
      throw new Error('down');
    });
    await router.start();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
    });
    const read = async () => valueOf(parseProm(await registry.metrics()), METRIC_NAMES.circuitState, { circuit: 'payments' });
    expect(await read()).toBe(0);
    const opened = new Promise<void>((resolve) => breaker.on((e) => e.type === 'open' && resolve()));
    await bus.publish(topic, { payload: new Uint8Array([1]) });
    await opened;
    expect(await read()).toBe(2);
  });

  it('refuses a registry where something else registered a Switchyard metric name, and shares one set per registry', () => {
    const taken = new Registry();
    new Counter({ name: METRIC_NAMES.consumed, help: 'not ours', registers: [taken] });
    expect(() => metricSet(taken)).toThrow(/switchyard_messages_consumed_total" is already registered/);
    const ours = new Registry();
    expect(metricSet(ours)).toBe(metricSet(ours));
  });

  it('uses the buckets metrics() asks for when instrument() registered the metrics first, and refuses other buckets later', async () => {
    const registry = new Registry();
    const bus = instrument(memory(), { registry }); // registers the set with the default buckets
    const topic = topicName('buckets');
    const done = new Inbox();
    const router = new Router({ logger: quiet, closeTransports: false });
    router.use(metrics({ registry, buckets: [0.5, 120], timeEvery: 1 }));
    router.handle('slow-buckets', { from: bus, topic, group: 'g' }, async (msg) => done.push({ ...msg, payload: msg.bytes }));
    await router.start();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
    });
    await bus.publish(topic, { payload: new Uint8Array(1) });
    await done.untilCount(1, 10_000);
    await router.stop();
    const les = parseProm(await registry.metrics())
      .filter((s) => s.name === `${METRIC_NAMES.handlerDuration}_bucket` && s.labels.handler === 'slow-buckets')
      .map((s) => s.labels.le);
    expect(les).toEqual(['0.5', '120', '+Inf']);
    expect(() => metrics({ registry, buckets: [0.5, 120] })).not.toThrow();
    expect(() => metrics({ registry, buckets: [1, 2] })).toThrow(/histogram buckets were chosen already \(\[0\.5,120\]\); pass the same buckets/);
    const inUse = new Registry();
    metricSet(inUse).consumeSeries('memory', 't', 'g', 'h');
    expect(() => metrics({ registry: inUse, buckets: [1, 2] })).toThrow(/histogram buckets are in use already/);
  });

  it('refuses histogram buckets that are not finite, positive, increasing and distinct, registering nothing', async () => {
    const registry = new Registry();
    for (const buckets of [[1, Infinity], [Number.NaN], [0.5, 2, 1], [1, 1], [0, 1], [-1], [], ['1']] as unknown as number[][]) {
      expect(() => metrics({ registry, buckets }), JSON.stringify(buckets)).toThrow(ConfigError);
    }
    expect(() => metrics({ registry, buckets: [1, Infinity] })).toThrow(/buckets must be finite positive numbers of seconds in increasing order.*got \[1, Infinity\]/);
    expect(registry.getMetricsAsArray()).toEqual([]);
    // The same registry still takes good buckets, and the scrape ends in exactly one +Inf bucket.
    const set = metricSet(registry, [1, 10]);
    set.consumeSeries('memory', 't', 'g', 'h').duration.observe(0.5);
    const les = parseProm(await registry.metrics())
      .filter((s) => s.name === `${METRIC_NAMES.handlerDuration}_bucket`)
      .map((s) => s.labels.le);
    expect(les).toEqual(['1', '10', '+Inf']);
  });

  it('keeps its own copy of the buckets it was given', () => {
    const registry = new Registry();
    const buckets = [1, 10];
    const set = metricSet(registry, buckets);
    buckets.push(100);
    expect(set.bounds).toEqual([1, 10]);
  });

  it('registers its metrics again after registry.clear()', async () => {
    const registry = new Registry();
    const before = metricSet(registry);
    registry.clear(); // as tests sharing prom-client's global register do between cases
    const bus = memory();
    const topic = topicName('cleared');
    const done = new Inbox();
    const router = new Router({ logger: quiet, closeTransports: false });
    router.use(metrics({ registry }));
    router.handle('after-clear', { from: bus, topic, group: 'g' }, async (msg) => done.push({ ...msg, payload: msg.bytes }));
    await router.start();
    cleanups.push(async () => {
      await router.stop();
      await bus.close();
    });
    await bus.publish(topic, { payload: new Uint8Array(1) });
    await done.untilCount(1, 10_000);
    await router.stop();
    expect(valueOf(parseProm(await registry.metrics()), METRIC_NAMES.acked, { handler: 'after-clear' })).toBe(1);
    expect(metricSet(registry)).not.toBe(before);
    expect(metricSet(registry)).toBe(metricSet(registry));
  });
});
