import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { bridge } from '../bridge/bridge.ts';
import { json } from '../codecs/json.ts';
import { isConfigError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import { deadLetter } from '../middleware/dead-letter.ts';
import { harness } from '../middleware/harness.test-support.ts';
import { replayDeadLetters } from '../router/dlq.ts';
import { Router } from '../router/router.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory } from '../transports/memory/index.ts';
import { encrypted, ENCRYPTION_TOPIC_HEADER } from './encrypted.ts';

interface Payment {
  orderId: string;
  amount: number;
}
const k1 = randomBytes(32);
const keyring = { current: 'k1', keys: { k1 } };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function failure(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
}

/** What a message as received looks like when someone who can publish sends it again. */
const resend = (m: Message, id = m.id) => ({ id, key: m.key, payload: m.payload, headers: m.headers });

/** What each test started, stopped in reverse order afterwards. */
const open: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of open.splice(0).toReversed()) await stop();
});

describe('encrypted(): the payload is bound to its topic and message id', () => {
  it('dead-letters a payload captured on one topic and published to another, or re-sent under another id', async () => {
    const codec = encrypted(json<Payment>(), { keyring });
    const received: Payment[] = [];
    const h = await harness<Payment>('enc-moved', [deadLetter({ maxAttempts: 5 })], (msg, _ctx, h) => {
      received.push(msg.payload);
      h.done.push(msg as unknown as Message);
    }, { codec });
    // The attacker can publish and read: it captures a refund from another topic of the same
    // service (same keyring) and replays it as a payment; and re-sends a genuine payment under a
    // fresh id, which idempotency() would not recognise as a duplicate.
    const refunds = `${h.topic}.refunds`;
    const captured = new Inbox();
    await h.bus.subscribe(refunds, { group: 'attacker', from: 'earliest' }, async (m) => captured.push(m));
    await h.bus.subscribe(h.topic, { group: 'attacker', from: 'earliest' }, async (m) => captured.push(m));
    await h.bus.publish(refunds, codec.encode({ orderId: 'o-1', amount: 500 }, { id: 'refund-1', topic: refunds }));
    await h.bus.publish(h.topic, codec.encode({ orderId: 'o-2', amount: 10 }, { id: 'pay-2', topic: h.topic }));
    await captured.untilCount(2, 5_000);
    await h.done.untilCount(1, 5_000);
    const [refund, payment] = [captured.messages.find((m) => m.id === 'refund-1')!, captured.messages.find((m) => m.id === 'pay-2')!];
    await h.bus.publish(h.topic, [resend(refund), resend(payment, 'pay-2-again')]);
    await h.dlq.untilCount(2, 5_000);
    await h.stop();
    expect(received).toEqual([{ orderId: 'o-2', amount: 10 }]);
    const reasons = Object.fromEntries(h.dlq.messages.map((m) => [m.id, m.headers['x-error']]));
    expect(reasons['refund-1']).toMatch(new RegExp(`decryption failed: the payload was sealed for topic "${refunds}" and arrived on "${h.topic}".*acceptTopics`));
    expect(reasons['pay-2-again']).toMatch(/decryption failed: authentication tag mismatch with key "k1": .*the message id/);
    // Rewriting the sealed-topic header does not help: it is bound into the tag.
    const forged = { ...resend(refund), headers: { ...refund.headers, [ENCRYPTION_TOPIC_HEADER]: h.topic } };
    expect(failure(() => codec.decode({ ...forged, topic: h.topic })).message).toMatch(/authentication tag mismatch/);
    const stripped = { ...resend(refund), headers: Object.fromEntries(Object.entries(refund.headers).filter(([name]) => name !== ENCRYPTION_TOPIC_HEADER)) };
    expect(failure(() => codec.decode({ ...stripped, topic: h.topic })).message).toMatch(/authentication tag mismatch/);
  });

  it('needs the topic when encoding, says how to do without, and checks its options', () => {
    const codec = encrypted(json<Payment>(), { keyring });
    const missing = failure(() => codec.encode({ orderId: 'o', amount: 1 }));
    expect(isConfigError(missing)).toBe(true);
    expect(missing.message).toMatch(/encode\(value, \{ topic \}\) needs the topic the message is published to.*bindTopic: false/);
    expect(failure(() => codec.encode({ orderId: 'o', amount: 1 }, { topic: 'orders.*' })).message).toMatch(/wildcards are for subscriptions/);
    // The id is bound, so one is generated when absent (publish would keep it).
    expect(codec.encode({ orderId: 'o', amount: 1 }, { topic: 'pay' }).id).toMatch(/^[0-9a-f-]{36}$/);

    // bindTopic: false (reply inboxes): no topic needed, none checked; the id is still bound.
    const inbox = encrypted(json<Payment>(), { keyring, bindTopic: false });
    const reply = inbox.encode({ orderId: 'o', amount: 1 }, { id: 'r-1' });
    expect(reply.headers![ENCRYPTION_TOPIC_HEADER]).toBeUndefined();
    expect(inbox.decode({ topic: '_INBOX.x1', id: 'r-1', payload: reply.payload, headers: reply.headers })).toEqual({ orderId: 'o', amount: 1 });
    expect(failure(() => inbox.decode({ topic: '_INBOX.x1', id: 'r-2', payload: reply.payload, headers: reply.headers })).message).toMatch(/authentication tag mismatch/);
    // A codec that binds topics refuses such a payload: it could have come from anywhere.
    expect(failure(() => codec.decode({ topic: 'pay', id: 'r-1', payload: reply.payload, headers: reply.headers })).message).toMatch(/sealed without a topic \(its producer's codec has bindTopic: false\)/);

    const error = failure(() => encrypted(json(), { keyring, acceptTopics: ['orders..placed'], bindTopic: 'yes' as never, acceptVersion1: 0 as never }));
    expect(isConfigError(error)).toBe(true);
    expect(error.message).toMatch(/acceptTopics: pattern "orders\.\.placed" has an empty token/);
    expect(error.message).toMatch(/bindTopic must be true or false/);
    expect(error.message).toMatch(/acceptVersion1 must be true or false/);
    expect(failure(() => encrypted(json(), { keyring, bindTopic: false, acceptTopics: ['a'] })).message).toMatch(/acceptTopics has no effect with bindTopic: false/);
  });

  it('forwards through a Bridge: a route that keeps the topic decrypts as is, one that renames needs the source topic in acceptTopics', async () => {
    const shop = memory();
    const legacy = memory();
    open.push(() => shop.close(), () => legacy.close());
    const b = await bridge(
      {
        transports: { shop, legacy },
        routes: [
          { name: 'same-name', from: { transport: 'shop', topic: 'payments.requested', start: 'earliest' }, to: { transport: 'legacy', topic: '{topic}' } },
          { name: 'renamed', from: { transport: 'shop', topic: 'payments.requested', start: 'earliest' }, to: { transport: 'legacy', topic: 'legacy.payments' } },
        ],
      },
      { logger: quiet },
    );
    open.push(() => b.stop());
    const strict = encrypted(json<Payment>(), { keyring });
    const renamedOk = encrypted(json<Payment>(), { keyring, acceptTopics: ['payments.*'] });
    const got = { same: new Inbox(), renamed: new Inbox(), dead: new Inbox() };
    const decoded: Array<{ route: string; payload: Payment }> = [];
    const router = new Router({ logger: quiet, closeTransports: false }).use(deadLetter({ maxAttempts: 1 }));
    open.push(() => router.stop());
    router.handle('same', { from: legacy, topic: 'payments.requested', group: 'g', codec: strict }, async (msg) => {
      decoded.push({ route: 'same', payload: msg.payload });
      got.same.push({ ...msg, payload: msg.bytes } as Message);
    });
    router.handle('renamed', { from: legacy, topic: 'legacy.payments', group: 'g', codec: renamedOk }, async (msg) => {
      decoded.push({ route: 'renamed', payload: msg.payload });
      got.renamed.push({ ...msg, payload: msg.bytes } as Message);
    });
    // Reads the payload, so the codec decides: the message must end in the DLQ, not here.
    router.handle('renamed-strict', { from: legacy, topic: 'legacy.payments', group: 'strict', codec: strict }, async (msg) => {
      decoded.push({ route: 'renamed-strict', payload: msg.payload });
    });
    await legacy.subscribe('legacy.payments.dlq', { group: 'watch', from: 'earliest' }, async (m) => got.dead.push(m));
    await router.start();
    await shop.publish('payments.requested', strict.encode({ orderId: 'o-1', amount: 7 }, { id: 'p-1', topic: 'payments.requested' }));
    await Promise.all([got.same.untilCount(1, 5_000), got.renamed.untilCount(1, 5_000), got.dead.untilCount(1, 5_000)]);
    const value = { orderId: 'o-1', amount: 7 };
    expect(decoded.toSorted((a, b) => a.route.localeCompare(b.route))).toEqual([{ route: 'renamed', payload: value }, { route: 'same', payload: value }]);
    expect(got.same.messages[0]!.id).toBe('p-1'); // the Bridge carries the id, so the bound id holds
    expect(got.renamed.messages[0]!.id).toBe('p-1');
    expect(got.dead.messages[0]!.headers['x-error']).toMatch(/sealed for topic "payments\.requested" and arrived on "legacy\.payments".*add "payments\.requested" to this codec's acceptTopics/);
  });

  it('survives the dead-letter round trip: replayed to the original topic it decrypts; read on the DLQ with acceptTopics', async () => {
    const codec = encrypted(json<Payment>(), { keyring });
    let healthy = false;
    const h = await harness<Payment>('enc-dlq', [deadLetter({ maxAttempts: 1 })], (msg, _ctx, h) => {
      if (!healthy) throw new Error('ledger unavailable');
      h.done.push({ ...msg, payload: msg.bytes } as Message);
    }, { codec });
    await h.bus.publish(h.topic, codec.encode({ orderId: 'o-9', amount: 3 }, { id: 'p-9', topic: h.topic }));
    await h.dlq.untilCount(1, 5_000);
    const dead = h.dlq.messages[0]!;
    expect(dead.topic).toBe(`${h.topic}.dlq`);
    // Inspecting the dead letter with the keys: its topic is not the one it was sealed for.
    expect(failure(() => codec.decode(dead)).message).toMatch(/sealed for topic .* and arrived on ".*\.dlq"/);
    expect(encrypted(json<Payment>(), { keyring, acceptTopics: [h.topic] }).decode(dead)).toEqual({ orderId: 'o-9', amount: 3 });

    healthy = true;
    expect(await replayDeadLetters(h.bus, `${h.topic}.dlq`, { idleMs: 100 })).toEqual(['p-9']);
    await h.done.untilCount(1, 5_000);
    await h.stop();
    expect(codec.decode({ ...h.done.messages[0]!, topic: h.topic })).toEqual({ orderId: 'o-9', amount: 3 });
  });
});

describe('encrypted(): frames sealed by the previous version (1)', () => {
  // Produced by the version-1 code (before topic and id were bound) with key 0x5a × 32 and
  // bindHeaders ['x-tenant']: `json().encode({ orderId: 'o-1', customer: 'alice@example.com' }, { id: 'v1-1', headers: { 'x-tenant': 'acme' } })`.
  const v1Key = Buffer.alloc(32, 0x5a);
  const v1 = {
    id: 'v1-1',
    payload: Buffer.from('ARalZwdiiMvBhnf12dCcjvGJjgTXLFwAmSEiaYeV6NRBZ9ekr9HBjn98fsCXSaEwRK8LUhTjMFxf43XT/nmPLWHjDisPwbyUWMTEjxo=', 'base64'),
    headers: {
      'x-tenant': 'acme',
      'content-type': 'application/x-switchyard-encrypted',
      'x-switchyard-enc-key': 'k1',
      'x-switchyard-enc-content-type': 'application/json',
      'x-switchyard-enc-headers': 'x-tenant',
    },
  };

  it('still decrypt through a Router, and can be refused with acceptVersion1: false once none are left', async () => {
    const codec = encrypted(json(), { keyring: { current: 'k1', keys: { k1: v1Key } }, bindHeaders: ['x-tenant'] });
    const received: unknown[] = [];
    const h = await harness<unknown>('enc-v1', [deadLetter({ maxAttempts: 1 })], (msg, _ctx, h) => {
      received.push(msg.payload);
      h.done.push({ ...msg, payload: msg.bytes } as Message);
    }, { codec });
    await h.bus.publish(h.topic, v1);
    await h.done.untilCount(1, 5_000);
    await h.stop();
    expect(received).toEqual([{ orderId: 'o-1', customer: 'alice@example.com' }]);
    expect(h.dlq.messages).toHaveLength(0);
    // Still tamper-evident as before.
    expect(failure(() => codec.decode({ ...v1, topic: 't', headers: { ...v1.headers, 'x-tenant': 'globex' } })).message).toMatch(/authentication tag mismatch/);

    const strict = encrypted(json(), { keyring: { current: 'k1', keys: { k1: v1Key } }, bindHeaders: ['x-tenant'], acceptVersion1: false });
    expect(failure(() => strict.decode({ ...v1, topic: 't' })).message).toMatch(/version-1 frame refused \(acceptVersion1: false\)/);
    // A current frame cannot be passed off as version 1 to escape the topic check: the version is bound.
    const fresh = codec.encode({ orderId: 'o-2' }, { topic: 'payments', headers: { 'x-tenant': 'acme' } });
    const downgraded = Uint8Array.from(fresh.payload);
    downgraded[0] = 1;
    expect(failure(() => codec.decode({ topic: 'refunds', id: fresh.id!, payload: downgraded, headers: fresh.headers })).message).toMatch(/authentication tag mismatch/);
  });
});
