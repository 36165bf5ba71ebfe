import type { MessageToProduce } from '@platformatic/kafka';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { isTransportError, type TransportError } from '../../core/errors.ts';
import type { OutgoingMessage } from '../../core/message.ts';
import { Inbox } from '../../testing/inbox.ts';
import { privateCluster } from './private-cluster.test-support.ts';
import { quickConsumer, usingMock } from './test-cluster.ts';
import { kafka } from './transport.ts';

// Publishes made in the same turn are merged into one produce request, which the broker accepts
// or refuses whole. producer.batchMaxBytes bounds what is merged, so a refusal (here one pushed
// MESSAGE_TOO_LARGE, on a private librdkafka mock cluster — NOT Apache Kafka) fails only the
// publish in the refused request, not others that happened to be sent with it. One publish larger
// than that bound is sent as several requests, in order, one at a time.

const cluster = privateCluster();

/** Publishes 2 KiB to each of two topics in one turn; what became of each publish. */
async function twoPublishes(batchMaxBytes: number | undefined): Promise<string[]> {
  const t = kafka({ brokers: cluster.brokers, producer: { retries: 0, timeoutMs: 10_000, ...(batchMaxBytes ? { batchMaxBytes } : {}) } });
  cluster.keep(t);
  const run = `${Date.now().toString(36)}${batchMaxBytes ?? 'default'}`;
  const topics = [`batch.${run}.a`, `batch.${run}.b`];
  for (const topic of topics) await cluster.control(`create-topic ${topic} 1 1`);
  await t.connect();
  await t.publish(topics[0]!, { payload: Buffer.alloc(1) }); // the producer has its id and metadata
  // The next produce request is refused (10: MESSAGE_TOO_LARGE in the Kafka protocol).
  await cluster.control('push-errors Produce 10 1');
  const outcomes = await Promise.all(
    topics.map((topic) =>
      t.publish(topic, { payload: Buffer.alloc(2_048) }).then(
        () => 'published',
        (error: unknown) => (isTransportError(error) && /MESSAGE_TOO_LARGE/.test(error.message) ? 'refused' : String(error)),
      ),
    ),
  );
  await cluster.control('clear-errors Produce');
  return outcomes;
}

describe.skipIf(!usingMock())('Kafka producer: publishes merged into one request', () => {
  it('share the fate of that request within batchMaxBytes', async () => {
    expect(await twoPublishes(undefined)).toEqual(['refused', 'refused']);
  });

  it('go in separate requests beyond batchMaxBytes, so a refusal fails only its own publish', async () => {
    expect(await twoPublishes(3_000)).toEqual(['refused', 'published']);
  });
});

describe.skipIf(!usingMock())('Kafka producer: a request the broker refuses as too large', () => {
  it("rejects with an error saying which broker, topic and transport limits to bring in line", async () => {
    const t = cluster.keep(kafka({ brokers: cluster.brokers, producer: { retries: 0, timeoutMs: 10_000 } }));
    const topic = `too-large.${Date.now().toString(36)}`;
    await cluster.control(`create-topic ${topic} 1 1`);
    await t.publish(topic, { payload: Buffer.alloc(1) }); // the producer has its id and metadata
    // What Kafka answers a batch over message.max.bytes (the mock does not check sizes itself).
    await cluster.control('push-errors Produce 10 1'); // 10: MESSAGE_TOO_LARGE (librdkafka calls it MSG_SIZE_TOO_LARGE)
    const refused = await t.publish(topic, { payload: Buffer.alloc(10) }).catch((e: unknown) => e);
    await cluster.control('clear-errors Produce');
    expect(isTransportError(refused)).toBe(true);
    expect((refused as TransportError).retryable).toBe(false);
    const text = (refused as Error).message;
    expect(text).toMatch(/^publish to "too-large\.[^"]+": .*\[MESSAGE_TOO_LARGE\] — the broker refused a record batch larger than its message\.max\.bytes \(or the topic's max\.message\.bytes\)/);
    expect(text).toMatch(/Set the transport's maxRecordBytes \(default 1,048,588, Kafka's default\) to that limit/);
    expect(text).toMatch(/producer\.batchMaxBytes \(default 1,000,000\) below it/);
    expect(text).toMatch(/or raise message\.max\.bytes on the brokers \(max\.message\.bytes on the topic\)/);

    await cluster.control('push-errors Produce RECORD_LIST_TOO_LARGE 1');
    const segment = await t.publish(topic, { payload: Buffer.alloc(10) }).then(
      () => new Error('published'),
      (e: unknown) => e as Error,
    );
    await cluster.control('clear-errors Produce');
    expect(segment.message).toMatch(/\[RECORD_LIST_TOO_LARGE\] — the broker refused a record batch larger than the topic's log segment \(segment\.bytes/);
  });
});

/**
 * What the producer hands its client while `during` runs: the messages of each `send()` (one
 * produce request per broker; a one-partition topic has one), seen on @platformatic/kafka's own
 * diagnostics channel; and how `during` failed, if it did.
 */
async function sendsDuring(during: () => Promise<unknown>): Promise<{ sends: Array<readonly MessageToProduce<Buffer, Buffer, Buffer, Buffer>[]>; error: unknown }> {
  const sends: Array<readonly MessageToProduce<Buffer, Buffer, Buffer, Buffer>[]> = [];
  const onSend = (context: unknown): void => {
    sends.push((context as { options: { messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] } }).options.messages);
  };
  const channel = 'tracing:plt:kafka:producer:sends:start';
  subscribe(channel, onSend);
  try {
    return await during().then(
      () => ({ sends, error: undefined }),
      (error: unknown) => ({ sends, error }),
    );
  } finally {
    unsubscribe(channel, onSend);
  }
}

/** Bytes of a request's records as the producer bounds them: payload, key, headers, 32 bytes each besides. */
const requestBytes = (records: readonly MessageToProduce<Buffer, Buffer, Buffer, Buffer>[]): number =>
  records.reduce((n, r) => n + 32 + (r.value?.byteLength ?? 0) + (r.key?.byteLength ?? 0) + [...(r.headers as Map<Buffer, Buffer>)].reduce((h, [k, v]) => h + k.byteLength + v.byteLength + 2, 0), 0);

const numbered = (count: number, bytes: number): OutgoingMessage[] => Array.from({ length: count }, (_, i) => ({ id: `m-${i}`, payload: Buffer.alloc(bytes, i % 256) }));

describe.skipIf(!usingMock())('Kafka producer: one publish larger than batchMaxBytes', () => {
  it('goes as several produce requests, each within batchMaxBytes, and every message arrives in order, before a later publish', async () => {
    const t = cluster.keep(kafka({ brokers: cluster.brokers, producer: { timeoutMs: 60_000 }, consumer: quickConsumer }));
    const topic = `split.${Date.now().toString(36)}`;
    await cluster.control(`create-topic ${topic} 1 1`);
    const inbox = new Inbox();
    cluster.keep(await t.subscribe(topic, { group: 'g', from: 'earliest' }, async (m) => inbox.push(m)));
    // 10,000 × 256 B, about 3.4 MB with ids and overhead: one batch that size, Kafka refuses whole
    // (message.max.bytes, 1,048,588 by default).
    // Not awaited in between: the small publish must not land between the parts of the large one.
    const { sends, error } = await sendsDuring(() => Promise.all([t.publish(topic, numbered(10_000, 256)), t.publish(topic, { id: 'later', payload: Buffer.alloc(1) })]));
    expect(error).toBeUndefined();
    expect(sends.length).toBeGreaterThanOrEqual(5);
    for (const records of sends) expect(requestBytes(records)).toBeLessThanOrEqual(1_000_000);
    expect(sends.reduce((n, records) => n + records.length, 0)).toBe(10_001);
    await inbox.untilCount(10_001, 60_000);
    expect(inbox.messages.map((m) => m.id)).toEqual([...Array.from({ length: 10_000 }, (_, i) => `m-${i}`), 'later']);
  }, 120_000);

  it('rejects when one of its requests is refused, saying how many messages were acknowledged, and sends nothing after it', async () => {
    const t = cluster.keep(kafka({ brokers: cluster.brokers, producer: { retries: 0, timeoutMs: 30_000, batchMaxBytes: 50_000 }, consumer: quickConsumer }));
    const topic = `split-refused.${Date.now().toString(36)}`;
    await cluster.control(`create-topic ${topic} 1 1`);
    await t.publish(topic, { id: 'first', payload: Buffer.alloc(1) }); // the producer has its id and metadata
    // The third produce request from now is refused (10: MESSAGE_TOO_LARGE), the two before pass.
    await cluster.control('push-errors Produce 0 2');
    await cluster.control('push-errors Produce 10 1');
    const messages = numbered(1_000, 256);
    const { sends, error: failure } = await sendsDuring(() => t.publish(topic, messages));
    await cluster.control('clear-errors Produce');
    expect(sends).toHaveLength(3); // two acknowledged, the refused one, and none after it
    const acknowledged = sends[0]!.length + sends[1]!.length;
    expect(isTransportError(failure)).toBe(true);
    expect((failure as TransportError).retryable).toBe(false);
    expect((failure as Error).message).toMatch(/MESSAGE_TOO_LARGE/);
    expect((failure as Error).message).toContain(`${acknowledged} of 1000 messages (the first ${acknowledged}, in order) were acknowledged`);

    await t.publish(topic, { id: 'last', payload: Buffer.alloc(1) });
    const inbox = new Inbox();
    cluster.keep(await t.subscribe(topic, { group: 'g', from: 'earliest' }, async (m) => inbox.push(m)));
    await inbox.until(() => inbox.ids().has('last'), 60_000, () => `${inbox.messages.length} messages, no "last"`);
    expect(inbox.messages.map((m) => m.id)).toEqual(['first', ...messages.slice(0, acknowledged).map((m) => m.id), 'last']);
  }, 120_000);
});

describe.skipIf(!usingMock())('Kafka producer: one publish larger than batchMaxBytes, timing out', () => {
  it('rejects at producer.timeoutMs saying how many messages were acknowledged, sends no further part, and holds no later publish back', async () => {
    // The client's own request timeout far beyond the publish's: the publish times out, not the request.
    const t = cluster.keep(
      kafka({ brokers: cluster.brokers, requestTimeoutMs: 120_000, producer: { retries: 0, timeoutMs: 3_000, batchMaxBytes: 50_000 }, consumer: quickConsumer }),
    );
    const run = Date.now().toString(36);
    const [slow, other] = [`split-timeout.${run}.slow`, `split-timeout.${run}.other`];
    await cluster.control(`create-topic ${slow} 1 1`);
    await cluster.control(`create-topic ${other} 1 1`);
    await cluster.control(`set-leader ${slow} 0 1`);
    await cluster.control(`set-leader ${other} 0 2`);
    await t.publish(slow, { id: 'first', payload: Buffer.alloc(1) }); // the producer has its id and metadata
    await t.publish(other, { id: 'first', payload: Buffer.alloc(1) });
    // Broker 1 answers two produce requests at once and the third a minute late (stored, not yet acknowledged).
    await cluster.control('broker-push-errors 1 Produce 0 2 0');
    await cluster.control('broker-push-errors 1 Produce 0 1 60000');
    const messages = numbered(1_000, 256);
    const { sends, error: failure } = await sendsDuring(() => t.publish(slow, messages));
    expect(sends).toHaveLength(3); // two acknowledged, one in flight when the time was up
    const acknowledged = sends[0]!.length + sends[1]!.length;
    expect(isTransportError(failure)).toBe(true);
    expect((failure as TransportError).retryable).toBe(true);
    expect((failure as Error).message).toContain(`publish to "${slow}" timed out after 3000 ms — `);
    expect((failure as Error).message).not.toContain(`publish to "${slow}": publish to`); // said once
    expect((failure as Error).message).toContain(`${acknowledged} of 1000 messages (the first ${acknowledged}, in order) had been acknowledged`);

    // A publish issued after the rejection goes at once, not after the request still in flight.
    const later = await sendsDuring(() => t.publish(other, { id: 'after', payload: Buffer.alloc(1) }));
    expect(later.error).toBeUndefined();
    expect(later.sends.flat().map((r) => r.topic)).toEqual([other]); // and no part of the rejected publish went with it

    // Broker 1 drops its connections: the request in flight fails. Nothing of the publish is sent after it.
    await cluster.control('broker-down 1');
    await cluster.control('broker-up 1');
    await t.publish(slow, { id: 'last', payload: Buffer.alloc(1) });
    const inbox = new Inbox();
    cluster.keep(await t.subscribe(slow, { group: 'g', from: 'earliest' }, async (m) => inbox.push(m)));
    await inbox.until(() => inbox.ids().has('last'), 60_000, () => `${inbox.messages.length} messages, no "last"`);
    const ids = inbox.messages.map((m) => m.id);
    // The request in flight at the timeout "may still be stored": the mock stores a request before
    // it delays the answer, so it is, before "last". Nothing after it is.
    expect(ids).toEqual(['first', ...messages.slice(0, acknowledged + sends[2]!.length).map((m) => m.id), 'last']);
  }, 120_000);
});
