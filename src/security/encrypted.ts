import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CONTENT_TYPE_HEADER, type Codec, type MessageInit } from '../core/codec.ts';
import { ConfigError, type MessageLocation } from '../core/errors.ts';
import { newMessageId } from '../core/id.ts';
import type { Message, OutgoingMessage } from '../core/message.ts';
import { patternProblems, topicMatcher, topicProblems } from '../core/topic.ts';
import { canonical, headerFields, normalizeHeaderList, parseHeaderList, quoted } from './canonical.ts';
import { DecryptionError } from './errors.ts';
import { resolveKeyring, type Keyring } from './keyring.ts';

/** The id of the key that encrypted the payload. */
export const ENCRYPTION_KEY_HEADER = 'x-switchyard-enc-key';
/** The inner codec's content type (the `content-type` header names the encryption instead). */
export const ENCRYPTED_CONTENT_TYPE_HEADER = 'x-switchyard-enc-content-type';
/** The sorted, comma-separated names of the headers bound into the authentication tag. */
export const ENCRYPTION_BOUND_HEADER = 'x-switchyard-enc-headers';
/** The topic the payload was sealed for (bound into the tag); absent when none was bound. */
export const ENCRYPTION_TOPIC_HEADER = 'x-switchyard-enc-topic';
/** `content-type` of an encrypted payload. */
export const ENCRYPTED_CONTENT_TYPE = 'application/x-switchyard-encrypted';

/**
 * First byte of the payload frame: the format, so it can change without guessing. Version 1 bound
 * the key id, inner content type and chosen headers; version 2 also binds the message id and the
 * sealed topic, so a payload cannot be re-sent under another id or moved to another topic. The
 * version is itself bound (each has its own label in the additional data): turning a version-2
 * frame into a version-1 one fails the tag.
 */
const VERSION_1 = 1;
const VERSION = 2;
/** 96-bit IV: GCM's native size (other sizes are hashed into one, with weaker bounds). */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FRAME_OVERHEAD = 1 + IV_BYTES + TAG_BYTES;
const AAD_LABEL_V1 = 'switchyard-enc-v1';
const AAD_LABEL = 'switchyard-enc-v2';
/** The topic field of a payload sealed without a topic: can never equal a bound one (`=<topic>`). */
const NO_TOPIC = '\u0000unbound';

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
  /**
   * Bind each payload to the topic it is published to, so that someone who can publish cannot
   * move it to another topic. Default true: `encode(value, { topic })` needs the topic, and
   * decoding refuses a payload sealed for another topic (or for none). `false` for topics whose
   * name the producer cannot know in advance: a given `topic` is still bound, but decoding checks
   * none (NATS request/reply needs no such setting: it gives the codec the subject and inbox). The message id is always bound.
   */
  bindTopic?: boolean;
  /**
   * Sealed topics (names or patterns) this codec accepts besides the one a message arrives on:
   * the source topic of a Bridge route that renames (`orders.placed` forwarded to
   * `legacy.orders`), or the original topic when reading its dead-letter topic. Default none.
   */
  acceptTopics?: readonly string[];
  /**
   * Decrypt version-1 frames, sealed by Switchyard before the topic and id were bound (they
   * could be moved to another topic or id). Default true, so messages still in topics and DLQs
   * stay readable; set false once none are left.
   */
  acceptVersion1?: boolean;
}

/** What `encode` puts on the message, plus the topic it is published to (bound into the tag). */
export type EncryptedMessageInit = MessageInit & { topic?: string };

/** The message shape `decode` reads: the router hands it the whole message, headers included. */
export type EncryptedInput = Pick<Message, 'payload' | 'topic' | 'id'> & { readonly headers?: Readonly<Record<string, string>> };

/** A codec whose `encode` binds the topic and whose `decode` reads the headers too (where the key id is). */
export interface EncryptedCodec<T> extends Codec<T> {
  /** Encrypts `value` for `init.topic` (required unless `bindTopic: false`); an id is generated when absent. */
  encode(value: T, init?: EncryptedMessageInit): OutgoingMessage;
  decode(message: EncryptedInput): T;
}

/**
 * Wraps a codec so payloads are encrypted with AES-256-GCM: confidential on any transport and
 * to anyone who can read the broker, and tamper-evident. Each message gets a fresh random 96-bit
 * IV; the payload becomes `version(1) ‖ IV(12) ‖ ciphertext ‖ tag(16)`. The key id travels in
 * `x-switchyard-enc-key`, the sealed topic in `x-switchyard-enc-topic`; the additional
 * authenticated data binds the key id, the inner content type, the topic, the message id and the
 * `bindHeaders`, so none of them can be swapped without the tag failing, and a payload moved to
 * another topic (not named in `acceptTopics`) is refused.
 *
 * Decoding failures (no or unknown key id, damaged frame, tag mismatch, another topic) throw
 * DecryptionError, a permanent error: with `deadLetter()` the message is dead-lettered with the
 * reason and the handler never runs. Key rotation: encrypt with `current`, decrypt with any key
 * in the ring. Payloads sealed by the previous format (version 1) still decrypt.
 *
 * `fromBytes` alone cannot decrypt (the key id is in the headers): use `decode(message)`, as the
 * router does.
 *
 * @example
 * ```ts
 * const orders = encrypted(json<OrderPlaced>(), { keyring: { current: 'k2', keys: { k1, k2 } } });
 * await bus.publish('orders.placed', orders.encode({ orderId: 'o-1', total: 42 }, { topic: 'orders.placed' }));
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
  for (const name of ['bindTopic', 'acceptVersion1'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') problems.push(`encrypted: ${name} must be true or false, got ${JSON.stringify(options[name])}`);
  }
  if (options.acceptTopics !== undefined && !Array.isArray(options.acceptTopics)) {
    problems.push('encrypted: acceptTopics must be a list of topic names or patterns');
  } else {
    for (const topic of options.acceptTopics ?? []) problems.push(...patternProblems(topic).map((p) => `encrypted: acceptTopics: ${p}`));
    if (options.bindTopic === false && (options.acceptTopics?.length ?? 0) > 0) problems.push('encrypted: acceptTopics has no effect with bindTopic: false (no topic is checked); drop one of them');
  }
  ConfigError.throwIfAny(problems);
  const required = normalizeHeaderList(options.bindHeaders ?? []);
  const bindTopic = options.bindTopic ?? true;
  const acceptVersion1 = options.acceptVersion1 ?? true;
  const accepted = (options.acceptTopics ?? []).map(topicMatcher);

  const aadV1 = (keyId: string, innerType: string, bound: readonly string[], headers: Readonly<Record<string, string>>): Buffer =>
    canonical([AAD_LABEL_V1, keyId, innerType, ...headerFields(bound, headers)]);
  const aad = (keyId: string, innerType: string, topic: string | undefined, id: string, bound: readonly string[], headers: Readonly<Record<string, string>>): Buffer =>
    canonical([AAD_LABEL, keyId, innerType, topic === undefined ? NO_TOPIC : `=${topic}`, id, ...headerFields(bound, headers)]);

  const seal = (plaintext: Uint8Array, topic: string | undefined, id: string, headers: Record<string, string>): Uint8Array => {
    const bound = required;
    const missing = required.filter((name) => !Object.hasOwn(headers, name));
    if (missing.length > 0) throw new ConfigError(`encrypted: header(s) ${missing.join(', ')} must be set on the message to be bound (bindHeaders)`);
    headers[ENCRYPTION_KEY_HEADER] = current;
    headers[ENCRYPTED_CONTENT_TYPE_HEADER] = inner.contentType;
    headers[ENCRYPTION_BOUND_HEADER] = bound.join(',');
    if (topic === undefined) delete headers[ENCRYPTION_TOPIC_HEADER];
    else headers[ENCRYPTION_TOPIC_HEADER] = topic;
    headers[CONTENT_TYPE_HEADER] = ENCRYPTED_CONTENT_TYPE;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', keys.get(current)!, iv);
    cipher.setAAD(aad(current, inner.contentType, topic, id, bound, headers));
    const body = Buffer.concat([Buffer.of(VERSION), iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  };

  /** Why an authentic payload sealed for `sealed` is not accepted on `topic`, if it is not. */
  const topicRefusal = (sealed: string | undefined, topic: string): string | undefined => {
    if (!bindTopic) return undefined;
    if (sealed === undefined) {
      return `the payload was sealed without a topic (its producer's codec has bindTopic: false), so it could have been moved here from any topic; seal it with encode(value, { topic }), or read it with bindTopic: false`;
    }
    if (sealed === topic || accepted.some((matches) => matches(sealed))) return undefined;
    return (
      `the payload was sealed for topic ${quoted(sealed)} and arrived on ${quoted(topic)}: it was moved, or a Bridge route renamed the topic ` +
      `or this is a dead-letter topic; if that is legitimate, add ${quoted(sealed)} to this codec's acceptTopics`
    );
  };

  const open = (message: EncryptedInput, at: MessageLocation): Uint8Array => {
    const { payload } = message;
    const headers = message.headers ?? {};
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
    const version = payload[0];
    if (version !== VERSION && version !== VERSION_1) throw new DecryptionError(at, `unknown frame version ${version} (expected ${VERSION}, or ${VERSION_1} from before)`);
    if (version === VERSION_1 && !acceptVersion1) {
      throw new DecryptionError(at, `version-${VERSION_1} frame refused (acceptVersion1: false): it was sealed without its topic and id bound; re-encrypt it if it is genuine`);
    }
    const sealedTopic = Object.hasOwn(headers, ENCRYPTION_TOPIC_HEADER) ? headers[ENCRYPTION_TOPIC_HEADER] : undefined;
    const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(1, 1 + IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(version === VERSION_1 ? aadV1(keyId, innerType, bound, headers) : aad(keyId, innerType, sealedTopic, message.id, bound, headers));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const plaintext = decipher.update(bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES));
    try {
      decipher.final();
    } catch (error) {
      throw new DecryptionError(
        at,
        `authentication tag mismatch with key ${quoted(keyId)}: the key is wrong, or the payload, the message id, the sealed topic or a bound header was altered`,
        { cause: error },
      );
    }
    // Authentic, but not for this topic (checked after the tag, so the reason is only given for
    // a genuine payload): moved by someone who can publish, or renamed on the way.
    const refusal = version === VERSION_1 ? undefined : topicRefusal(sealedTopic, message.topic);
    if (refusal !== undefined) throw new DecryptionError(at, refusal);
    // Authentic, but sealed by a producer using another codec: say so rather than fail to parse.
    if (innerType !== inner.contentType) throw new DecryptionError(at, `the payload was sealed as ${quoted(innerType)}, this codec reads ${quoted(inner.contentType)}`);
    return plaintext;
  };

  return {
    contentType: ENCRYPTED_CONTENT_TYPE,
    toBytes: () => {
      throw new ConfigError('encrypted(): toBytes alone cannot carry the key id; use encode(value, { topic }), which sets the headers');
    },
    fromBytes: (_bytes, at) => {
      throw new DecryptionError(at, `the key id is in the headers (${ENCRYPTION_KEY_HEADER}); decode the whole message with decode(message)`);
    },
    encode(value: T, init: EncryptedMessageInit = {}): OutgoingMessage {
      const { topic, ...rest } = init;
      if (topic === undefined && bindTopic) {
        throw new ConfigError(
          'encrypted: encode(value, { topic }) needs the topic the message is published to: the payload is bound to it so that it cannot be moved to another topic ' +
            '(for topics the producer cannot name in advance, build the codec with bindTopic: false)',
        );
      }
      if (topic !== undefined) ConfigError.throwIfAny(topicProblems(topic).map((p) => `encrypted: encode(value, { topic }): ${p}`));
      // The id is bound too, so it must be known now: generated here when absent, as publish would.
      const id = rest.id ?? newMessageId();
      const plain = inner.encode(value, { ...rest, id });
      const headers: Record<string, string> = { ...plain.headers };
      const payload = seal(plain.payload, topic, id, headers);
      return { ...plain, id, payload, headers };
    },
    decode(message: EncryptedInput): T {
      const at = { topic: message.topic, messageId: message.id };
      return inner.fromBytes(open(message, at), at);
    },
  };
}
