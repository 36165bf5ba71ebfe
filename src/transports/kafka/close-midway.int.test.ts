import { afterEach, describe, expect, it } from 'vitest';
import { isClosedError } from '../../core/errors.ts';
import type { KafkaSubscription } from './consumer.ts';
import { privateCluster } from './private-cluster.test-support.ts';
import { usingMock } from './test-cluster.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// close() while a subscribe() waits for its group join, or while connect() waits for a cluster
// that does not answer, on a private librdkafka mock cluster (NOT Apache Kafka; random ports,
// killed afterwards). Its first join of a group waits two minutes (the group's initial rebalance
// delay), which holds a subscribe() in its join for as long as a test needs. Default timeouts
// throughout: before the fix, close() or the pending call waited for them (a join: rebalance
// timeout + request timeout, 90 s; a connect: its retries of 30 s requests, minutes), far beyond
// these tests' 60 s limit — and for ever in a process nothing else kept alive.

const JOIN_DELAY_MS = 120_000;
const BROKER_IDS = [1, 2, 3];

const cluster = privateCluster(['--rebalance-delay-ms', String(JOIN_DELAY_MS)]);
afterEach(async () => {
  if (!usingMock()) return;
  for (const id of BROKER_IDS) await cluster.control(`rtt ${id} 0`);
});

function transport(): KafkaTransport {
  return cluster.keep(kafka({ brokers: cluster.brokers }));
}

/** How a pending call ended: its error, or 'resolved'. */
function outcome(pending: Promise<unknown>): Promise<unknown> {
  return pending.then(
    () => 'resolved',
    (error: unknown) => error,
  );
}

/** The subscription `t` is starting, once `ready` holds for it. */
async function starting(t: KafkaTransport, ready: (sub: KafkaSubscription) => boolean): Promise<KafkaSubscription> {
  for (;;) {
    const sub = [...t.clients.subscriptions].find(ready);
    if (sub) return sub;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Once its consumer exists, a subscription is in its group join (held for two minutes here). */
const joining = (t: KafkaTransport): Promise<KafkaSubscription> => starting(t, (sub) => sub.consumer !== undefined);

/**
 * A subscription of `t` still reading the group's committed positions (before its member exists):
 * every broker answers 300 ms late, so that takes seconds.
 */
async function readingPositions(t: KafkaTransport): Promise<KafkaSubscription> {
  const sub = await starting(t, () => true);
  expect(sub.consumer).toBeUndefined();
  return sub;
}

async function slowBrokers(ms: number): Promise<void> {
  for (const id of BROKER_IDS) await cluster.control(`rtt ${id} ${ms}`);
}

describe.skipIf(!usingMock())('kafka close() while a call is under way (private librdkafka mock cluster — not Apache Kafka)', () => {
  it('transport close() during a group join: the pending subscribe() rejects with a ClosedError and the member is closed, long before the join would end', async () => {
    const t = transport();
    const topic = 'midway-join-transport';
    await cluster.control(`create-topic ${topic} 2 1`);
    const subscribing = outcome(t.subscribe(topic, { group: `${topic}-group` }, async () => undefined));
    const sub = await joining(t);
    const consumer = sub.consumer!;

    await t.close();
    const error = await subscribing;

    expect(isClosedError(error), String(error)).toBe(true);
    expect((error as Error).message).toContain(`"${topic}"`);
    expect(consumer.closed).toBe(true);
    expect(consumer.isConnected()).toBe(false);
    expect(await sub.closed).toBeUndefined();
    expect(t.clients.subscriptions.size).toBe(0);
  }, 60_000);

  it('subscription close() during its group join: the pending subscribe() rejects with a ClosedError and the member is closed, and the transport stays usable', async () => {
    const t = transport();
    const topic = 'midway-join-subscription';
    await cluster.control(`create-topic ${topic} 1 1`);
    const subscribing = outcome(t.subscribe(topic, { group: `${topic}-group` }, async () => undefined));
    const sub = await joining(t);
    const consumer = sub.consumer!;

    await sub.close();
    const error = await subscribing;

    expect(isClosedError(error), String(error)).toBe(true);
    expect(consumer.closed).toBe(true);
    expect(t.clients.subscriptions.size).toBe(0);
    // Only the subscription was closed: the transport goes on.
    await t.publish(topic, { payload: Buffer.from('still open') });
    await t.close();
  }, 60_000);

  it('subscription close() before its member exists (while subscribe() reads the group\'s positions): subscribe() rejects with a ClosedError and no member joins after close()', async () => {
    const t = transport();
    const topic = 'midway-positions-subscription';
    await cluster.control(`create-topic ${topic} 1 1`);
    await t.connect();
    await slowBrokers(300);
    const subscribing = outcome(t.subscribe(topic, { group: `${topic}-group` }, async () => undefined));
    const sub = await readingPositions(t);

    await sub.close();
    // Before the fix close() returned here and the subscription went on to join the group (a
    // member nothing would close), its subscribe() pending until the 90 s join timeout.
    const error = await subscribing;

    expect(isClosedError(error), String(error)).toBe(true);
    expect((error as Error).message).toBe(`kafka subscription to "${topic}" as group "${topic}-group" is closed: close() was called before subscribe() had finished`);
    expect(sub.consumer).toBeUndefined();
    expect(await sub.closed).toBeUndefined();
    await t.close();
  }, 60_000);

  it('transport close() before the member exists: subscribe() rejects with a ClosedError rather than with the closed admin client\'s error', async () => {
    const t = transport();
    const topic = 'midway-positions-transport';
    await cluster.control(`create-topic ${topic} 1 1`);
    await t.connect();
    await slowBrokers(300);
    const subscribing = outcome(t.subscribe(topic, { group: `${topic}-group` }, async () => undefined));
    const sub = await readingPositions(t);

    await t.close();
    const error = await subscribing;

    expect(isClosedError(error), String(error)).toBe(true);
    expect(sub.consumer).toBeUndefined();
  }, 60_000);

  it('transport close() while connect() waits for brokers that do not answer: connect(), publish() and subscribe() reject with a ClosedError, and close() returns', async () => {
    // Every broker holds its answers for an hour: the connect's requests wait for their timeout.
    await slowBrokers(3_600_000);
    const t = transport();
    const connecting = outcome(t.connect());
    const publishing = outcome(t.publish('midway-connect', { payload: Buffer.from('x') }));
    const subscribing = outcome(t.subscribe('midway-connect', { group: 'midway-connect-group' }, async () => undefined));

    await t.close();

    for (const error of await Promise.all([connecting, publishing, subscribing])) {
      expect(isClosedError(error), String(error)).toBe(true);
    }
    expect(t.connected).toBe(false);
    expect(t.clients.admin).toBeUndefined();
    await expect(t.connect()).rejects.toMatchObject({ code: 'CLOSED' });
  }, 60_000);
});
