import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CONTENT_TYPE_HEADER, type Codec } from '../core/codec.ts';
import { ConfigError, type MessageLocation } from '../core/errors.ts';
import type { Message, OutgoingMessage } from '../core/message.ts';
import { canonical, headerFields, normalizeHeaderList, parseHeaderList, quoted } from './canonical.ts';
import { DecryptionError } from './errors.ts';
import { resolveKeyring, type Keyring } from './keyring.ts';

/** The id of the key that encrypted the payload. */
export const ENCRYPTION_KEY_HEADER = 'x-switchyard-enc-key';
/** The inner codec's content type (the `content-type` header names the encryption instead). */
export const ENCRYPTED_CONTENT_TYPE_HEADER = 'x-switchyard-enc-content-type';
/** The sorted, comma-separated names of the headers bound into the authentication tag. */
export const ENCRYPTION_BOUND_HEADER = 'x-switchyard-enc-headers';
/** `content-type` of an encrypted payload. */
export const ENCRYPTED_CONTENT_TYPE = 'application/x-switchyard-encrypted';

/** First byte of the payload frame: the format, so it can change without guessing. */
const VERSION = 1;
/** 96-bit IV: GCM's native size (other sizes are hashed into one, with weaker bounds). */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FRAME_OVERHEAD = 1 + IV_BYTES + TAG_BYTES;
const AAD_LABEL = 'switchyard-enc-v1';

/** How `encrypted()` protects payloads. */
export interface EncryptionOptions {
  /** Keys by id; `current` encrypts, all of them decrypt. */
  keyring: Keyring;
  /**
   * Headers bound into the authentication tag besides the key id and inner content type: a
   * message whose bound header was changed (say `x-tenant` swapped) fails to decrypt. Decoding
   * also insists that these names were bound. Default none.
   */
  bindHeaders?: readonly string[];
}

/** The message shape `decode` reads: the router hands it the whole message, headers included. */
export type EncryptedInput = Pick<Message, 'payload' | 'topic' | 'id'> & { readonly headers?: Readonly<Record<string, string>> };

/** A codec whose `decode` reads the headers too (where the key id is). */
export interface EncryptedCodec<T> extends Codec<T> {
  decode(message: EncryptedInput): T;
}

/**
 * Wraps a codec so payloads are encrypted with AES-256-GCM: confidential on any transport and
 * to anyone who can read the broker, and tamper-evident. Each message gets a fresh random 96-bit
 * IV; the payload becomes `version(1) ‖ IV(12) ‖ ciphertext ‖ tag(16)`. The key id travels in
 * `x-switchyard-enc-key`; the additional authenticated data binds the key id, the inner content
 * type and the `bindHeaders`, so none of them can be swapped without the tag failing.
 *
 * Decoding failures (no or unknown key id, damaged frame, tag mismatch) throw DecryptionError,
 * a permanent error: with `deadLetter()` the message is dead-lettered with the reason and the
 * handler never runs. Key rotation: encrypt with `current`, decrypt with any key in the ring.
 *
 * `fromBytes` alone cannot decrypt (the key id is in the headers): use `decode(message)`, as the
 * router does.
 *
 * @example
 * ```ts
 * const orders = encrypted(json<OrderPlaced>(), { keyring: { current: 'k2', keys: { k1, k2 } } });
 * await bus.publish('orders.placed', orders.encode({ orderId: 'o-1', total: 42 }));
 * router.handle('bill', { from: bus, topic: 'orders.placed', group: 'billing', codec: orders }, async (msg) => charge(msg.payload));
 * ```
 */
export function encrypted<T>(inner: Codec<T>, options: EncryptionOptions): EncryptedCodec<T> {
  if (typeof inner?.encode !== 'function' || typeof inner.fromBytes !== 'function') {
    throw new ConfigError('encrypted(codec, options): codec must be a Codec (json(), raw(), protobuf(…))');
  }
  const { current, keys } = resolveKeyring(options?.keyring);
  const problems: string[] = [];
  for (const name of options.bindHeaders ?? []) {
    if (typeof name !== 'string' || name === '' || name.includes(',')) problems.push(`encrypted: bindHeaders entry ${JSON.stringify(name)} must be a header name without commas`);
  }
  ConfigError.throwIfAny(problems);
  const required = normalizeHeaderList(options.bindHeaders ?? []);

  const aad = (keyId: string, innerType: string, bound: readonly string[], headers: Readonly<Record<string, string>>): Buffer =>
    canonical([AAD_LABEL, keyId, innerType, ...headerFields(bound, headers)]);

  const seal = (plaintext: Uint8Array, headers: Record<string, string>): Uint8Array => {
    const bound = required;
    const missing = required.filter((name) => !Object.hasOwn(headers, name));
    if (missing.length > 0) throw new ConfigError(`encrypted: header(s) ${missing.join(', ')} must be set on the message to be bound (bindHeaders)`);
    headers[ENCRYPTION_KEY_HEADER] = current;
    headers[ENCRYPTED_CONTENT_TYPE_HEADER] = inner.contentType;
    headers[ENCRYPTION_BOUND_HEADER] = bound.join(',');
    headers[CONTENT_TYPE_HEADER] = ENCRYPTED_CONTENT_TYPE;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', keys.get(current)!, iv);
    cipher.setAAD(aad(current, inner.contentType, bound, headers));
    const body = Buffer.concat([Buffer.of(VERSION), iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  };

  const open = (payload: Uint8Array, headers: Readonly<Record<string, string>>, at: MessageLocation): Uint8Array => {
    const keyId = headers[ENCRYPTION_KEY_HEADER];
    if (keyId === undefined) throw new DecryptionError(at, `the message is not encrypted (no ${ENCRYPTION_KEY_HEADER} header)`);
    const key = Object.hasOwn(headers, ENCRYPTION_KEY_HEADER) ? keys.get(keyId) : undefined;
    if (!key) throw new DecryptionError(at, `unknown key id ${quoted(keyId)} (the keyring has ${[...keys.keys()].join(', ')})`);
    const innerType = headers[ENCRYPTED_CONTENT_TYPE_HEADER];
    if (innerType === undefined) throw new DecryptionError(at, `no ${ENCRYPTED_CONTENT_TYPE_HEADER} header`);
    const bound = parseHeaderList(headers[ENCRYPTION_BOUND_HEADER]);
    const unbound = required.filter((name) => !bound.includes(name));
    if (unbound.length > 0) throw new DecryptionError(at, `header(s) ${unbound.join(', ')} must be bound by the sender and were not`);
    if (payload.length < FRAME_OVERHEAD) throw new DecryptionError(at, `payload of ${payload.length} bytes is shorter than the ${FRAME_OVERHEAD}-byte frame`);
    if (payload[0] !== VERSION) throw new DecryptionError(at, `unknown frame version ${payload[0]} (expected ${VERSION})`);
    const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(1, 1 + IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(keyId, innerType, bound, headers));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const plaintext = decipher.update(bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES));
    try {
      decipher.final();
    } catch (error) {
      throw new DecryptionError(at, `authentication tag mismatch with key ${quoted(keyId)}: the key is wrong, or the payload or a bound header was altered`, { cause: error });
    }
    // Authentic, but sealed by a producer using another codec: say so rather than fail to parse.
    if (innerType !== inner.contentType) throw new DecryptionError(at, `the payload was sealed as ${quoted(innerType)}, this codec reads ${quoted(inner.contentType)}`);
    return plaintext;
  };

  return {
    contentType: ENCRYPTED_CONTENT_TYPE,
    toBytes: () => {
      throw new ConfigError('encrypted(): toBytes alone cannot carry the key id; use encode(value, init), which sets the headers');
    },
    fromBytes: (_bytes, at) => {
      throw new DecryptionError(at, `the key id is in the headers (${ENCRYPTION_KEY_HEADER}); decode the whole message with decode(message)`);
    },
    encode(value: T, init = {}): OutgoingMessage {
      const plain = inner.encode(value, init);
      const headers: Record<string, string> = { ...plain.headers };
      const payload = seal(plain.payload, headers);
      return { ...plain, payload, headers };
    },
    decode(message: EncryptedInput): T {
      const at = { topic: message.topic, messageId: message.id };
      return inner.fromBytes(open(message.payload, message.headers ?? {}, at), at);
    },
  };
}
