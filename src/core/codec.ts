import type { MessageLocation } from './errors.ts';
import type { Message, OutgoingMessage } from './message.ts';

/** The header every codec writes, so consumers (and `switchyard tail`) know how to read the bytes. */
export const CONTENT_TYPE_HEADER = 'content-type';

/** What to put on an encoded message besides its payload. */
export type MessageInit = Omit<OutgoingMessage, 'payload'>;

/**
 * Turns values of type `T` into message payloads and back. Decoding failures throw DecodeError
 * (or ValidationError when a schema rejects the value), both permanent: the message goes to the
 * dead-letter destination instead of being retried.
 */
export interface Codec<T> {
  /** MIME type written into the `content-type` header. */
  readonly contentType: string;
  /** Value → bytes. */
  toBytes(value: T): Uint8Array;
  /** Bytes → value; `at` names the message in errors. */
  fromBytes(bytes: Uint8Array, at: MessageLocation): T;
  /** Value → an outgoing message with the `content-type` header set. */
  encode(value: T, init?: MessageInit): OutgoingMessage;
  /** A received message → its value. */
  decode(message: Pick<Message, 'payload' | 'topic' | 'id'>): T;
}

/** Builds a full Codec from its two conversions. */
export function defineCodec<T>(spec: {
  contentType: string;
  toBytes(value: T): Uint8Array;
  fromBytes(bytes: Uint8Array, at: MessageLocation): T;
}): Codec<T> {
  const { contentType, toBytes, fromBytes } = spec;
  return {
    contentType,
    toBytes,
    fromBytes,
    encode(value, init = {}) {
      return { ...init, payload: toBytes(value), headers: { ...init.headers, [CONTENT_TYPE_HEADER]: contentType } };
    },
    decode(message) {
      return fromBytes(message.payload, { topic: message.topic, messageId: message.id });
    },
  };
}

/** Where a decode happens outside any message (tools, tests). */
export const NO_LOCATION: MessageLocation = { topic: '(none)', messageId: '(none)' };
