import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { isConfigError } from '../core/errors.ts';
import type { Message, OutgoingMessage } from '../core/message.ts';
import { deadLetter } from '../middleware/dead-letter.ts';
import { harness } from '../middleware/harness.test-support.ts';
import { encrypted } from './encrypted.ts';
import { sign, verifier, verify, SIGNATURE_ALG_HEADER, SIGNATURE_HEADER, SIGNATURE_KEY_HEADER, SIGNED_AT_HEADER } from './signing.ts';

interface Order {
  orderId: string;
  total: number;
}
const orders = json<Order>();
const secret1 = randomBytes(32);
const secret2 = randomBytes(32);
const ed = generateKeyPairSync('ed25519');

function failure(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
}

/** A Router on the memory transport with deadLetter() outside verify(); the handler records what it got. */
async function verifying(name: string, options: Parameters<typeof verify>[0]) {
  const seen: Order[] = [];
  const h = await harness<Order>(name, [deadLetter({ maxAttempts: 5 }), verify(options)], (msg, _ctx, h) => {
    seen.push(msg.payload);
    h.done.push(msg as unknown as Message);
  });
  return { h, seen, send: (messages: OutgoingMessage[]) => h.bus.publish(h.topic, messages) };
}

describe('sign() / verify()', () => {
  it('HMAC-SHA-256: signed messages reach the handler; a tampered payload is dead-lettered with the reason, unprocessed', async () => {
    const { h, seen, send } = await verifying('sig-hmac', { keys: { k1: secret1 } });
    const signer = sign({ keyId: 'k1', key: secret1 });
    const good = signer(h.topic, orders.encode({ orderId: 'o-1', total: 10 }, { key: 'c-1' }));
    const evil = signer(h.topic, orders.encode({ orderId: 'o-2', total: 10 }, { id: 'tampered' }));
    await send([good, { ...evil, payload: orders.toBytes({ orderId: 'o-2', total: 1_000_000 }) }]);
    await h.dlq.untilCount(1, 5_000);
    await h.done.untilCount(1, 5_000);
    await h.stop();
    expect(seen).toEqual([{ orderId: 'o-1', total: 10 }]);
    expect(good.headers).toMatchObject({ [SIGNATURE_KEY_HEADER]: 'k1', [SIGNATURE_ALG_HEADER]: 'hmac-sha256', 'x-switchyard-sig-headers': 'content-type' });
    expect(h.dlq.messages[0]!.id).toBe('tampered');
    expect(h.dlq.messages[0]!.headers['x-error']).toMatch(/^VerificationError: message tampered on ".*" failed signature verification: signature mismatch with key "k1"/);
  });

  it('Ed25519: the verifier holds only the public key; a message moved to another topic or re-keyed fails', async () => {
    const { h, seen, send } = await verifying('sig-ed25519', { keys: { 'billing-1': ed.publicKey } });
    const signer = sign({ keyId: 'billing-1', key: ed.privateKey });
    const good = signer(h.topic, orders.encode({ orderId: 'o-1', total: 3 }, { key: 'c-1' }));
    expect(good.headers![SIGNATURE_ALG_HEADER]).toBe('ed25519');
    const elsewhere = signer('orders.test', orders.encode({ orderId: 'o-2', total: 3 }, { id: 'other-topic' }));
    const rekeyed = { ...signer(h.topic, orders.encode({ orderId: 'o-3', total: 3 }, { key: 'c-1' })), id: 'rekeyed', key: 'c-2' };
    await send([good, elsewhere, rekeyed]);
    await h.dlq.untilCount(2, 5_000);
    await h.done.untilCount(1, 5_000);
    await h.stop();
    expect(seen).toEqual([{ orderId: 'o-1', total: 3 }]);
    for (const dead of h.dlq.messages) expect(dead.headers['x-error']).toMatch(/signature mismatch with key "billing-1"/);
    expect(failure(() => sign({ keyId: 'billing-1', key: ed.publicKey })).message).toMatch(/signing needs the Ed25519 private key/);
  });

  it('after rotation the verifier accepts the old key id and the new one; an unknown key id is dead-lettered', async () => {
    const { h, seen, send } = await verifying('sig-rotate', { keys: { k1: secret1, k2: secret2 } });
    const old = sign({ keyId: 'k1', key: secret1 })(h.topic, orders.encode({ orderId: 'old', total: 1 }));
    const fresh = sign({ keyId: 'k2', key: secret2 })(h.topic, orders.encode({ orderId: 'new', total: 2 }));
    const stranger = sign({ keyId: 'k9', key: randomBytes(32) })(h.topic, orders.encode({ orderId: 'x', total: 3 }, { id: 'unknown-key' }));
    await send([old, fresh, stranger]);
    await h.dlq.untilCount(1, 5_000);
    await h.done.untilCount(2, 5_000);
    await h.stop();
    expect(seen.map((o) => o.orderId)).toEqual(['old', 'new']);
    expect(h.dlq.messages[0]!.headers['x-error']).toMatch(/failed signature verification: unknown key id "k9"/);
  });

  it('dead-letters unsigned messages, algorithm swaps and headers stripped from the signature', async () => {
    const { h, seen, send } = await verifying('sig-missing', { keys: { k1: secret1 }, headers: ['x-tenant'] });
    const signer = sign({ keyId: 'k1', key: secret1, headers: ['content-type', 'x-tenant'] });
    const good = signer(h.topic, orders.encode({ orderId: 'o-1', total: 1 }, { headers: { 'x-tenant': 'acme' } }));
    const looseSigner = sign({ keyId: 'k1', key: secret1 });
    await send([
      good,
      { ...orders.encode({ orderId: 'o-2', total: 1 }), id: 'unsigned' },
      { ...good, id: 'alg-swap', headers: { ...good.headers, [SIGNATURE_ALG_HEADER]: 'ed25519' } },
      { ...looseSigner(h.topic, orders.encode({ orderId: 'o-4', total: 1 }, { headers: { 'x-tenant': 'acme' } })), id: 'tenant-not-signed' },
      { ...good, id: 'tenant-swapped', headers: { ...good.headers, 'x-tenant': 'globex' } },
    ]);
    await h.dlq.untilCount(4, 5_000);
    await h.done.untilCount(1, 5_000);
    await h.stop();
    expect(seen).toHaveLength(1);
    const reasons = Object.fromEntries(h.dlq.messages.map((m) => [m.id, m.headers['x-error']]));
    expect(reasons['unsigned']).toMatch(/missing signature header x-switchyard-sig$/);
    expect(reasons['alg-swap']).toMatch(/algorithm "ed25519" is not the one of key "k1" \(hmac-sha256\)/);
    expect(reasons['tenant-not-signed']).toMatch(/header\(s\) x-tenant must be covered by the signature and are not/);
    expect(reasons['tenant-swapped']).toMatch(/signature mismatch/);
  });

  it('with maxAgeMs, rejects signatures older than the window and ones from the future', () => {
    let clock = 1_700_000_000_000;
    const signer = sign({ keyId: 'k1', key: secret1, now: () => clock });
    const check = verifier({ keys: { k1: secret1 }, maxAgeMs: 60_000, now: () => clock });
    const msg = { topic: 'orders.placed', key: '', ...signer('orders.placed', orders.encode({ orderId: 'o', total: 1 })) } as Message;
    clock += 59_000;
    expect(() => check(msg)).not.toThrow();
    clock += 2_000;
    expect(failure(() => check(msg)).message).toMatch(/signature is 61000 ms old, older than maxAgeMs 60000/);
    clock -= 200_000;
    expect(failure(() => check(msg)).message).toMatch(/in the future/);
    expect(failure(() => check({ ...msg, headers: { ...msg.headers, [SIGNED_AT_HEADER]: 'yesterday' } })).message).toMatch(/"yesterday" is not a timestamp/);
  });

  it('signs after encrypting: the encryption headers are covered, so the key id cannot be swapped', () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const codec = encrypted(orders, { keyring: { current: 'k2', keys: { k1, k2 } } });
    const out = sign({ keyId: 's1', key: secret1 })('orders.placed', codec.encode({ orderId: 'o', total: 1 }, { topic: 'orders.placed' }));
    expect(out.headers!['x-switchyard-sig-headers']).toBe('content-type,x-switchyard-enc-content-type,x-switchyard-enc-headers,x-switchyard-enc-key,x-switchyard-enc-topic');
    const check = verifier({ keys: { s1: secret1 } });
    const msg = { topic: 'orders.placed', key: '', ...out } as Message;
    expect(() => check(msg)).not.toThrow();
    expect(codec.decode(msg)).toEqual({ orderId: 'o', total: 1 });
    expect(failure(() => check({ ...msg, headers: { ...msg.headers, 'x-switchyard-enc-key': 'k1' } })).message).toMatch(/signature mismatch/);
    expect(failure(() => check({ ...msg, headers: { ...msg.headers, [SIGNATURE_HEADER]: 'AAAA' } })).message).toMatch(/signature mismatch/);
  });

  it('reports every configuration problem at once', () => {
    const error = failure(() => verifier({ keys: { short: randomBytes(8), 'a b': secret1, rsa: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey }, maxAgeMs: -1 }));
    expect(isConfigError(error)).toBe(true);
    expect(error.message).toMatch(/needs at least 32 bytes, got 8/);
    expect(error.message).toMatch(/key id "a b" must be/);
    expect(error.message).toMatch(/only Ed25519 asymmetric keys are supported, got rsa/);
    expect(error.message).toMatch(/maxAgeMs must be a positive number/);
    expect(() => sign({ keyId: 'k1', key: secret1, headers: ['x-tenant'] })('t', orders.encode({ orderId: 'o', total: 1 }))).toThrow(/x-tenant are to be signed but the message does not have them/);
  });

  it('refuses a DER-encoded Ed25519 key as an HMAC secret: with the public key anyone could forge hmac-sha256 signatures', () => {
    const spki = ed.publicKey.export({ type: 'spki', format: 'der' });
    const pkcs8 = ed.privateKey.export({ type: 'pkcs8', format: 'der' });
    // The bytes (or their base64, as a secret store hands them out) used to be taken as a 44-byte
    // HMAC secret; sign({ key: <the same public bytes> }) then produced messages this verifier accepted.
    for (const material of [spki, spki.toString('base64')]) {
      const error = failure(() => verifier({ keys: { 'billing-1': material } }));
      expect(isConfigError(error)).toBe(true);
      expect(error.message).toMatch(/verify key "billing-1": these bytes are a DER-encoded public key, not an HMAC secret; pass it as a KeyObject \(createPublicKey/);
    }
    expect(failure(() => sign({ keyId: 'billing-1', key: pkcs8.toString('base64') })).message).toMatch(/DER-encoded private key, not an HMAC secret/);
    // Given as a KeyObject, the same bytes verify Ed25519 signatures; random secrets are unaffected.
    const check = verifier({ keys: { 'billing-1': createPublicKey({ key: spki, format: 'der', type: 'spki' }), k1: secret1 } });
    const out = sign({ keyId: 'billing-1', key: ed.privateKey })('orders.placed', orders.encode({ orderId: 'o', total: 1 }));
    expect(() => check({ topic: 'orders.placed', key: '', ...out } as Message)).not.toThrow();
  });

  it('refuses a maxClockSkewMs that would let signing times from the far future through', () => {
    for (const bad of [Number.NaN, -1, '60000']) {
      const error = failure(() => verifier({ keys: { k1: secret1 }, maxClockSkewMs: bad as number }));
      expect(isConfigError(error)).toBe(true);
      expect(error.message).toMatch(/maxClockSkewMs must be a number ≥ 0 \(ms\), got/);
    }
    expect(() => verifier({ keys: { k1: secret1 }, maxClockSkewMs: 0 })).not.toThrow();
  });
});
