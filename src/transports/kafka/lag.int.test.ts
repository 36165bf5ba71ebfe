import { afterAll, describe, expect, it } from 'vitest';
import { lagMonitor, type LagEvent } from '../../observability/lag.ts';
import { kafkaLagSource } from '../../observability/lag-sources.ts';
import { kafkaLag } from './lag.ts';
import { kafkaNative } from './native.ts';
import { testBrokers, uniqueTopic } from './test-cluster.ts';
import { kafka } from './transport.ts';

// One named topic the cluster did not have failed the whole reading with the client's "Unknown
// topic …": a lag monitor over a group's topics showed no lag at all, for the topics that were
// there too, as long as one was missing (not created yet, mistyped, deleted).

const brokers = testBrokers();
const topic = uniqueTopic('lag-present');
const missing = [`${topic}-not-there-b`, `${topic}-not-there-a`];
const bus = kafka({ brokers });

afterAll(() => bus.close());

/** Publishes `n` messages to `to` (creating it); a group that never committed lags by all of them. */
async function publish(to: string, n: number): Promise<void> {
  await bus.publish(
    to,
    Array.from({ length: n }, (_, i) => ({ key: `k${i}`, payload: new TextEncoder().encode(`${i}`) })),
  );
}

describe('kafkaLag with a named topic the cluster does not have', () => {
  it('reads the topics that are there, leaves the missing ones out and names them to onMissing', async () => {
    await publish(topic, 5);
    const heard: string[][] = [];
    const lag = await kafkaLag({ brokers }, 'never-read', [missing[0]!, topic, missing[1]!], { onMissing: (topics) => heard.push(topics) });
    expect(new Set(lag.map((p) => p.topic))).toEqual(new Set([topic]));
    expect(lag.reduce((sum, p) => sum + p.lag, 0n)).toBe(5n);
    // Both, though the client's error names only the first it meets.
    expect(heard).toEqual([[...missing].sort()]);

    // Through a connected transport's admin client, and with a pattern beside the missing name.
    const { admin } = await kafkaNative(bus);
    const viaAdmin = await kafkaLag({ admin }, 'never-read', [`${topic}-not-there-a`, topic.replace(/[^.]+$/, '*')]);
    expect(viaAdmin.filter((p) => p.topic === topic).reduce((sum, p) => sum + p.lag, 0n)).toBe(5n);
    // Nothing there at all: no rows, no error.
    expect(await kafkaLag({ brokers }, 'never-read', missing)).toEqual([]);
  }, 60_000);

  it('lagMonitor over kafkaLagSource: the lag of the topics that are there, no read error', async () => {
    const present = uniqueTopic('lag-monitored');
    await publish(present, 3);
    const heard: string[][] = [];
    const monitor = lagMonitor({ sources: [kafkaLagSource({ brokers }, 'billing', [present, missing[0]!], { onMissing: (t) => heard.push(t) })], registry: false });
    const events: LagEvent[] = [];
    monitor.on((e) => events.push(e));
    const readings = await monitor.sample();
    expect(events.filter((e) => e.type === 'lag.error')).toEqual([]);
    expect(readings).toEqual([expect.objectContaining({ transport: 'kafka', topic: present, group: 'billing', messages: 3 })]);
    expect(heard).toEqual([[missing[0]]]);
  }, 60_000);
});
