import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { nats, planStream, type NatsStatus, type NatsTransport } from './index.ts';

const run = `sy-cr-${randomBytes(4).toString('hex')}`;
const opened: NatsTransport[] = [];
const open = (options: Parameters<typeof nats>[0] = {}): NatsTransport => {
  const t = nats(options);
  opened.push(t);
  return t;
};

afterAll(async () => {
  for (const t of opened) await t.close();
  const admin = nats();
  await admin.connect();
  for (const topic of [`${run}.x`, `${run}-gone.x`]) await admin.native.manager!.streams.delete(planStream(topic, admin.options).name).catch(() => undefined);
  await admin.close();
});

/** Resolves with the first `consumer` status whose detail matches. */
function consumerStatus(bus: NatsTransport, detail: RegExp): Promise<NatsStatus> {
  return new Promise((resolve) => {
    const off = bus.on('status', (s) => {
      if (s.type === 'consumer' && detail.test(s.detail)) {
        off();
        resolve(s);
      }
    });
  });
}

describe('NATS JetStream group consumers that changed or vanished on the server', () => {
  it('applies consumer options changed since the group was created (a raised maxDeliver lets a message be tried again)', async () => {
    const topic = `${run}.drift`;
    const before = open({ consumers: { maxDeliver: 2, ackWaitMs: 5_000 } });
    await (await before.subscribe(topic, { group: 'g' }, async () => {})).close();

    const bus = open({ consumers: { maxDeliver: -1, ackWaitMs: 60_000, redeliveryDelayMs: 0 } });
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => {
      inbox.push(m);
      if (m.attempt < 3) throw new Error('not yet');
    });
    const where = (await bus.locate(topic, 'g'))!;
    const config = (await where.manager.consumers.info(where.stream, where.consumer)).config;
    expect(config.max_deliver).toBe(-1);
    expect(config.ack_wait).toBe(60_000 * 1_000_000);
    await bus.publish(topic, { id: 'fails-twice', payload: new Uint8Array([1]) });
    await inbox.until(() => inbox.messages.some((m) => m.attempt === 3), 10_000, () => `attempt 3 (got attempts ${inbox.messages.map((m) => m.attempt).join(', ')})`);
  });

  it('creates the consumer again when someone deletes it, and the group receives what was published meanwhile and after', async () => {
    const topic = `${run}.deleted`;
    const bus = open();
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    await bus.publish(topic, { id: 'before', payload: new Uint8Array([1]) });
    await inbox.untilCount(1, 10_000);

    // It resumes after the last message it received, not at the end of the stream.
    const recreated = consumerStatus(bus, new RegExp(`was gone .*created it again, starting at stream sequence ${Number(inbox.messages[0]!.offset) + 1}$`));
    const where = (await bus.locate(topic, 'g'))!;
    await where.manager.consumers.delete(where.stream, where.consumer);
    await bus.publish(topic, { id: 'meanwhile', payload: new Uint8Array([2]) });
    await recreated;
    await bus.publish(topic, { id: 'after', payload: new Uint8Array([3]) });
    await inbox.until(() => inbox.ids().has('after') && inbox.ids().has('meanwhile'), 10_000, () => `meanwhile and after (got ${[...inbox.ids()].join(', ')})`);
    expect(inbox.messages.map((m) => m.id)).toEqual(['before', 'meanwhile', 'after']);
  });

  it('creates stream and consumer again when someone deletes the stream, starting at the new stream\'s beginning', async () => {
    const topic = `${run}-gone.orders`; // a stream of its own (first token), deleted by the test
    const bus = open();
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    await bus.publish(topic, [1, 2, 3].map((n) => ({ id: `old-${n}`, payload: new Uint8Array([n]) })));
    await inbox.untilCount(3, 10_000);

    const recreated = consumerStatus(bus, /was gone .*created it again, starting at stream sequence 1$/);
    const where = (await bus.locate(topic, 'g'))!;
    await where.manager.streams.delete(where.stream);
    await bus.publish(topic, { id: 'new-1', payload: new Uint8Array([4]) }); // creates the stream again (sequence 1)
    await recreated;
    await inbox.until(() => inbox.ids().has('new-1'), 10_000, () => `new-1 (got ${[...inbox.ids()].join(', ')})`);
  });
});
