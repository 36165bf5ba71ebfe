import { randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import type { Message } from '../../core/message.ts';
import { Inbox } from '../../testing/inbox.ts';
import { consumerName, nats, planStream, type NatsOptions, type NatsTransport } from './index.ts';

// A dead letter is the failed message, kept: it keeps the message's time too, so an operator
// listing dead letters (or a replay) sees when the event happened, not when JetStream gave up.
const run = `sy-maxdel-time-${randomBytes(4).toString('hex')}`;
const DAY = 86_400_000;

describe('NATS dead letters of messages that reached consumers.maxDeliver', () => {
  const opened: NatsTransport[] = [];
  const open = (options: NatsOptions): NatsTransport => {
    const bus = nats(options);
    opened.push(bus);
    return bus;
  };
  const dlq = (m: Message): string => `${m.topic}.dlq`;
  afterAll(async () => {
    await Promise.all(opened.map((b) => b.close()));
    const admin = nats();
    await admin.connect();
    await admin.native.manager!.streams.delete(planStream(`${run}.x`, admin.options).name).catch(() => undefined);
    await admin.close();
  });

  async function deadLetters(bus: NatsTransport, topic: string, count: number): Promise<Message[]> {
    const letters = new Inbox();
    await bus.subscribe(`${topic}.dlq`, { group: 'dlq-reader', from: 'earliest' }, async (m) => letters.push(m));
    await letters.untilCount(count, 20_000);
    return letters.messages;
  }

  it('a handler failing on every attempt: the dead letter keeps the original timestamp', async () => {
    const bus = open({ consumers: { maxDeliver: 2, redeliveryDelayMs: 0, deadLetterTopic: dlq } });
    const topic = `${run}.failing`;
    await bus.subscribe(topic, { group: 'g', from: 'earliest' }, async (m) => {
      throw new Error(`cannot handle ${m.id}`);
    });
    const at = Date.now() - 2 * DAY - 321;
    await bus.publish(topic, { id: 'old-1', payload: new TextEncoder().encode('one'), timestamp: at });
    const [letter] = await deadLetters(bus, topic, 1);
    expect(letter).toMatchObject({ id: 'old-1', timestamp: at, headers: expect.objectContaining({ 'x-attempts': '2' }) });
  });

  it('deliveries that ran out on another member (the advisory path, the message read back): the dead letter keeps the original timestamp', async () => {
    const bus = open({ consumers: { maxDeliver: 2, ackWaitMs: 1_000, deadLetterTopic: dlq } });
    const topic = `${run}.crashing`;
    const sub = await bus.subscribe(topic, { group: 'g', from: 'earliest' }, async () => {
      throw new Error('this member never gets it');
    });
    sub.pause(); // the deliveries go to the "crashing" member below
    const jsm = bus.native.manager!;
    const stream = planStream(topic, bus.options).name;
    const name = consumerName('g', topic);
    // Wait for the paused member's open pull request to expire (it could take the message).
    while ((await jsm.consumers.info(stream, name)).num_waiting > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    const at = Date.now() - 5 * DAY - 654;
    await bus.publish(topic, { id: 'crash-1', payload: new TextEncoder().encode('two'), timestamp: at });
    // Another member of the group takes the message and dies before acking, twice.
    const consumer = await jetstream(bus.native.connection).consumers.get(stream, name);
    for (let i = 1; i <= 2; i++) expect((await consumer.next({ expires: 10_000 }))?.info.deliveryCount).toBe(i);
    // A pull after the ack wait is what makes the server give up (and raise the advisory).
    expect(await consumer.next({ expires: 3_000 })).toBeNull();
    const [letter] = await deadLetters(bus, topic, 1);
    expect(letter).toMatchObject({ id: 'crash-1', timestamp: at, headers: expect.objectContaining({ 'x-attempts': '2' }) });
  });
});
