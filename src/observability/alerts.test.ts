import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { Router } from '../router/router.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory } from '../transports/memory/index.ts';
import { alertRules, type AlertEvent } from './alerts.ts';
import { instrument } from './instrument.ts';
import { metricSet } from './metric-set.ts';
import { metrics } from './metrics.ts';
import { quiet } from './harness.test-support.ts';

const summary = (events: AlertEvent[]): string[] => events.map((e) => `${e.type} ${e.rule}`);

describe('alert rules', () => {
  it('fires on an error rate over 5 % of a real workload, once, and resolves when it drops', async () => {
    const registry = new Registry();
    const bus = memory();
    const topic = `alerts-test.${process.pid}.errors`;
    const settled = new Inbox();
    let failing = true;
    const router = new Router({ logger: quiet });
    router.use(
      metrics({ registry }),
      async function settle(msg, _ctx, next) {
        try {
          await next();
        } finally {
          settled.push(msg);
        }
      },
    );
    router.handle('flaky', { from: bus, topic, group: 'g' }, async (msg) => {
      if (failing && msg.attempt === 1 && msg.payload[0]! % 10 === 0) throw new Error('down');
    });
    await router.start();
    const rules = alertRules({ registry, latency: false, throughput: false, skew: false });
    await bus.publish(topic, Array.from({ length: 100 }, (_, i) => ({ payload: new Uint8Array([i]) })));
    await settled.untilCount(110, 10_000); // 100 + 10 redeliveries
    const first = rules.evaluate();
    expect(summary(first)).toEqual(['alert.firing error-rate']);
    expect(first[0]!.value).toBeCloseTo(10 / 110);
    failing = false;
    await bus.publish(topic, Array.from({ length: 50 }, (_, i) => ({ payload: new Uint8Array([i]) })));
    await settled.untilCount(160, 10_000);
    expect(summary(rules.evaluate())).toEqual(['alert.resolved error-rate']);
    await router.stop();
  });

  it('fires on mean end-to-end latency over 5 s', () => {
    const registry = new Registry();
    const s = metricSet(registry).consumeSeries('memory', 't', 'g', 'h');
    const rules = alertRules({ registry, errorRate: false, throughput: false, skew: false, latency: { minSamples: 2 } });
    s.latency.observe(6);
    s.latency.observe(7);
    expect(rules.evaluate().map((e) => [e.type, e.rule, e.value])).toEqual([['alert.firing', 'latency', 6500]]);
    s.latency.observe(0.2);
    s.latency.observe(0.4);
    expect(summary(rules.evaluate())).toEqual(['alert.resolved latency']);
  });

  it('does not fire the latency alert on one slow message in an otherwise idle window: it needs 10 timed deliveries by default', () => {
    const registry = new Registry();
    const s = metricSet(registry).consumeSeries('memory', 't', 'g', 'h');
    const rules = alertRules({ registry, errorRate: false, throughput: false, skew: false });
    s.latency.observe(30);
    expect(rules.evaluate()).toEqual([]);
    for (let i = 0; i < 9; i++) s.latency.observe(6);
    expect(rules.evaluate()).toEqual([]); // 9 samples: still too few to judge
    for (let i = 0; i < 10; i++) s.latency.observe(6);
    expect(rules.evaluate().map((e) => [e.type, e.rule, e.value])).toEqual([['alert.firing', 'latency', 6000]]);
    s.latency.observe(0.1);
    expect(rules.evaluate()).toEqual([]); // one fast message does not resolve it either
    expect(summary(rules.firing)).toEqual(['alert.firing latency']);
  });

  it('does not fire the error-rate alert on one failed delivery of one (a 100 % rate of nothing): it needs 20 deliveries by default', () => {
    const registry = new Registry();
    const s = metricSet(registry).consumeSeries('memory', 't', 'g', 'h');
    const rules = alertRules({ registry, latency: false, throughput: false, skew: false });
    s.consumed += 1;
    s.failed += 1;
    expect(rules.evaluate()).toEqual([]);
    s.consumed += 20;
    s.failed += 2;
    expect(summary(rules.evaluate())).toEqual(['alert.firing error-rate']);
  });

  it('closes the error-rate, latency and skew alerts when traffic stops: an empty window is no evidence of errors, slowness or skew', async () => {
    const registry = new Registry();
    const set = metricSet(registry);
    const s = set.consumeSeries('kafka', 't', 'g', 'h');
    const rules = alertRules({ registry, throughput: false, skew: { minMessages: 100 } });
    const bus = instrument(memory(), { registry });
    const t0 = Date.now();
    s.consumed += 100;
    s.failed += 30;
    for (let i = 0; i < 10; i++) s.latency.observe(8);
    s.partitions.push(10, 10, 180);
    await bus.publish('keyed', Array.from({ length: 100 }, () => ({ key: 'hot', payload: new Uint8Array(1) })));
    expect(summary(rules.evaluate(t0 + 60_000)).toSorted()).toEqual(['alert.firing error-rate', 'alert.firing key-skew', 'alert.firing latency', 'alert.firing partition-skew']);

    // Some traffic, too little to judge: the alerts stay as they are.
    s.consumed += 3; // none timed yet
    s.partitions[0]! += 3;
    await bus.publish('keyed', [{ key: 'cold', payload: new Uint8Array(1) }]);
    expect(rules.evaluate(t0 + 120_000)).toEqual([]);

    // No traffic at all: each closes, saying why.
    const resolved = rules.evaluate(t0 + 180_000);
    expect(resolved.map((e) => [e.type, e.rule, e.value, e.message, 'firingForMs' in e && e.firingForMs]).toSorted()).toEqual([
      ['alert.resolved', 'error-rate', 0, 'handler "h" on "t": no deliveries in the window', 120_000],
      ['alert.resolved', 'key-skew', 0, '"keyed" on memory: no keyed messages in the window', 120_000],
      ['alert.resolved', 'latency', 0, 'handler "h" on "t": no deliveries in the window', 120_000],
      ['alert.resolved', 'partition-skew', 0, 'handler "h" on "t": no deliveries in the window', 120_000],
    ]);
    expect(rules.firing).toEqual([]);
    expect(rules.evaluate(t0 + 240_000)).toEqual([]); // still idle: nothing more to say
    await bus.close();
  });

  it('rejects minimum counts that are not whole numbers of at least 1, naming each', () => {
    expect(() => alertRules({ registry: new Registry(), latency: { minSamples: 0 }, errorRate: { minDeliveries: 2.5 }, skew: { minMessages: -1 } })).toThrow(
      /latency\.minSamples must be a whole number ≥ 1, got 0[^]*errorRate\.minDeliveries must be a whole number ≥ 1, got 2\.5[^]*skew\.minMessages must be a whole number ≥ 1, got -1/,
    );
    expect(() => alertRules({ registry: new Registry(), latency: { maxMs: -5 } })).toThrow(/latency\.maxMs must be a positive number, got -5/);
  });

  it('refuses a window past the timer limit, which Node would fire every millisecond', () => {
    expect(() => alertRules({ registry: new Registry(), windowMs: 2 ** 31 })).toThrow(/windowMs must be a number of ms above 0, up to 2147483647, got 2147483648/);
    expect(() => alertRules({ registry: new Registry(), windowMs: 2 ** 31 - 1 })).not.toThrow();
  });

  it('fires on throughput under 100 msg/s only once traffic was expected (reached the floor before)', () => {
    const registry = new Registry();
    const s = metricSet(registry).consumeSeries('memory', 't', 'g', 'h');
    const rules = alertRules({ registry, errorRate: false, latency: false, skew: false });
    const t0 = Date.now();
    s.acked += 10;
    expect(rules.evaluate(t0 + 1_000)).toEqual([]); // 10 msg/s, never reached the floor: idle, not a drop
    s.acked += 1_000;
    expect(rules.evaluate(t0 + 2_000)).toEqual([]); // 1,000 msg/s
    s.acked += 20;
    expect(summary(rules.evaluate(t0 + 3_000))).toEqual(['alert.firing throughput']);
    s.acked += 500;
    expect(summary(rules.evaluate(t0 + 4_000))).toEqual(['alert.resolved throughput']);
  });

  it('measures windows on the monotonic clock: a wall-clock step (NTP) neither fires the throughput alert nor skews how long one fired', () => {
    // Only the wall clock is faked (as an NTP step would move it); timers and performance.now() stay real.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const registry = new Registry();
      const s = metricSet(registry).consumeSeries('memory', 't', 'g', 'h');
      const rules = alertRules({ registry, errorRate: false, latency: false, skew: false });
      s.acked += 1_000_000;
      expect(rules.evaluate()).toEqual([]); // far above 100 msg/s: traffic is expected from now on
      vi.setSystemTime(Date.now() + 3_600_000); // the wall clock steps an hour ahead
      s.acked += 100_000;
      expect(rules.evaluate()).toEqual([]); // 100,000 in moments, not over "an hour" (27.8 msg/s)

      // An alert that fired: stamped with wall-clock times, but how long it fired is measured, not guessed from the wall clock.
      const stalled = alertRules({ registry, errorRate: false, latency: false, skew: false, throughput: { expected: () => true } });
      const fired = stalled.evaluate();
      expect(fired.map((e) => [e.type, e.rule, e.at])).toEqual([['alert.firing', 'throughput', Date.now()]]);
      vi.setSystemTime(Date.now() - 7_200_000); // the wall clock steps two hours back
      s.acked += 1_000_000;
      const resolved = stalled.evaluate();
      expect(resolved.map((e) => [e.type, e.rule, e.at])).toEqual([['alert.resolved', 'throughput', Date.now()]]);
      const firingForMs = (resolved[0] as { firingForMs: number }).firingForMs;
      expect(firingForMs).toBeGreaterThanOrEqual(0);
      expect(firingForMs).toBeLessThan(3_600_000);
    } finally {
      vi.useRealTimers();
    }
  });

  it('warns when one partition or one key takes a disproportionate share', async () => {
    const registry = new Registry();
    const set = metricSet(registry);
    const s = set.consumeSeries('kafka', 't', 'g', 'h');
    const rules = alertRules({ registry, errorRate: false, latency: false, throughput: false, skew: { minMessages: 100 } });
    s.partitions.push(30, 30, 40); // even enough
    const bus = instrument(memory(), { registry });
    await bus.publish('keyed', [...Array.from({ length: 90 }, () => ({ key: 'hot', payload: new Uint8Array(1) })), ...Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, payload: new Uint8Array(1) }))]);
    const events = rules.evaluate();
    expect(events.map((e) => [e.rule, e.severity, e.subject.topic])).toEqual([['key-skew', 'warning', 'keyed']]);
    expect(events[0]!.message).toMatch(/key "hot" took 75 %/);
    s.partitions[0]! += 10;
    s.partitions[1]! += 10;
    s.partitions[2]! += 200;
    await bus.publish('keyed', Array.from({ length: 120 }, (_, i) => ({ key: `k${i % 12}`, payload: new Uint8Array(1) })));
    expect(rules.evaluate().map((e) => `${e.type} ${e.rule}`)).toEqual(['alert.firing partition-skew', 'alert.resolved key-skew']);
    await bus.close();
  });

  it('judges partition skew among the partitions a consumer read: a group member owning two of eight is not skewed', () => {
    const registry = new Registry();
    const set = metricSet(registry);
    const s = set.consumeSeries('kafka', 'orders', 'billing', 'h');
    const rules = alertRules({ registry, errorRate: false, latency: false, throughput: false, skew: { minMessages: 100, factor: 1.5 } });
    rules.evaluate(); // the baseline window
    s.partitions[6] = 1_000;
    s.partitions[7] = 1_000;
    expect(rules.evaluate()).toEqual([]);
    s.partitions[6] += 100;
    s.partitions[7] += 1_900;
    expect(rules.evaluate().map((e) => [e.type, e.rule, e.message])).toEqual([
      ['alert.firing', 'partition-skew', expect.stringMatching(/partition 7 took 95 % of 2000 messages across 2 partitions/)],
    ]);
  });
});
