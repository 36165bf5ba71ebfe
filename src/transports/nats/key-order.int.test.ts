import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { Message } from '../../core/message.ts';
import { deferred } from '../../internal/deferred.ts';
import { Inbox } from '../../testing/inbox.ts';
import { nats, natsLag, planStream } from './index.ts';
import type { JetStreamSubscription } from './jetstream-subscription.ts';
import { parseAckSubject } from './mapping.ts';

// Per-key order after failed handlers, with more messages waiting than a subscription pulls ahead
// (`prefetch`, 64 by default): the case where a nak'ed message used to be overtaken.
const run = `sy-js-order-${randomBytes(4).toString('hex')}`;
const transports: Array<ReturnType<typeof nats>> = [];
function transport(options: Parameters<typeof nats>[0] = {}): ReturnType<typeof nats> {
  const t = nats({ ...options, consumers: { ackWaitMs: 5_000, redeliveryDelayMs: 50, ...options.consumers } });
  transports.push(t);
  return t;
}

afterAll(async () => {
  for (const t of transports) await t.close();
  const admin = nats();
  await admin.connect();
  await admin.native.manager!.streams.delete(planStream(`${run}.x`, admin.options).name).catch(() => undefined);
  await admin.close();
});

/** `count` messages `m-0`, `m-1`, … with key `k<i % keys>`. */
function batch(count: number, keys: number): Array<{ id: string; key: string; payload: Buffer }> {
  return Array.from({ length: count }, (_, i) => ({ id: `m-${i}`, key: `k${i % keys}`, payload: Buffer.from(String(i)) }));
}

/** Ids of the successfully handled messages, per key, in the order they were handled. */
function byKey(messages: ReadonlyArray<Pick<Message, 'id' | 'key'>>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of messages) (out.get(m.key) ?? out.set(m.key, []).get(m.key)!).push(m.id);
  return out;
}

describe('NATS JetStream per-key order after failures', () => {
  it('with concurrency 1, a failed first message is handled again before the backlog behind it', async () => {
    const bus = transport();
    const topic = `${run}.one-key`;
    const messages = batch(200, 1);
    await bus.publish(topic, messages);
    const inbox = new Inbox();
    const attempts: string[] = [];
    await bus.subscribe(topic, { group: 'g', from: 'earliest', concurrency: 1 }, async (m) => {
      if (m.id === 'm-0') attempts.push(`${m.id}#${m.attempt}`);
      if (m.id === 'm-0' && m.attempt === 1) throw new Error('first attempt fails');
      inbox.push(m);
    });
    await inbox.untilCount(200, 20_000);
    expect(inbox.messages.map((m) => m.id)).toEqual(messages.map((m) => m.id));
    expect(attempts).toEqual(['m-0#1', 'm-0#2']);
  });

  it('with concurrency 4 and several keys, each key keeps its order and nothing is lost or handled twice', async () => {
    const bus = transport();
    const topic = `${run}.many-keys`;
    const messages = batch(400, 5);
    await bus.publish(topic, messages);
    const inbox = new Inbox();
    const failed = new Set<string>();
    await bus.subscribe(topic, { group: 'g', from: 'earliest', concurrency: 4 }, async (m) => {
      // The first message of every key fails twice; so does one in the middle of k2.
      if ((Number(m.id.slice(2)) < 5 || m.id === 'm-202') && m.attempt < 3) {
        failed.add(m.id);
        throw new Error(`attempt ${m.attempt} fails`);
      }
      inbox.push(m);
    });
    await inbox.untilCount(400, 20_000);
    expect(failed).toEqual(new Set(['m-0', 'm-1', 'm-2', 'm-3', 'm-4', 'm-202']));
    expect(inbox.distinct).toBe(400);
    expect(byKey(inbox.messages)).toEqual(byKey(messages));
  });

  it('keeps order with a small prefetch window and a message failing several times', async () => {
    const bus = transport({ consumers: { prefetch: 8 } });
    const topic = `${run}.small-window`;
    const messages = batch(50, 1);
    await bus.publish(topic, messages);
    const inbox = new Inbox();
    const attempts: number[] = [];
    await bus.subscribe(topic, { group: 'g', from: 'earliest', concurrency: 1 }, async (m) => {
      if (m.id === 'm-3') attempts.push(m.attempt);
      if (m.id === 'm-3' && m.attempt < 4) throw new Error('fails three times');
      inbox.push(m);
    });
    await inbox.untilCount(50, 20_000);
    expect(inbox.messages.map((m) => m.id)).toEqual(messages.map((m) => m.id));
    expect(attempts).toEqual([1, 2, 3, 4]);
  });

  it('with no redelivery delay, a keyed message failing again and again leaves the event loop turning', async () => {
    const bus = transport({ consumers: { redeliveryDelayMs: 0 } });
    const topic = `${run}.no-delay`;
    await bus.publish(topic, batch(3, 1));
    const inbox = new Inbox();
    let timerFired = false;
    let attempts = 0;
    await bus.subscribe(topic, { group: 'g', from: 'earliest', concurrency: 1 }, async (m) => {
      if (m.id === 'm-0' && ++attempts === 1) setTimeout(() => (timerFired = true), 20);
      // Fails until a timer fired: retried in microtasks alone, it would never succeed.
      if (m.id === 'm-0' && !timerFired) throw new Error('not yet');
      inbox.push(m);
    });
    await inbox.untilCount(3, 10_000);
    expect(inbox.messages.map((m) => m.id)).toEqual(['m-0', 'm-1', 'm-2']);
    expect(attempts).toBeGreaterThan(1);
  });

  it('gives up on a keyed message after consumers.maxDeliver attempts, and the key goes on', async () => {
    const bus = transport({ consumers: { maxDeliver: 3 } });
    const topic = `${run}.max-deliver`;
    await bus.publish(topic, batch(5, 1));
    const inbox = new Inbox();
    const attempts: number[] = [];
    const sub = await bus.subscribe(topic, { group: 'g', from: 'earliest', concurrency: 1 }, async (m) => {
      if (m.id === 'm-0') {
        attempts.push(m.attempt);
        throw new Error('always fails');
      }
      inbox.push(m);
    });
    await inbox.untilCount(4, 20_000);
    expect(attempts).toEqual([1, 2, 3]);
    expect(inbox.messages.map((m) => m.id)).toEqual(['m-1', 'm-2', 'm-3', 'm-4']);
    await sub.close(); // flushes the acks and the +TERM
    // Terminated, not left pending: the server will not deliver it again.
    expect(await natsLag(bus, [{ topic, group: 'g' }])).toMatchObject([{ pending: 0, ackPending: 0 }]);
  });

  it('on close, a message whose running handler fails goes back before the later messages of its key', async () => {
    const bus = transport({ drainTimeoutMs: 100 });
    const topic = `${run}.close`;
    const messages = batch(10, 1);
    await bus.publish(topic, messages);
    const started = deferred();
    const first = await bus.subscribe(topic, { group: 'g', from: 'earliest', concurrency: 1 }, async (m, { signal }) => {
      if (m.id !== 'm-0') throw new Error(`${m.id} ran while m-0 was running`);
      started.resolve();
      // Fails only once close() gave up waiting (drainTimeoutMs): after the waiting messages were handed back.
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      throw new Error('aborted by close');
    });
    await started.promise;
    await first.close();
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g', concurrency: 1 }, async (m) => inbox.push(m));
    await inbox.untilCount(10, 20_000);
    expect(inbox.messages.map((m) => m.id)).toEqual(messages.map((m) => m.id));
    expect(inbox.messages[0]!.attempt).toBe(2);
  });

  it("on close, a handler that ignores its aborted signal is given up on: its message is nak'ed ahead of the later ones of its key, and its late success acks nothing", async () => {
    // An ack wait far beyond the test: the message can only come back this soon because it was nak'ed.
    const bus = transport({ consumers: { ackWaitMs: 120_000 } });
    const topic = `${run}.gives-up`;
    const messages = batch(10, 1);
    await bus.publish(topic, messages);
    const details: string[] = [];
    bus.on('status', (s) => s.type === 'consumer' && details.push(s.detail));
    const started = deferred();
    const stuck = deferred();
    const first = (await bus.subscribe(topic, { group: 'g', from: 'earliest', concurrency: 1, drainTimeoutMs: 100 }, async () => {
      started.resolve();
      await stuck.promise; // ignores its signal
    })) as JetStreamSubscription;
    // Every ack this group's members send, by stream sequence (the connection hears its own).
    const acks: Array<[number, string]> = [];
    bus.native.connection.subscribe('$JS.ACK.>', {
      callback: (_, m) => {
        const info = parseAckSubject(m.subject);
        if (info?.stream === first.stream && info.consumer === first.consumerName) acks.push([info.streamSequence, m.string()]);
      },
    });
    await bus.native.connection.flush();
    await started.promise;
    await first.close();
    expect(details).toEqual([expect.stringMatching(/^close\(\) gave up after 100 ms on 1 running handler\(s\)/)]);
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g', concurrency: 1 }, async (m) => {
      inbox.push(m);
      if (m.id === 'm-0') stuck.resolve(); // the abandoned handler succeeds now, while its message runs here
    });
    await inbox.untilCount(10, 20_000);
    expect(inbox.messages.map((m) => m.id)).toEqual(messages.map((m) => m.id));
    expect(inbox.messages[0]!.attempt).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const acked = acks.filter(([, data]) => data === '+ACK').map(([seq]) => seq);
    expect(acked).toHaveLength(10); // one per message: none from the abandoned handler
    expect(new Set(acked).size).toBe(10);
    expect(acks.filter(([, data]) => data === '-NAK')).toHaveLength(10); // the running one, then the nine waiting behind it
    expect(await natsLag(bus, [{ topic, group: 'g' }])).toMatchObject([{ pending: 0, ackPending: 0 }]);
  });
});
