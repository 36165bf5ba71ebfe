import { randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import type { Message } from '../../core/message.ts';
import { deferred } from '../../internal/deferred.ts';
import { withTimeout } from '../../internal/with-timeout.ts';
import { Inbox } from '../../testing/inbox.ts';
import { wireSize } from './max-payload.ts';
import { consumerName, nats, planStream, type NatsOptions, type NatsStatus, type NatsTransport } from './index.ts';

const run = `sy-maxdel-${randomBytes(4).toString('hex')}`;
type MaxDeliveries = Extract<NatsStatus, { type: 'max-deliveries' }>;

describe('NATS messages that reach consumers.maxDeliver', () => {
  const opened: NatsTransport[] = [];
  const open = (options: NatsOptions): NatsTransport => {
    const bus = nats(options);
    opened.push(bus);
    return bus;
  };
  const reports = (bus: NatsTransport, count: number): { list: MaxDeliveries[]; done: Promise<void> } => {
    const list: MaxDeliveries[] = [];
    const done = deferred();
    bus.on('status', (s) => {
      if (s.type === 'max-deliveries' && list.push(s) >= count) done.resolve();
    });
    return { list, done: done.promise };
  };
  const dlq = (m: Message): string => `${m.topic}.dlq`;
  afterAll(async () => {
    await Promise.all(opened.map((b) => b.close()));
    const admin = nats();
    await admin.connect();
    await admin.native.manager!.streams.delete(planStream(`${run}.x`, admin.options).name).catch(() => undefined);
    await admin.close();
  });

  it('a handler failing on every attempt: the message is reported with its error and dead-lettered, keyed or not', async () => {
    const bus = open({ consumers: { maxDeliver: 2, redeliveryDelayMs: 0, deadLetterTopic: dlq } });
    const topic = `${run}.failing`;
    const seen = reports(bus, 2);
    await bus.subscribe(topic, { group: 'g', from: 'earliest' }, async (m) => {
      throw new Error(`cannot handle ${m.id}`);
    });
    await bus.publish(topic, [
      { id: 'plain-1', payload: new TextEncoder().encode('one'), headers: { 'x-trace': 't-1' } },
      { id: 'keyed-1', key: 'k', payload: new TextEncoder().encode('two') },
    ]);
    await seen.done;
    const byId = new Map(seen.list.map((s) => [s.messageId, s]));
    for (const id of ['plain-1', 'keyed-1']) {
      expect(byId.get(id)).toMatchObject({
        topic,
        group: 'g',
        stream: planStream(topic, bus.options).name,
        deliveries: 2,
        reason: `its handler failed: cannot handle ${id}`,
        deadLetterTopic: `${topic}.dlq`,
      });
    }
    const letters = new Inbox();
    await bus.subscribe(`${topic}.dlq`, { group: 'dlq-reader', from: 'earliest' }, async (m) => letters.push(m));
    await letters.untilCount(2, 10_000);
    const plain = letters.messages.find((m) => m.id === 'plain-1')!;
    expect(new TextDecoder().decode(plain.payload)).toBe('one');
    expect(plain.headers).toMatchObject({
      'x-trace': 't-1',
      'x-error': 'its handler failed: cannot handle plain-1',
      'x-original-topic': topic,
      'x-original-offset': String(byId.get('plain-1')!.streamSequence),
      'x-original-group': 'g',
      'x-attempts': '2',
    });
    expect(letters.messages.find((m) => m.id === 'keyed-1')!.headers['x-original-key']).toBe('k');
  });

  it('deliveries that ran out without a failure here (a member that crashed holding it) are reported from the server\'s advisory, the message read back', async () => {
    const bus = open({ consumers: { maxDeliver: 2, ackWaitMs: 1_000, deadLetterTopic: dlq } });
    const topic = `${run}.crashing`;
    const seen = reports(bus, 1);
    const sub = await bus.subscribe(topic, { group: 'g', from: 'earliest' }, async () => {
      throw new Error('this member never gets it');
    });
    sub.pause(); // the deliveries go to the "crashing" member below
    const jsm = bus.native.manager!;
    const stream = planStream(topic, bus.options).name;
    const name = consumerName('g', topic);
    // Wait for the paused member's open pull request to expire (it could take the message).
    while ((await jsm.consumers.info(stream, name)).num_waiting > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    await bus.publish(topic, { id: 'crash-1', payload: new TextEncoder().encode('three') });
    // Another member of the group that takes the message and dies before acking, twice.
    const crashing = jetstream(bus.native.connection);
    const consumer = await crashing.consumers.get(stream, name);
    for (let i = 1; i <= 2; i++) expect((await consumer.next({ expires: 10_000 }))?.info.deliveryCount).toBe(i);
    expect(await consumer.next({ expires: 3_000 })).toBeNull(); // the server gave up on it
    await seen.done;
    expect(seen.list).toEqual([
      expect.objectContaining({ topic, group: 'g', stream, messageId: 'crash-1', deliveries: 2, deadLetterTopic: `${topic}.dlq`, reason: expect.stringMatching(/^delivered 2 times without being acknowledged/) }),
    ]);
    const letters = new Inbox();
    await bus.subscribe(`${topic}.dlq`, { group: 'dlq-reader', from: 'earliest' }, async (m) => letters.push(m));
    await letters.untilCount(1, 10_000);
    expect(letters.messages[0]).toMatchObject({ id: 'crash-1', headers: expect.objectContaining({ 'x-original-topic': topic, 'x-attempts': '2' }) });
    expect(new TextDecoder().decode(letters.messages[0]!.payload)).toBe('three');
  });

  it.each(['subscription', 'transport'] as const)(
    'a message the server gives up on while a member closes (its %s), its last pull request still open, is reported and dead-lettered, not lost',
    async (closed) => {
      const options: NatsOptions = { consumers: { maxDeliver: 2, ackWaitMs: 30_000, deadLetterTopic: dlq } };
      const bus = open(options);
      const later = open(options);
      const topic = `${run}.closing-${closed}`;
      const seen: MaxDeliveries[] = [];
      const reported = deferred();
      for (const b of [bus, later]) {
        b.on('status', (s) => {
          if (s.type === 'max-deliveries' && seen.push(s) >= 1) reported.resolve();
        });
      }
      const sub = await bus.subscribe(topic, { group: 'g', from: 'earliest' }, async () => {
        throw new Error('this member never gets it');
      });
      sub.pause(); // the deliveries go to the other member below
      const jsm = bus.native.manager!;
      const stream = planStream(topic, bus.options).name;
      const name = consumerName('g', topic);
      const waiting = async (want: (n: number) => boolean): Promise<void> => {
        while (!want((await jsm.consumers.info(stream, name)).num_waiting)) await new Promise((resolve) => setTimeout(resolve, 20));
      };
      await waiting((n) => n === 0);
      await bus.publish(topic, { id: `closing-${closed}`, payload: new TextEncoder().encode('four') });
      // Another member (on the same connection, so what it sends reaches the server after the
      // closing member's unsubscribes) takes the message twice and holds the last delivery.
      const other = await jetstream(bus.native.connection).consumers.get(stream, name);
      const first = await other.next({ expires: 10_000 });
      first!.nak();
      const last = await other.next({ expires: 10_000 });
      expect(last?.info.deliveryCount).toBe(2);
      sub.resume();
      await waiting((n) => n > 0); // the closing member's pull request is open on the server
      const closing = closed === 'subscription' ? sub.close() : bus.close();
      // Handed back now, the server gives up on it as it tries the open pull request: the advisory
      // goes to the members listening at that moment.
      last!.nak();
      await closing;
      // A member that comes later: an advisory sent to no one is not sent again, so it reports only
      // what the server gives up on from now on.
      await later.subscribe(topic, { group: 'g' }, async () => undefined);
      await withTimeout(reported.promise, 15_000, 'the report of the message the server gave up on');
      expect(seen).toEqual([expect.objectContaining({ topic, group: 'g', stream, messageId: `closing-${closed}`, deliveries: 2, deadLetterTopic: `${topic}.dlq` })]);
      const letters = new Inbox();
      await later.subscribe(`${topic}.dlq`, { group: 'dlq-reader', from: 'earliest' }, async (m) => letters.push(m));
      await letters.untilCount(1, 10_000);
      expect(letters.messages[0]).toMatchObject({ id: `closing-${closed}`, headers: expect.objectContaining({ 'x-original-topic': topic, 'x-attempts': '2' }) });
    },
  );

  it('a message close to max_payload is still dead-lettered: the error the dead-letter headers carry is shortened to fit', async () => {
    const bus = open({ consumers: { maxDeliver: 1, deadLetterTopic: dlq } });
    await bus.connect();
    const limit = bus.native.connection.info!.max_payload;
    const topic = `${run}.near-limit`;
    const seen = reports(bus, 1);
    await bus.subscribe(topic, { group: 'g', from: 'earliest' }, async () => {
      throw new Error(`cannot handle ${'e'.repeat(5_000)}`); // x-error carries up to 1,000 characters of it
    });
    // Fits as published (with its id, time and header), not with 1,000 characters of error more.
    const payload = new Uint8Array(limit - 600).fill(7);
    await bus.publish(topic, { id: 'near-1', payload, headers: { 'x-trace': 't-1' } });
    await seen.done;
    expect(seen.list[0]).toMatchObject({ messageId: 'near-1', deadLetterTopic: `${topic}.dlq` });
    expect(seen.list[0]!.detail).toContain("its x-error shortened to fit the server's max_payload");
    const letters = new Inbox();
    await bus.subscribe(`${topic}.dlq`, { group: 'dlq-reader', from: 'earliest' }, async (m) => letters.push(m));
    await letters.untilCount(1, 10_000);
    const letter = letters.messages[0]!;
    expect(letter.payload).toEqual(payload);
    expect(letter.headers).toMatchObject({ 'x-trace': 't-1', 'x-original-topic': topic, 'x-original-group': 'g', 'x-attempts': '1' });
    expect(letter.headers['x-error']).toMatch(/^its handler failed: cannot handle e+…$/);
  });

  it('a message whose dead letter cannot fit max_payload at all is reported once, saying so and what to do, and terminated', async () => {
    const bus = open({ consumers: { maxDeliver: 1, deadLetterTopic: dlq } });
    await bus.connect();
    const limit = bus.native.connection.info!.max_payload;
    const topic = `${run}.at-limit`;
    const seen: MaxDeliveries[] = [];
    const first = deferred();
    const second = deferred();
    bus.on('status', (s) => {
      if (s.type !== 'max-deliveries') return;
      seen.push(s);
      (s.messageId === 'small-1' ? second : first).resolve();
    });
    await bus.subscribe(topic, { group: 'g', from: 'earliest' }, async () => {
      throw new Error('bad input');
    });
    // As large as publish allows: the payload with its own headers (id and time) fills max_payload.
    const id = 'full-1';
    const size = limit - wireSize(topic, { id, key: '', payload: new Uint8Array(0), headers: {}, timestamp: Date.now() });
    await bus.publish(topic, { id, payload: new Uint8Array(size) });
    await first.promise;
    expect(seen[0]!.deadLetterTopic).toBeUndefined();
    expect(seen[0]!.detail).toMatch(
      new RegExp(`^message ${id} .*its dead letter does not fit: its payload of ${size} bytes .* take \\d+ bytes, beyond the server's max_payload of ${limit} bytes; raise max_payload in the server config`),
    );
    // Terminated, not left to the server: its advisory would bring it back for a second, equally hopeless try.
    const stream = planStream(topic, bus.options).name;
    while ((await bus.native.manager!.consumers.info(stream, consumerName('g', topic))).ack_floor.stream_seq < seen[0]!.streamSequence) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await bus.publish(topic, { id: 'small-1', payload: new Uint8Array([1]) });
    await second.promise;
    expect(seen.map((s) => s.messageId)).toEqual([id, 'small-1']);
  });

  it('a dead-letter topic the group\'s own topic covers is refused in the report, which does not ask to set the dead-letter topic it has', async () => {
    const bus = open({ consumers: { maxDeliver: 1, deadLetterTopic: dlq } });
    const topic = `${run}.covered.>`;
    const seen = reports(bus, 1);
    await bus.subscribe(topic, { group: 'g', from: 'earliest' }, async () => {
      throw new Error('bad input');
    });
    await bus.publish(`${run}.covered.a`, { id: 'covered-1', payload: new Uint8Array([1]) });
    await seen.done;
    const [report] = seen.list;
    expect(report).toMatchObject({ messageId: 'covered-1', reason: 'its handler failed: bad input' });
    expect(report!.deadLetterTopic).toBeUndefined();
    expect(report!.detail).toContain(`consumers.deadLetterTopic gave "${run}.covered.a.dlq", which the group's own topic "${topic}" covers; give it a topic outside it`);
    expect(report!.detail).not.toContain('set consumers.deadLetterTopic');
  });

  it('without a dead-letter topic the message is still reported, and written as a process warning when no one listens to statuses', async () => {
    const bus = open({ consumers: { maxDeliver: 1 } });
    const topic = `${run}.unheard`;
    const warned = deferred<Error>();
    const onWarning = (w: Error): void => {
      if ((w as { code?: string }).code === 'SWITCHYARD_NATS_MAX_DELIVERIES') warned.resolve(w);
    };
    process.on('warning', onWarning);
    try {
      await bus.subscribe(topic, { group: 'g', from: 'earliest' }, async () => {
        throw new Error('bad input');
      });
      await bus.publish(topic, { id: 'lone-1', payload: new Uint8Array([1]) });
      const warning = await warned.promise;
      expect(warning.message).toMatch(/message lone-1 \(stream "SY_[^"]+", sequence \d+\) of group "g" on ".*unheard" reached consumers.maxDeliver after 1 deliveries \(its handler failed: bad input\); JetStream delivers it no more/);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
