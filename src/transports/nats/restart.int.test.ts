import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { nats, type JetStreamSubscription, type NatsStatus, type NatsTransport } from './index.ts';
import { startTestNatsServer, type TestNatsServer } from './test-server.test-support.ts';

const TOTAL = 10_000;
const BATCH = 250;

describe('NATS JetStream across a server restart', () => {
  let server: TestNatsServer;
  let bus: NatsTransport;
  beforeAll(async () => {
    server = await startTestNatsServer();
    bus = nats({
      servers: server.url,
      reconnect: { waitMs: 250, jitterMs: 50, pingIntervalMs: 1_000, maxPingsOut: 2 },
      consumers: { ackWaitMs: 5_000 },
      ackTimeoutMs: 2_000,
    });
    await bus.connect();
  });
  afterAll(async () => {
    await bus?.close();
    await server?.dispose();
  });

  it('reconnects after the server restarts in the middle of 10,000 messages, and loses none', async () => {
    const topic = 'restart.orders';
    const statuses: NatsStatus[] = [];
    bus.on('status', (s) => statuses.push(s));
    const inbox = new Inbox();
    const sub = (await bus.subscribe(topic, { group: 'billing', concurrency: 16 }, async (m) => inbox.push(m))) as JetStreamSubscription;
    const sent: string[] = [];
    let restarted: Promise<void> | undefined;
    const reconnected = new Promise<void>((resolve) => bus.on('status', (s) => s.type === 'reconnected' && resolve()));
    for (let i = 0; i < TOTAL; i += BATCH) {
      const batch = Array.from({ length: BATCH }, (_, j) => ({ id: `m-${i + j}`, key: `k${(i + j) % 50}`, payload: Buffer.from(`payload ${i + j}`) }));
      sent.push(...batch.map((m) => m.id));
      const publishing = bus.publish(topic, batch);
      if (i === TOTAL / 2) {
        // Restart while this batch is in flight: the publishes retry with the same ids.
        restarted = (async () => {
          await server.stop('SIGTERM');
          await server.start();
        })();
      }
      await publishing;
    }
    await restarted;
    await reconnected;
    await inbox.until(
      () => inbox.ids().size === TOTAL,
      60_000,
      () => `all ${TOTAL} messages (got ${inbox.ids().size} distinct)`,
    );
    const duplicates = inbox.messages.length - inbox.ids().size;
    console.log(`restart test: ${TOTAL} sent, ${inbox.ids().size} distinct received, ${duplicates} duplicates handled twice; ` +
        `${sub.suppressedRedeliveries} redeliveries of already-handled messages acked without running the handler`);
    expect(new Set(sent)).toEqual(inbox.ids());
    expect(statuses.map((s) => s.type)).toContain('disconnected');
    expect(statuses.map((s) => s.type)).toContain('reconnected');
  }, 120_000);
});
