import { afterEach, describe, expect, it } from 'vitest';
import { isTransportError } from '../../core/errors.ts';
import type { Message, OutgoingMessage } from '../../core/message.ts';
import type { Subscription } from '../../core/transport.ts';
import { Inbox } from '../../testing/inbox.ts';
import { KafkaSubscription } from './consumer.ts';
import { kafkaLag } from './lag.ts';
import { mockControl, quickConsumer, testBrokers, uniqueTopic, usingMock } from './test-cluster.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// Against the librdkafka mock cluster (NOT Apache Kafka) unless SWITCHYARD_KAFKA_BROKERS is set.
const open: Array<KafkaTransport | Subscription> = [];
afterEach(async () => {
  for (const item of open.splice(0).toReversed()) await item.close().catch(() => undefined);
});

function transport(extra: Partial<Parameters<typeof kafka>[0]['consumer']> = {}): KafkaTransport {
  const t = kafka({ brokers: testBrokers(), consumer: { ...quickConsumer, ...extra } });
  open.push(t);
  return t;
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('kafka consumer (integration, librdkafka mock cluster — not Apache Kafka)', () => {
  it.skipIf(!usingMock())('runs different keys of one partition in parallel and never two of one key, with concurrency 16', async () => {
    const topic = uniqueTopic('per-key');
    await mockControl(`create-topic ${topic} 1 1`);
    const t = transport();
    const inbox = new Inbox();
    const running = new Map<string, number>();
    let inFlight = 0;
    let maxInFlight = 0;
    let sameKeyOverlaps = 0;
    let distinctKeysOverlapping = 0;
    const sub = await t.subscribe(topic, { group: 'g', concurrency: 16 }, async (m) => {
      if (running.has(m.key)) sameKeyOverlaps++;
      running.set(m.key, (running.get(m.key) ?? 0) + 1);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      distinctKeysOverlapping = Math.max(distinctKeysOverlapping, running.size);
      await tick(3);
      inFlight--;
      const n = running.get(m.key)! - 1;
      if (n === 0) running.delete(m.key);
      else running.set(m.key, n);
      inbox.push(m);
    });
    open.push(sub);
    const keys = Array.from({ length: 32 }, (_, i) => `key-${i}`);
    const batch: OutgoingMessage[] = [];
    for (let i = 0; i < 40; i++) for (const key of keys) batch.push({ key, payload: Buffer.from(String(i)) });
    await t.publish(topic, batch);
    await inbox.untilCount(batch.length, 50_000);
    expect(new Set(inbox.messages.map((m) => m.partition))).toEqual(new Set([0]));
    expect(sameKeyOverlaps).toBe(0);
    expect(maxInFlight).toBeLessThanOrEqual(16);
    expect(distinctKeysOverlapping).toBeGreaterThan(1);
    for (const key of keys) {
      const seen = inbox.messages.filter((m) => m.key === key).map((m) => Number(Buffer.from(m.payload).toString()));
      expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => i));
    }
    console.log(`[per-key] ${batch.length} messages, 1 partition, concurrency 16: max ${maxInFlight} in flight, up to ${distinctKeysOverlapping} keys at once, same-key overlaps ${sameKeyOverlaps}`);
  }, 60_000);

  it('redelivers a failed message in place: its key waits, other keys go on, and nothing past it is committed', async () => {
    const topic = uniqueTopic('in-place');
    if (usingMock()) await mockControl(`create-topic ${topic} 1 1`);
    const t = transport({ redeliveryDelayMs: 200 });
    const inbox = new Inbox();
    let failures = 0;
    const sub = await t.subscribe(topic, { group: 'g', concurrency: 4 }, async (m) => {
      if (m.id === 'bad-1' && m.attempt < 4) {
        failures++;
        throw new Error('not yet');
      }
      inbox.push(m);
    });
    open.push(sub);
    await t.publish(topic, [
      { id: 'bad-1', key: 'bad', payload: Buffer.from('1') },
      { id: 'bad-2', key: 'bad', payload: Buffer.from('2') },
      ...Array.from({ length: 20 }, (_, i) => ({ id: `ok-${i}`, key: `ok-${i % 4}`, payload: Buffer.from('x') })),
    ]);
    // Other keys finish while "bad" is still being retried.
    await inbox.untilCount(20, 20_000);
    expect(inbox.messages.some((m) => m.key === 'bad')).toBe(false);
    const lagWhileFailing = await kafkaLag({ admin: t.clients.admin! }, 'g', [topic]);
    expect(lagWhileFailing[0]!.committed).toBeLessThanOrEqual(0n); // never past the failing head
    await inbox.untilCount(22, 20_000);
    const bad = inbox.messages.filter((m) => m.key === 'bad');
    expect(bad.map((m) => [m.id, m.attempt])).toEqual([
      ['bad-1', 4],
      ['bad-2', 1],
    ]);
    expect(failures).toBe(3);
  }, 60_000);

  it('pauses fetching instead of buffering without bound (maxBufferedMessages)', async () => {
    const topic = uniqueTopic('backpressure');
    const t = transport({ maxBufferedMessages: 50 });
    const inbox = new Inbox();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sub = (await t.subscribe(topic, { group: 'g', concurrency: 2, from: 'earliest' }, async (m) => {
      await gate;
      inbox.push(m);
    })) as KafkaSubscription;
    open.push(sub);
    await t.publish(topic, Array.from({ length: 3_000 }, (_, i) => ({ key: `k${i % 7}`, payload: Buffer.from(String(i)) })));
    await tick(1_500); // let the fetcher run into the limit (a wait for the absence of progress)
    const held = sub.held;
    // One fetch response may land after the limit is reached: bounded by a fetch, not by the topic.
    expect(held).toBeLessThan(1_500);
    release();
    await inbox.untilCount(3_000, 50_000);
    console.log(`[backpressure] held at most ${held} of 3,000 messages with maxBufferedMessages 50 while handlers were blocked`);
  }, 60_000);

  it('reports lag per partition: committed offset against the high watermark', async () => {
    const topic = uniqueTopic('lag');
    const t = transport();
    const inbox = new Inbox();
    const sub = await t.subscribe(topic, { group: 'lagging', from: 'earliest' }, async (m) => inbox.push(m));
    open.push(sub);
    await t.publish(topic, Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, payload: Buffer.from('x') })));
    await inbox.untilCount(30, 20_000);
    await sub.close();
    await t.publish(topic, Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, payload: Buffer.from('y') })));
    const lag = await kafkaLag({ brokers: testBrokers() }, 'lagging', [topic]);
    expect(lag.map((p) => p.partition)).toEqual([0, 1, 2]);
    expect(lag.reduce((sum, p) => sum + p.lag, 0n)).toBe(12n);
    expect(lag.reduce((sum, p) => sum + p.highWatermark, 0n)).toBe(42n);
    for (const p of lag) expect(p.committed).toBe(p.highWatermark - p.lag);
  }, 60_000);

  it('rebalances 3 members, one closed and one added mid-stream of 20,000 keyed messages: every message processed at least once, per-key order kept, duplicates (redelivered uncommitted work) counted', async () => {
    const topic = uniqueTopic('rebalance');
    const count = 20_000;
    const keys = 200;
    const producer = transport();
    await producer.connect();
    const seen = new Map<string, number>(); // id -> times processed
    const firstSeq = new Map<string, number>(); // key -> highest seq processed for the first time
    let orderViolations = 0;
    let processed = 0;
    const inbox = new Inbox();
    const handler = async (m: Message): Promise<void> => {
      await new Promise((resolve) => setImmediate(resolve));
      const times = (seen.get(m.id) ?? 0) + 1;
      seen.set(m.id, times);
      if (times === 1) {
        const seq = Number(m.headers['seq']);
        const last = firstSeq.get(m.key) ?? -1;
        if (seq !== last + 1) orderViolations++; // a first delivery must follow every earlier one of its key
        firstSeq.set(m.key, seq);
      }
      processed++;
      inbox.notify();
    };
    const members: Subscription[] = [];
    for (let i = 0; i < 3; i++) {
      const member = await transport().subscribe(topic, { group: 'rebalance', concurrency: 8, from: 'earliest' }, handler);
      open.push(member);
      members.push(member);
    }
    const nextSeq = new Map<number, number>();
    const publishing = (async () => {
      for (let sent = 0; sent < count; sent += 500) {
        const batch: OutgoingMessage[] = [];
        for (let i = sent; i < sent + 500; i++) {
          const k = i % keys;
          const seq = nextSeq.get(k) ?? 0;
          nextSeq.set(k, seq + 1);
          batch.push({ id: `m-${i}`, key: `key-${k}`, payload: Buffer.from(`payload-${i}`), headers: { seq: String(seq) } });
        }
        await producer.publish(topic, batch);
        await tick(5);
      }
    })();
    const distinct = (): number => seen.size;
    await inbox.until(() => distinct() >= count * 0.25, 50_000, () => `a quarter processed (got ${distinct()})`);
    await members[1]!.close(); // one member leaves mid-stream
    await inbox.until(() => distinct() >= count * 0.5, 50_000, () => `half processed (got ${distinct()})`);
    const added = await transport().subscribe(topic, { group: 'rebalance', concurrency: 8, from: 'earliest' }, handler);
    open.push(added);
    await publishing;
    await inbox.until(() => distinct() >= count, 55_000, () => `all ${count} processed (got ${distinct()})`);
    const duplicates = processed - distinct();
    const stats = [...members, added].map((s) => (s as KafkaSubscription).stats);
    console.log(
      `[rebalance] ${count} messages, ${keys} keys, 3 members → one closed → one added: processed ${processed}, distinct ${distinct()}, ` +
        `duplicates ${duplicates} (uncommitted work redelivered), per-key order violations ${orderViolations}, ` +
        `rebalances seen ${stats.map((s) => s.rebalances).join('/')}, stream restarts ${stats.reduce((n, s) => n + s.restarts, 0)}  [librdkafka mock cluster, not Apache Kafka]`,
    );
    expect(distinct()).toBe(count);
    expect(orderViolations).toBe(0);
    // Duplicates are counted and reported above, not bounded: the mock cluster refuses offset
    // commits as soon as another member rejoins (Apache Kafka accepts them until the generation
    // ends), so each rebalance can hand back a member's whole uncommitted window — 0 to ~7,000 of
    // 20,000 measured here. Reducing them on the mock is open work on the Kafka issue.
  }, 60_000);
});

describe('kafka consumer groups across topics (librdkafka mock cluster — not Apache Kafka)', () => {
  it('deleteGroup removes a group and its offsets where the cluster offers DeleteGroups, and says so where it does not', async () => {
    const topic = uniqueTopic('delete-group');
    const t = transport();
    const inbox = new Inbox();
    const sub = await t.subscribe(topic, { group: 'one-off', from: 'earliest' }, async (m) => inbox.push(m));
    await t.publish(topic, { payload: Buffer.from('x') });
    await inbox.untilCount(1, 20_000);
    await sub.close();
    const deleting = t.deleteGroup('one-off');
    if (usingMock()) {
      const error = await deleting.catch((e: unknown) => e);
      expect(isTransportError(error) && error.message).toMatch(/delete group "one-off".*does not offer this API/);
    } else {
      await deleting;
      const lag = await kafkaLag({ brokers: testBrokers() }, 'one-off', [topic]);
      expect(lag.every((p) => p.committed === -1n)).toBe(true);
    }
  }, 60_000);

  it('gives each subscription of one group the partitions of its own topic', async () => {
    const [a, b] = [uniqueTopic('group-a'), uniqueTopic('group-b')];
    const inboxA = new Inbox();
    const inboxB = new Inbox();
    open.push(await transport().subscribe(a, { group: 'shared', from: 'earliest' }, async (m) => inboxA.push(m)));
    open.push(await transport().subscribe(b, { group: 'shared', from: 'earliest' }, async (m) => inboxB.push(m)));
    const t = transport();
    await t.publish(a, Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, payload: Buffer.from('a') })));
    await t.publish(b, Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, payload: Buffer.from('b') })));
    await Promise.all([inboxA.untilCount(30, 30_000), inboxB.untilCount(30, 30_000)]);
    expect(new Set(inboxA.messages.map((m) => m.topic))).toEqual(new Set([a]));
    expect(new Set(inboxB.messages.map((m) => m.topic))).toEqual(new Set([b]));
  }, 60_000);
});
