import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { raw } from '../codecs/raw.ts';
import { isConfigError, isPermanentError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import { deadLetter } from '../middleware/dead-letter.ts';
import { harness } from '../middleware/harness.test-support.ts';
import { encrypted, ENCRYPTED_CONTENT_TYPE, ENCRYPTION_KEY_HEADER } from './encrypted.ts';
import type { DecryptionError } from './errors.ts';

interface Order {
  orderId: string;
  customer: string;
}
const k1 = randomBytes(32);
const k2 = randomBytes(32);
const order: Order = { orderId: 'o-1', customer: 'alice@example.com' };
const at = { topic: 'orders.placed', id: 'm-1' };

function failure(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
}

describe('encrypted() codec', () => {
  it('round-trips through a Router: the bus carries ciphertext and the key id, the handler gets the value', async () => {
    const codec = encrypted(json<Order>(), { keyring: { current: 'k1', keys: { k1 } } });
    const received: Order[] = [];
    const raws: Message[] = [];
    const h = await harness<Order>('enc-roundtrip', [deadLetter({ maxAttempts: 1 })], (msg, _ctx, h) => {
      received.push(msg.payload);
      h.done.push({ ...msg, payload: msg.bytes } as Message);
    }, { codec });
    await h.bus.subscribe(h.topic, { group: 'spy', from: 'earliest' }, async (m) => void raws.push(m));
    await h.bus.publish(h.topic, [order, { orderId: 'o-2', customer: 'bob' }].map((v) => codec.encode(v, { key: 'c-1', topic: h.topic })));
    await h.done.untilCount(2, 5_000);
    await h.stop();
    expect(received).toEqual([order, { orderId: 'o-2', customer: 'bob' }]);
    expect(h.dlq.messages).toHaveLength(0);
    const wire = raws[0]!;
    expect(Buffer.from(wire.payload).includes('alice')).toBe(false);
    expect(wire.headers).toMatchObject({ [ENCRYPTION_KEY_HEADER]: 'k1', 'content-type': ENCRYPTED_CONTENT_TYPE, 'x-switchyard-enc-content-type': 'application/json' });
    // A fresh IV per message: the same value never encrypts to the same bytes.
    const again = codec.encode(order, at);
    expect(Buffer.from(again.payload).equals(Buffer.from(codec.encode(order, at).payload))).toBe(false);
  });

  it('dead-letters a tampered payload with the reason, and never calls the handler', async () => {
    const codec = encrypted(json<Order>(), { keyring: { current: 'k1', keys: { k1 } } });
    let calls = 0;
    const h = await harness<Order>('enc-tamper', [deadLetter({ maxAttempts: 5 })], () => void calls++, { codec });
    const sealed = codec.encode(order, { id: 'tampered-1', topic: h.topic });
    const bytes = Uint8Array.from(sealed.payload);
    bytes[20] = bytes[20]! ^ 0x01; // one bit of ciphertext
    await h.bus.publish(h.topic, { ...sealed, payload: bytes });
    await h.dlq.untilCount(1, 5_000);
    await h.stop();
    expect(calls).toBe(0);
    const dead = h.dlq.messages[0]!;
    expect(dead.id).toBe('tampered-1');
    expect(dead.headers['x-error']).toMatch(/^DecryptionError: cannot decode message tampered-1 on ".*": decryption failed: authentication tag mismatch with key "k1"/);
    expect(Buffer.from(dead.payload).equals(Buffer.from(bytes))).toBe(true); // kept as received, still encrypted
  });

  it('after rotation, decrypts messages encrypted with the old key and encrypts new ones with the current key', async () => {
    const before = encrypted(json<Order>(), { keyring: { current: 'k1', keys: { k1 } } });
    const rotated = encrypted(json<Order>(), { keyring: { current: 'k2', keys: { k1, k2 } } });
    const received: Order[] = [];
    const h = await harness<Order>('enc-rotate', [deadLetter({ maxAttempts: 1 })], (msg, _ctx, h) => {
      received.push(msg.payload);
      h.done.push(msg as unknown as Message);
    }, { codec: rotated });
    const old = before.encode(order, { topic: h.topic });
    const fresh = rotated.encode({ orderId: 'o-2', customer: 'bob' }, { topic: h.topic });
    expect(old.headers![ENCRYPTION_KEY_HEADER]).toBe('k1');
    expect(fresh.headers![ENCRYPTION_KEY_HEADER]).toBe('k2');
    await h.bus.publish(h.topic, [old, fresh]);
    await h.done.untilCount(2, 5_000);
    await h.stop();
    expect(received).toEqual([order, { orderId: 'o-2', customer: 'bob' }]);
    // Once k1 is dropped from the ring, what it encrypted can no longer be read.
    const retired = encrypted(json<Order>(), { keyring: { current: 'k2', keys: { k2 } } });
    expect(failure(() => retired.decode({ ...at, payload: old.payload, headers: old.headers })).message).toMatch(/unknown key id "k1" \(the keyring has k2\)/);
  });

  it('dead-letters a message whose key id is unknown or was swapped, naming the key id', async () => {
    const codec = encrypted(json<Order>(), { keyring: { current: 'k2', keys: { k1, k2 } } });
    let calls = 0;
    const h = await harness<Order>('enc-key-id', [deadLetter({ maxAttempts: 5 })], () => void calls++, { codec });
    const sealed = codec.encode(order, { topic: h.topic });
    await h.bus.publish(h.topic, [
      { ...sealed, id: 'unknown-key', headers: { ...sealed.headers, [ENCRYPTION_KEY_HEADER]: 'k9' } },
      // k1 exists, but the message was encrypted with k2 (and k2 is bound into the tag).
      { ...sealed, id: 'swapped-key', headers: { ...sealed.headers, [ENCRYPTION_KEY_HEADER]: 'k1' } },
      { ...json<Order>().encode(order), id: 'plaintext' },
    ]);
    await h.dlq.untilCount(3, 5_000);
    await h.stop();
    expect(calls).toBe(0);
    const reasons = Object.fromEntries(h.dlq.messages.map((m) => [m.id, m.headers['x-error']]));
    expect(reasons['unknown-key']).toMatch(/decryption failed: unknown key id "k9"/);
    expect(reasons['swapped-key']).toMatch(/decryption failed: authentication tag mismatch with key "k1"/);
    expect(reasons['plaintext']).toMatch(/decryption failed: the message is not encrypted \(no x-switchyard-enc-key header\)/);
  });

  it('binds chosen headers: a swapped x-tenant fails the tag, an unbound one is refused', () => {
    const codec = encrypted(json<Order>(), { keyring: { current: 'k1', keys: { k1 } }, bindHeaders: ['x-tenant'] });
    const sealed = codec.encode(order, { ...at, headers: { 'x-tenant': 'acme' } });
    expect(codec.decode({ ...at, payload: sealed.payload, headers: sealed.headers })).toEqual(order);
    const swapped = failure(() => codec.decode({ ...at, payload: sealed.payload, headers: { ...sealed.headers, 'x-tenant': 'globex' } }));
    expect(isPermanentError(swapped)).toBe(true);
    expect((swapped as DecryptionError).reason).toMatch(/authentication tag mismatch/);
    const loose = encrypted(json<Order>(), { keyring: { current: 'k1', keys: { k1 } } }).encode(order, { ...at, headers: { 'x-tenant': 'acme' } });
    expect(failure(() => codec.decode({ ...at, payload: loose.payload, headers: loose.headers })).message).toMatch(/header\(s\) x-tenant must be bound by the sender/);
    expect(failure(() => codec.encode(order, at)).message).toMatch(/x-tenant must be set on the message/);
  });

  it('reports damaged frames clearly: too short, unknown version', () => {
    const codec = encrypted(raw(), { keyring: { current: 'k1', keys: { k1 } } });
    const sealed = codec.encode(Uint8Array.of(1, 2, 3), at);
    expect(codec.decode({ ...at, payload: sealed.payload, headers: sealed.headers })).toEqual(Buffer.from([1, 2, 3]));
    expect(failure(() => codec.decode({ ...at, payload: sealed.payload.subarray(0, 10), headers: sealed.headers })).message).toMatch(/payload of 10 bytes is shorter than the 29-byte frame/);
    const v9 = Uint8Array.from(sealed.payload);
    v9[0] = 9;
    expect(failure(() => codec.decode({ ...at, payload: v9, headers: sealed.headers })).message).toMatch(/unknown frame version 9/);
    expect(failure(() => codec.fromBytes(sealed.payload, { topic: 't', messageId: 'm' })).code).toBe('DECODE');
    const asJson = encrypted(json(), { keyring: { current: 'k1', keys: { k1 } } });
    expect(failure(() => asJson.decode({ ...at, payload: sealed.payload, headers: sealed.headers })).message).toMatch(/sealed as "application\/octet-stream", this codec reads "application\/json"/);
  });

  it('reports every keyring problem at once', () => {
    const error = failure(() => encrypted(json(), { keyring: { current: 'k3', keys: { k1: randomBytes(16), 'bad id': k2, k2: 'not base64!' } } }));
    expect(isConfigError(error)).toBe(true);
    expect(error.message).toMatch(/AES-256 needs 32 bytes, got 16/);
    expect(error.message).toMatch(/key id "bad id" must be/);
    expect(error.message).toMatch(/"k2": a string key must be base64/);
    expect(error.message).toMatch(/current key "k3" is not one of its keys/);
    // base64 keys are accepted
    expect(() => encrypted(json(), { keyring: { current: 'k1', keys: { k1: k1.toString('base64') } } })).not.toThrow();
  });
});
