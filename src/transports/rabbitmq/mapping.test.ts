import { describe, expect, it } from 'vitest';
import { topicMatches } from '../../core/topic.ts';
import { bindingKey, defaultQueueName, fitName, fromDelivery, headerProblems, headerText, redeliveryEnvelope, retryDelay, retryQueueName, toEnvelope, wireId } from './mapping.ts';

/** AMQP topic-exchange matching, as the broker does it: `*` one word, `#` zero or more. */
function amqpMatches(binding: string, routingKey: string): boolean {
  const b = binding.split('.');
  const r = routingKey.split('.');
  const go = (i: number, j: number): boolean => {
    if (i === b.length) return j === r.length;
    if (b[i] === '#') return go(i + 1, j) || (j < r.length && go(i, j + 1));
    if (j === r.length) return false;
    return (b[i] === '*' || b[i] === r[j]) && go(i + 1, j + 1);
  };
  return go(0, 0);
}

describe('rabbitmq mapping', () => {
  it('maps * to * and > to *.# so bindings match exactly the topics the pattern matches', () => {
    expect(bindingKey('orders.*.created')).toBe('orders.*.created');
    expect(bindingKey('orders.>')).toBe('orders.*.#');
    const topics = ['orders', 'orders.placed', 'orders.placed.eu', 'orders.a.created', 'users.created', 'x.payment.y', 'a.b.c.d'];
    for (const pattern of ['orders.>', 'orders.*', '*.created', '*.payment.*', '>', 'orders.*.created', 'a.>']) {
      for (const topic of topics) expect(amqpMatches(bindingKey(pattern), topic), `${pattern} vs ${topic}`).toBe(topicMatches(pattern, topic));
    }
  });

  it('names group and retry queues, shortening names beyond 255 bytes with a hash', () => {
    expect(defaultQueueName('orders.placed', 'billing')).toBe('orders.placed.billing');
    expect(retryQueueName('orders.placed.billing', 5000)).toBe('orders.placed.billing.retry.5000');
    const long = `${'t'.repeat(249)}`;
    const a = fitName(`${long}.group-a`);
    const b = fitName(`${long}.group-b`);
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(255);
    expect(a).not.toBe(b);
    expect(fitName('é'.repeat(200))).toMatch(/~[0-9a-f]{16}$/);
  });

  it('picks the redelivery delay per attempt, repeating the last', () => {
    expect(retryDelay([100, 1000], 1)).toBe(100);
    expect(retryDelay([100, 1000], 2)).toBe(1000);
    expect(retryDelay([100, 1000], 9)).toBe(1000);
    expect(retryDelay([], 3)).toBe(0);
  });

  it('round-trips id, key, timestamp and headers, and hides its own headers from handlers', () => {
    const env = toEnvelope({ id: 'id-1', key: 'cust-7', payload: Buffer.from('x'), headers: { a: '1', 'x-empty': '' }, timestamp: 1_700_000_000_123 }, 'ex', 'orders.placed', false);
    expect(env).toMatchObject({ exchange: 'ex', routingKey: 'orders.placed', durable: true, messageId: 'id-1', timestamp: 1_700_000_000 });
    const m = fromDelivery({ ...env, body: Buffer.from('x') } as never);
    expect(m).toMatchObject({ topic: 'orders.placed', id: 'id-1', key: 'cust-7', headers: { a: '1', 'x-empty': '' }, timestamp: 1_700_000_000_123, attempt: 1 });
    expect(Buffer.from(m.payload).toString()).toBe('x');
  });

  it('reads messages from other clients: no id, typed headers, a content type, parsed bodies', () => {
    const m = fromDelivery({ routingKey: 'users.created', headers: { n: 5, ok: true, big: 2n ** 60n, nested: { a: [1, 'b'] } }, contentType: 'application/json', body: { hello: 'world' }, timestamp: 1_700_000_000 } as never);
    expect(m.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(m.headers).toEqual({ n: '5', ok: 'true', big: String(2n ** 60n), nested: '{"a":[1,"b"]}', 'content-type': 'application/json' });
    expect(Buffer.from(m.payload).toString()).toBe('{"hello":"world"}');
    expect(m.timestamp).toBe(1_700_000_000_000);
    expect(headerText(Buffer.from('bytes'))).toBe('bytes');
  });

  it("takes another client's timestamp 0 as none: the arrival time, not 1970 (56 years of end-to-end latency)", () => {
    const before = Date.now();
    const m = fromDelivery({ routingKey: 'users.created', body: Buffer.from('x'), timestamp: 0 } as never);
    expect(m.timestamp).toBeGreaterThanOrEqual(before);
  });

  it('redelivers with attempt + 1, keeping dead-letter headers as the handler saw them', () => {
    const delivery = { routingKey: 'dlq', messageId: 'id-9', headers: { user: 'u', 'x-death': [{ queue: 'work', reason: 'expired', count: 1 }], 'x-first-death-reason': 'expired' }, body: Buffer.from('b') };
    const first = fromDelivery(delivery as never, 'dead');
    const env = redeliveryEnvelope(delivery as never, first, 'dlq.retry.100');
    expect(env).toMatchObject({ exchange: '', routingKey: 'dlq.retry.100', mandatory: true, messageId: 'id-9' });
    // The retry queue dead-letters it back and adds its own x-death (as RabbitMQ writes it): the handler must not see it.
    const retryDeath = { count: 1, reason: 'expired', queue: 'dlq.retry.100', time: 1_795_608_003, exchange: '', 'routing-keys': ['dlq.retry.100'] };
    const back = fromDelivery({ ...env, routingKey: 'dlq', headers: { ...env.headers, 'x-death': [retryDeath], 'x-first-death-queue': 'dlq.retry.100' }, body: Buffer.from('b') } as never, 'dead');
    expect(back.attempt).toBe(2);
    expect(back.topic).toBe('dead');
    expect(back.headers).toEqual(first.headers);
  });

  it('rejects headers in the reserved namespace and names longer than AMQP allows', () => {
    expect(headerProblems('publish', { 'x-switchyard-key': 'x', ok: 'y' })).toHaveLength(1);
    expect(headerProblems('publish', { ['h'.repeat(256)]: 'x' })).toHaveLength(1);
  });

  it('carries ids over 255 bytes whole in a header, with a distinct, well-formed message-id for other clients', () => {
    const prefix = 'order-'.padEnd(255, 'x');
    const ids = [`${prefix}-A`, `${prefix}-B`, 'é'.repeat(128), 'a'.repeat(255), 'é'.repeat(127)];
    const envelopes = ids.map((id) => toEnvelope({ id, key: '', payload: Buffer.from('x'), headers: {}, timestamp: 1 }, 'ex', 't', true));
    for (const [i, env] of envelopes.entries()) {
      const messageId = env.messageId!;
      expect(Buffer.byteLength(messageId), ids[i]).toBeLessThanOrEqual(255);
      expect(Buffer.from(messageId, 'utf8').toString('utf8')).toBe(messageId); // no character cut in half
      const delivered = fromDelivery({ ...env, routingKey: 't', body: Buffer.from('x') } as never);
      expect(delivered.id).toBe(ids[i]);
      expect(wireId(env as never)).toBe(ids[i]); // how basic.return is matched to its publish
      expect(delivered.headers).toEqual({}); // the id header is Switchyard's own
      // A redelivery keeps the whole id too.
      expect(fromDelivery({ ...redeliveryEnvelope(env as never, delivered, 'q'), routingKey: 'q', body: Buffer.from('x') } as never, 't').id).toBe(ids[i]);
    }
    expect(new Set(envelopes.map((e) => e.messageId)).size).toBe(ids.length);
    // Ids that fit are sent as they are, with no extra header.
    expect(envelopes[3]!.messageId).toBe(ids[3]);
    expect(envelopes[4]!.messageId).toBe(ids[4]);
    expect(Object.keys(envelopes[3]!.headers!)).toEqual(['x-switchyard-ts']);
  });

  it('keeps headers named like Object.prototype members as own string properties of a plain object', () => {
    const sent = JSON.parse('{"constructor":"c","toString":"t","hasOwnProperty":"h","__proto__":"p","plain":"x"}') as Record<string, string>;
    const env = toEnvelope({ id: 'i', key: '', payload: Buffer.from('x'), headers: sent, timestamp: 1 }, 'ex', 't', false);
    // rabbitmq-client decodes header tables by assignment, which cannot create "__proto__": it travels prefixed.
    expect(Object.keys(env.headers!).sort()).toEqual(['constructor', 'hasOwnProperty', 'plain', 'toString', 'x-switchyard-h-__proto__', 'x-switchyard-ts']);
    // What the client decodes: a plain object with those own properties.
    const decoded: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(env.headers!)) decoded[name] = value;
    const m = fromDelivery({ ...env, headers: decoded, routingKey: 't', body: Buffer.from('x') } as never);
    expect(Object.getPrototypeOf(m.headers)).toBe(Object.prototype);
    expect(Object.keys(m.headers).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'plain', 'toString']);
    for (const name of Object.keys(sent)) expect(Object.getOwnPropertyDescriptor(m.headers, name)?.value, name).toBe(sent[name]);
  });
});
