import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Transport } from '../core/transport.ts';
import { Inbox } from '../testing/inbox.ts';
import { embedded } from '../transports/embedded/index.ts';
import { memory } from '../transports/memory/index.ts';
import { lagMonitor, type LagEvent, type LagReading, type LagSource } from './lag.ts';
import { embeddedLagSource, kafkaLagSource, memoryLagSource } from './lag-sources.ts';
import { METRIC_NAMES } from './metric-names.ts';
import { parseProm, valueOf } from './harness.test-support.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
let seq = 0;
const topicName = (name: string): string => `lag-test.${process.pid}.${++seq}.${name}`;

/** A source whose readings the test sets. */
function scripted(): LagSource & { set(r: Partial<LagReading>): void; fail?: Error } {
  let reading: LagReading = { transport: 'test', topic: 't', group: 'g', messages: 0 };
  const source = {
    name: 'scripted',
    fail: undefined as Error | undefined,
    set(r: Partial<LagReading>) {
      reading = { ...reading, ...r };
    },
    async read() {
      if (source.fail) throw source.fail;
      return [{ ...reading }];
    },
  };
  return source;
}

/**
 * Publishes `n`, lets the group acknowledge `m` and holds the next one in its handler, so the
 * group is exactly `n - m` behind; `release()` lets it drain.
 */
async function backlog(bus: Transport, topic: string, n: number, m: number): Promise<{ release(): void; drained: Promise<void> }> {
  const handled = new Inbox();
  const gate = Promise.withResolvers<void>();
  const held = Promise.withResolvers<void>();
  const sub = await bus.subscribe(topic, { group: 'billing', from: 'earliest' }, async (msg) => {
    if (handled.messages.length === m) {
      // With concurrency 1 this delivery comes only after the previous one was acknowledged.
      held.resolve();
      await gate.promise;
    }
    handled.push(msg);
  });
  cleanups.push(() => gate.resolve());
  await bus.publish(topic, Array.from({ length: n }, (_, i) => ({ payload: new Uint8Array([i]) })));
  await held.promise;
  // Drained: every message handled and (closing the subscription waits for it) acknowledged.
  const drained = handled.untilCount(n, 10_000).then(() => sub.close());
  return { release: () => gate.resolve(), drained };
}

describe('lag monitor', () => {
  it('raises lag.high once when a threshold is crossed and lag.recovered once below the recovery threshold (hysteresis)', async () => {
    const source = scripted();
    const registry = new Registry();
    const monitor = lagMonitor({ sources: [source], high: { messages: 100 }, registry });
    const events: LagEvent[] = [];
    monitor.on((e) => events.push(e));
    for (const messages of [10, 100, 150, 60, 99, 120, 50, 0, 10]) {
      source.set({ messages });
      await monitor.sample();
    }
    expect(events.map((e) => `${e.type}@${e.type === 'lag.error' ? '' : e.reading.messages}`)).toEqual(['lag.high@100', 'lag.recovered@50']);
    const samples = parseProm(await registry.metrics());
    expect(valueOf(samples, METRIC_NAMES.consumerLag, { transport: 'test', topic: 't', group: 'g' })).toBe(10);
    expect(valueOf(samples, METRIC_NAMES.alerts, { type: 'lag.high', rule: 'lag' })).toBe(1);
    expect(valueOf(samples, METRIC_NAMES.alerts, { type: 'lag.recovered', rule: 'lag' })).toBe(1);
  });

  it('judges the age of the oldest unconsumed message too, and reports read errors as lag.error', async () => {
    const source = scripted();
    const monitor = lagMonitor({ sources: [source], high: { ageMs: 60_000 }, registry: false });
    const events: LagEvent[] = [];
    monitor.on((e) => events.push(e));
    source.set({ messages: 3, oldestAgeMs: 61_000 });
    await monitor.sample();
    expect(monitor.lagging).toHaveLength(1);
    source.fail = new Error('broker unreachable');
    await monitor.sample();
    source.fail = undefined;
    source.set({ messages: 0, oldestAgeMs: 0 });
    await monitor.sample();
    expect(events.map((e) => e.type)).toEqual(['lag.high', 'lag.error', 'lag.recovered']);
    expect(monitor.lagging).toHaveLength(0);
  });

  it('closes the alert of a lagging group that is no longer reported (lag.recovered, gone), so alerts stay balanced', async () => {
    const groups = new Map<string, number>([['billing', 500], ['shipping', 0]]);
    const source: LagSource = { name: 'groups', read: async () => [...groups].map(([group, messages]) => ({ transport: 'test', topic: 't', group, messages })) };
    const registry = new Registry();
    const monitor = lagMonitor({ sources: [source], high: { messages: 100 }, registry });
    const events: LagEvent[] = [];
    monitor.on((e) => events.push(e));
    await monitor.sample();
    groups.delete('billing'); // deleted, or its subscription closed
    await monitor.sample();
    await monitor.sample();
    expect(events.map((e) => [e.type, e.type === 'lag.error' ? '' : e.reading.group, e.type === 'lag.recovered' ? e.gone : undefined])).toEqual([
      ['lag.high', 'billing', undefined],
      ['lag.recovered', 'billing', true],
    ]);
    expect(monitor.lagging).toEqual([]);
    const samples = parseProm(await registry.metrics());
    expect(valueOf(samples, METRIC_NAMES.alerts, { type: 'lag.recovered', rule: 'lag' })).toBe(1);
  });

  it('does not flap when the recovery thresholds leave one out, or the age is sometimes unknown', async () => {
    const flaps = async (options: Parameters<typeof lagMonitor>[0], readings: Array<Partial<LagReading>>): Promise<string[]> => {
      const source = options.sources[0] as ReturnType<typeof scripted>;
      const monitor = lagMonitor(options);
      const events: string[] = [];
      monitor.on((e) => events.push(e.type));
      for (const r of readings) {
        source.set(r);
        await monitor.sample();
      }
      return events;
    };
    // recovered names only the age: the messages threshold still has to be met (half of high).
    const partial = scripted();
    expect(await flaps({ sources: [partial], high: { messages: 100, ageMs: 60_000 }, recovered: { ageMs: 1_000 }, registry: false }, [
      { messages: 500, oldestAgeMs: 500 },
      { messages: 500, oldestAgeMs: 500 },
      { messages: 500, oldestAgeMs: 500 },
      { messages: 40, oldestAgeMs: 500 },
    ])).toEqual(['lag.high', 'lag.recovered']);
    // A reading without an age says nothing about an age threshold; an empty backlog has recovered.
    const ageless = scripted();
    expect(await flaps({ sources: [ageless], high: { ageMs: 1_000 }, registry: false }, [
      { messages: 5, oldestAgeMs: 5_000 },
      { messages: 5, oldestAgeMs: undefined },
      { messages: 5, oldestAgeMs: 5_000 },
      { messages: 0, oldestAgeMs: undefined },
    ])).toEqual(['lag.high', 'lag.recovered']);
  });

  it('counts a read that does not answer within readTimeoutMs as failed (lag.error, TimeoutError), and asks again only once it settled', async () => {
    // A source whose client waits for a broker that went away: its read settles only when told.
    let reads = 0;
    const answer = Promise.withResolvers<LagReading[]>();
    const hanging: LagSource = {
      name: 'hanging',
      read: () => {
        reads++;
        return answer.promise;
      },
    };
    const monitor = lagMonitor({ sources: [hanging], readTimeoutMs: 50, registry: false });
    const events: LagEvent[] = [];
    monitor.on((e) => events.push(e));
    expect(await monitor.sample()).toEqual([]);
    expect(events).toMatchObject([{ type: 'lag.error', source: 'hanging', error: { name: 'TimeoutError' } }]);
    expect(await monitor.sample()).toEqual([]); // the read still running is waited on again, not doubled
    expect(reads).toBe(1);
    answer.resolve([{ transport: 'test', topic: 't', group: 'g', messages: 3 }]);
    expect(await monitor.sample()).toMatchObject([{ topic: 't', group: 'g', messages: 3 }]);
  });

  it('refuses thresholds that would flap: high 0, or recovery at or above high', () => {
    expect(() => lagMonitor({ sources: [scripted()], high: { messages: 0 } })).toThrow(/high.messages must be > 0/);
    expect(() => lagMonitor({ sources: [scripted()], high: { messages: 100, ageMs: 1_000 }, recovered: { messages: 100, ageMs: 2_000 } })).toThrow(
      /2 problems[\s\S]*recovered.messages \(100\) must be below high.messages[\s\S]*recovered.ageMs \(2000\) must be below high.ageMs/,
    );
  });

  it('reports every configuration problem at once', () => {
    expect(() => lagMonitor({ sources: [], intervalMs: 0, high: {} })).toThrow(/3 problems/);
    expect(() => lagMonitor({ sources: [scripted(), scripted()] })).toThrow(/"scripted" appears more than once; give each its own name/);
  });

  it('refuses an interval or read timeout past the timer limit, which Node would fire every millisecond', () => {
    expect(() => lagMonitor({ sources: [scripted()], intervalMs: 2 ** 31, registry: false })).toThrow(/intervalMs must be a number of ms above 0, up to 2147483647, got 2147483648/);
    expect(() => lagMonitor({ sources: [scripted()], readTimeoutMs: 0, registry: false })).toThrow(/readTimeoutMs must be a number of ms above 0, up to 2147483647, got 0/);
    expect(() => lagMonitor({ sources: [scripted()], intervalMs: 2 ** 31 - 1, registry: false })).not.toThrow();
  });

  it('stop() takes the monitor\'s lag series off /metrics (no frozen lag), also when a sample was in progress; sample() brings them back', async () => {
    const registry = new Registry();
    const source = scripted();
    source.set({ messages: 7, oldestAgeMs: 2_000 });
    const other = lagMonitor({ sources: [{ name: 'other', read: async () => [{ transport: 'test', topic: 't', group: 'audit', messages: 1 }] }], registry });
    await other.sample();
    const monitor = lagMonitor({ sources: [source], registry });
    monitor.start();
    await monitor.sample();
    const lagOf = async (group: string) => {
      const samples = parseProm(await registry.metrics());
      return [valueOf(samples, METRIC_NAMES.consumerLag, { group }), valueOf(samples, METRIC_NAMES.consumerLagAge, { group })];
    };
    expect(await lagOf('g')).toEqual([7, 2]);
    monitor.stop();
    expect(await lagOf('g')).toEqual([undefined, undefined]);
    expect(await lagOf('audit')).toEqual([1, undefined]); // another monitor's series stay
    // A sample that was reading when stop() came completes without exporting.
    const reading = Promise.withResolvers<void>();
    const gate = Promise.withResolvers<void>();
    const slow: LagSource = { name: 'slow', read: async () => (reading.resolve(), await gate.promise, [{ transport: 'test', topic: 't', group: 'slow', messages: 3 }]) };
    const stopping = lagMonitor({ sources: [slow], registry });
    const sampled = stopping.sample();
    await reading.promise;
    stopping.stop();
    gate.resolve();
    expect(await sampled).toMatchObject([{ group: 'slow', messages: 3 }]);
    expect(await lagOf('slow')).toEqual([undefined, undefined]);
    // Sampling again exports again.
    await monitor.sample();
    expect(await lagOf('g')).toEqual([7, 2]);
    monitor.stop();
  });

  it('keeps the same group and topic read by two sources apart on /metrics, by a source label', async () => {
    const registry = new Registry();
    const reads = (name: string, messages: number): LagSource => ({ name, read: async () => [{ transport: 'kafka', topic: 'orders', group: 'billing', messages }] });
    await lagMonitor({ sources: [reads('kafka-eu', 4), reads('kafka-us', 9)], registry }).sample();
    const samples = parseProm(await registry.metrics());
    expect(samples.filter((s) => s.name === METRIC_NAMES.consumerLag).map((s) => [s.labels['source'], s.value])).toEqual([
      ['kafka-eu', 4],
      ['kafka-us', 9],
    ]);
  });

  it('kafkaLagSource: named by its group unless given a name; an empty name is refused', () => {
    const connection = { brokers: ['127.0.0.1:9092'] };
    expect(kafkaLagSource(connection, 'billing', ['orders']).name).toBe('kafka:billing');
    expect(kafkaLagSource(connection, 'billing', ['orders'], { name: 'kafka-eu' }).name).toBe('kafka-eu');
    expect(() => kafkaLagSource(connection, 'billing', ['orders'], { name: '' })).toThrow('kafkaLagSource: name must be a non-empty string, got ""');
  });

  it('embedded: publish N, consume M, lag reads N − M; lag.high once, lag.recovered once after draining', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-obs-lag-'));
    const bus = embedded({ dir });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => bus.close());
    const topic = topicName('orders');
    const { release, drained } = await backlog(bus, topic, 50, 20);
    const monitor = lagMonitor({ sources: [embeddedLagSource(bus, { topics: [topic] })], high: { messages: 25 }, registry: false });
    const events: LagEvent[] = [];
    monitor.on((e) => events.push(e));

    const [reading] = await monitor.sample();
    expect(reading).toMatchObject({ transport: 'embedded', topic, group: 'billing', messages: 30 });
    await monitor.sample();
    expect(events.map((e) => e.type)).toEqual(['lag.high']);

    release();
    await drained;
    expect((await monitor.sample())[0]).toMatchObject({ messages: 0 });
    await monitor.sample();
    expect(events.map((e) => e.type)).toEqual(['lag.high', 'lag.recovered']);
  });
});

// The memory transport's lag comes from MemoryBroker.lag().
describe('memory lag source', () => {
  it('publish N, consume M: lag reads N − M; lag.high once, lag.recovered once after draining', async () => {
    const bus = memory();
    cleanups.push(() => bus.close());
    const topic = topicName('orders');
    const { release, drained } = await backlog(bus, topic, 50, 20);
    const monitor = lagMonitor({ sources: [memoryLagSource(bus, { topics: [topic] })], high: { messages: 25 }, registry: false });
    const events: LagEvent[] = [];
    monitor.on((e) => events.push(e));

    const [reading] = await monitor.sample();
    expect(reading).toMatchObject({ transport: 'memory', topic, group: 'billing', messages: 30 });
    expect(reading!.oldestAgeMs).toBeGreaterThanOrEqual(0);
    await monitor.sample();
    expect(events.map((e) => e.type)).toEqual(['lag.high']);

    release();
    await drained;
    expect((await monitor.sample())[0]).toMatchObject({ messages: 0 });
    await monitor.sample();
    expect(events.map((e) => e.type)).toEqual(['lag.high', 'lag.recovered']);
  });
});
