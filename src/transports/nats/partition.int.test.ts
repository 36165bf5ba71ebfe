import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultProxy, type FaultProxy } from '../../testing/fault-proxy.ts';
import { Inbox } from '../../testing/inbox.ts';
import { nats, type JetStreamSubscription, type NatsStatus, type NatsTransport } from './index.ts';
import { startTestNatsServer, type TestNatsServer } from './test-server.test-support.ts';

const TOTAL = 10_000;
const BATCH = 250;
const PING_MS = 1_000;
const MAX_PINGS_OUT = 2;
const BLACKHOLE_MS = 10_000;

describe('NATS JetStream through a network partition', () => {
  let server: TestNatsServer;
  let proxy: FaultProxy;
  let bus: NatsTransport;
  beforeAll(async () => {
    server = await startTestNatsServer();
    proxy = await faultProxy({ target: { host: '127.0.0.1', port: server.port } });
    bus = nats({
      servers: `nats://${proxy.host}:${proxy.port}`,
      reconnect: { waitMs: 250, jitterMs: 50, pingIntervalMs: PING_MS, maxPingsOut: MAX_PINGS_OUT, connectTimeoutMs: 2_000 },
      consumers: { ackWaitMs: 5_000 },
      ackTimeoutMs: 2_000,
    });
    await bus.connect();
  });
  afterAll(async () => {
    await bus?.close();
    await proxy?.close();
    await server?.dispose();
  });

  it('detects a 10 s blackhole within the ping deadline, reconnects after it heals, and loses none of 10,000 messages', async () => {
    const topic = 'partition.orders';
    const statuses: Array<{ at: number; status: NatsStatus }> = [];
    bus.on('status', (status) => statuses.push({ at: Date.now(), status }));
    const inbox = new Inbox();
    const sub = (await bus.subscribe(topic, { group: 'billing', concurrency: 16 }, async (m) => inbox.push(m))) as JetStreamSubscription;
    const sent = new Set<string>();
    let partition: Promise<void> | undefined;
    let blackholeAt = 0;
    const detected = new Promise<number>((resolve) =>
      bus.on('status', (s) => (s.type === 'stale-connection' || s.type === 'disconnected') && blackholeAt > 0 && resolve(Date.now())),
    );
    const reconnected = new Promise<number>((resolve) => bus.on('status', (s) => s.type === 'reconnected' && resolve(Date.now())));
    for (let i = 0; i < TOTAL; i += BATCH) {
      const batch = Array.from({ length: BATCH }, (_, j) => ({ id: `p-${i + j}`, key: `k${(i + j) % 50}`, payload: Buffer.from(`payload ${i + j}`) }));
      for (const m of batch) sent.add(m.id);
      if (i === TOTAL / 2) {
        partition = (async () => {
          blackholeAt = Date.now();
          proxy.blackhole();
          // The outage itself lasts a fixed time: that is the scenario, not a synchronisation.
          await new Promise((resolve) => setTimeout(resolve, BLACKHOLE_MS));
          proxy.heal();
        })();
      }
      await bus.publish(topic, batch); // during the blackhole these retry (same ids) until the link heals
    }
    await partition;
    const detectedAt = await detected;
    const reconnectedAt = await reconnected;
    await inbox.until(
      () => inbox.ids().size === TOTAL,
      90_000,
      () => `all ${TOTAL} messages (got ${inbox.ids().size} distinct)`,
    );
    const duplicates = inbox.messages.length - inbox.ids().size;
    const detection = detectedAt - blackholeAt;
    console.log(
      `partition test: ${TOTAL} sent, ${inbox.ids().size} distinct received, ${duplicates} duplicates handled twice, ` +
        `${sub.suppressedRedeliveries} redeliveries acked without running the handler; ` +
        `outage detected after ${detection} ms, reconnected ${reconnectedAt - blackholeAt - BLACKHOLE_MS} ms after healing`,
    );
    expect(inbox.ids()).toEqual(sent);
    // Silence is noticed after pingInterval × (maxPingsOut + 1), plus one interval of timer slack.
    expect(detection).toBeLessThanOrEqual(PING_MS * (MAX_PINGS_OUT + 2));
    expect(reconnectedAt).toBeGreaterThan(blackholeAt);
  }, 150_000);
});
