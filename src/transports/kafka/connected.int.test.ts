import { afterEach, describe, expect, it } from 'vitest';
import { isTransportError } from '../../core/errors.ts';
import { privateCluster } from './private-cluster.test-support.ts';
import { usingMock } from './test-cluster.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// `connected` against a private librdkafka mock cluster (NOT Apache Kafka; random ports, three
// brokers, killed afterwards), so taking every broker down never disturbs anyone else's tests.

const BROKER_IDS = [1, 2, 3];

const cluster = privateCluster();
afterEach(async () => {
  if (!usingMock()) return;
  // Whatever a test took down or slowed comes back before the next one.
  for (const id of BROKER_IDS) {
    await cluster.control(`broker-up ${id}`);
    await cluster.control(`rtt ${id} 0`);
  }
});

function transport(): KafkaTransport {
  const t = kafka({
    brokers: cluster.brokers,
    connectTimeoutMs: 1_000,
    requestTimeoutMs: 1_000,
    producer: { timeoutMs: 2_000, retries: 1, retryBackoffMs: 100 },
  });
  cluster.keep(t);
  return t;
}

/** Polls `t.connected` until it is `want` (bounded); returns how long that took and every value read. */
async function until(t: KafkaTransport, want: boolean, withinMs: number): Promise<{ ms: number; seen: boolean[] }> {
  const start = Date.now();
  const seen: boolean[] = [];
  for (;;) {
    seen.push(t.connected);
    if (t.connected === want) return { ms: Date.now() - start, seen };
    if (Date.now() - start >= withinMs) throw new Error(`connected did not become ${want} within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function allBrokers(command: 'broker-down' | 'broker-up'): Promise<void> {
  for (const id of BROKER_IDS) await cluster.control(`${command} ${id}`);
}

describe.skipIf(!usingMock())('Kafka connected (private librdkafka mock cluster — not Apache Kafka)', () => {
  it('is false before connect(), true after, false once every broker is down, true again once they are back, false after close()', async () => {
    const t = transport();
    expect(t.connected).toBe(false);
    const connecting = t.connect();
    expect(t.connected).toBe(false); // while connecting
    await connecting;
    expect(t.connected).toBe(true);

    await allBrokers('broker-down');
    const down = await until(t, false, 5_000);
    // Refused connections fail the check at once: well within connectTimeoutMs + requestTimeoutMs.
    expect(down.ms).toBeLessThan(2_000);
    await allBrokers('broker-up');
    const up = await until(t, true, 10_000);
    console.log(`[kafka connected] every broker down → false after ${down.ms} ms; back → true after ${up.ms} ms  [private librdkafka mock cluster, not Apache Kafka]`);
    // Still usable: the clients reconnect by themselves.
    await t.publish(`connected.after.${Date.now()}`, { payload: Buffer.from('x') });
    expect(t.connected).toBe(true);

    await t.close();
    expect(t.connected).toBe(false);
  }, 30_000);

  it('stays true with one broker of three down (it cannot see that: the others answer)', async () => {
    const t = transport();
    await t.connect();
    const admin = t.clients.admin!;
    const first = cluster.brokers[0]!; // broker 1, which the admin client reached first
    await cluster.control('broker-down 1');
    // The admin client's connection to broker 1 closed: it checks through another broker.
    const seen: boolean[] = [];
    const deadline = Date.now() + 5_000;
    const reconnected = () => [...admin.connections].some(([address, connection]) => address !== first && connection.isConnected());
    while (!reconnected() && Date.now() < deadline) {
      seen.push(t.connected);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(reconnected()).toBe(true);
    expect(seen.every(Boolean)).toBe(true);
    expect(t.connected).toBe(true);
    await t.close();
  }, 30_000);

  it('turns false when brokers keep their connections open but stop answering (a publish times out), and true once they answer again', async () => {
    const t = transport();
    const topic = `connected.slow.${Date.now()}`;
    await cluster.control(`create-topic ${topic} 1 1`);
    await t.publish(topic, { payload: Buffer.from('before') });
    expect(t.connected).toBe(true);

    for (const id of BROKER_IDS) await cluster.control(`rtt ${id} 10000`); // far beyond requestTimeoutMs
    const refused = await t.publish(topic, { payload: Buffer.from('during') }).then(
      () => 'published',
      (error: unknown) => error,
    );
    expect(isTransportError(refused)).toBe(true);
    // Nothing closed: the failed publish made the admin client ask, and that timed out too.
    const down = await until(t, false, 5_000);
    for (const id of BROKER_IDS) await cluster.control(`rtt ${id} 0`);
    const up = await until(t, true, 10_000);
    console.log(`[kafka connected] brokers silent → false ${down.ms} ms after the publish failed; answering again → true after ${up.ms} ms  [private librdkafka mock cluster, not Apache Kafka]`);
    await t.close();
    expect(t.connected).toBe(false);
  }, 30_000);
});
