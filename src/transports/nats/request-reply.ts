import type { Msg, NatsConnection, Subscription as NatsSub } from '@nats-io/transport-node';
import type { Codec, MessageInit } from '../../core/codec.ts';
import { ConfigError, TimeoutError, toError } from '../../core/errors.ts';
import { normalizeOutgoing, type Message, type NormalizedMessage, type OutgoingMessage } from '../../core/message.ts';
import { groupProblems, topicProblems } from '../../core/topic.ts';
import { isNatsNoResponders, isNatsTimeout, natsError, NatsTransportError } from './errors.ts';
import { encodeHeaders, fromCoreMsg, natsHeadersOf, toWireHeaders, WIRE } from './mapping.ts';
import { exceedsMaxPayload } from './max-payload.ts';

/** Options of `request()`. Without codecs the request and the reply are raw bytes. */
export interface RequestOptions<Req, Res> {
  /** Encodes the request value. */
  codec?: Codec<Req>;
  /** Decodes the reply. */
  replyCodec?: Codec<Res>;
  /** How long to wait for the reply, in ms. Default 5,000. */
  timeoutMs?: number;
  /** Extra headers on the request. */
  headers?: Record<string, string>;
}

/** Options of `respond()`. */
export interface RespondOptions<Req, Res> {
  /** Decodes request payloads. */
  codec?: Codec<Req>;
  /** Encodes reply values. */
  replyCodec?: Codec<Res>;
  /** Queue group: responders in one group share the requests. Default `switchyard-responders`. */
  group?: string;
}

/** Answers one request. Throwing sends the error's message back; the requester rejects with a TransportError (`reason: 'responder-failed'`). */
export type Responder<Req, Res> = (request: Req, message: Message) => Promise<Res>;

/** A running responder. */
export interface Responding extends AsyncDisposable {
  readonly subject: string;
  /** Stops taking requests and waits for the ones being answered. */
  close(): Promise<void>;
}

/**
 * The message carrying a request or reply `value` on `subject` to `to` (the request subject, or
 * the requester's inbox for a reply), checked as `publish` checks its messages. The codec is told
 * `to`, as an `encrypted()` codec needs to seal the payload for it (the requester and the
 * responder both know it: the message arrives on it); other codecs ignore it. A `timestamp` the
 * codec set is kept, as `publish` keeps it.
 */
function encodeValue<T>(what: string, subject: string, to: string, value: T, codec: Codec<T> | undefined, headers?: Record<string, string>): NormalizedMessage {
  let out: OutgoingMessage;
  if (codec) {
    const init: MessageInit & { topic: string } = { headers, topic: to };
    out = codec.encode(value, init);
  } else if (value instanceof Uint8Array) {
    out = { payload: value, headers: headers ?? {} };
  } else {
    throw new ConfigError(`${what}: without a codec the value must be a Uint8Array; pass { codec: json() } to send other values`);
  }
  try {
    return normalizeOutgoing(subject, out)[0]!;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Its problems name a publish to the subject: name the request or reply instead.
    const publishTo = `publish to ${JSON.stringify(subject)}`;
    throw new ConfigError(
      error.problems.map((p) => (p.startsWith(publishTo) ? `${what}${p.slice(publishTo.length)}` : `${what}: ${p}`)),
      { cause: error },
    );
  }
}

function decodeValue<T>(message: Message, codec: Codec<T> | undefined): T {
  return (codec ? codec.decode(message) : message.payload) as T;
}

/** Sends one request and waits for its reply (see NatsTransport.request). */
export async function sendRequest<Req, Res>(nc: NatsConnection, subject: string, value: Req, options: RequestOptions<Req, Res> = {}): Promise<Res> {
  ConfigError.throwIfAny(topicProblems(subject));
  const timeoutMs = options.timeoutMs ?? 5_000;
  const out = encodeValue(`request to "${subject}"`, subject, subject, value, options.codec, options.headers);
  const encoded = encodeHeaders(toWireHeaders(subject, out));
  // Checked here, as publish checks it: the client's own refusal does not say what to do.
  const size = out.payload.length + encoded.size;
  const limit = nc.info?.max_payload;
  if (limit !== undefined && size > limit) throw new ConfigError(exceedsMaxPayload(`request to "${subject}"`, size, limit));
  let reply: Msg;
  try {
    reply = await nc.request(subject, out.payload, { timeout: timeoutMs, headers: encoded.headers });
  } catch (error) {
    if (isNatsNoResponders(error)) {
      throw new NatsTransportError(`request to "${subject}": no responders — nobody is subscribed to this subject`, 'no-responders', {
        cause: error,
        retryable: true,
      });
    }
    if (isNatsTimeout(error)) throw new TimeoutError(`request to "${subject}"`, timeoutMs, { cause: error });
    throw natsError(`request to "${subject}"`, error, timeoutMs);
  }
  const failure = reply.headers?.get(WIRE.error);
  if (failure) throw new NatsTransportError(`request to "${subject}": the responder failed: ${failure}`, 'responder-failed', { retryable: false });
  const stream = capturedBy(reply);
  if (stream !== undefined) {
    throw new ConfigError(
      `request to "${subject}" was answered by JetStream stream "${stream}", which captures that subject (the request was stored, ` +
        `not answered). Use a request subject outside every stream's subjects — with the default layout, a first token no topic uses, e.g. "rpc.${subject}"`,
    );
  }
  return decodeValue(fromCoreMsg(reply), options.replyCodec);
}

/** The stream name when a reply is a JetStream publish ack rather than a responder's answer. */
export function capturedBy(reply: Pick<Msg, 'data' | 'headers'>): string | undefined {
  if (reply.headers?.has(WIRE.time) || reply.data.length > 1_024 || reply.data[0] !== 0x7b) return undefined;
  try {
    const ack = JSON.parse(new TextDecoder().decode(reply.data)) as { stream?: unknown; seq?: unknown; error?: unknown };
    if (typeof ack.stream === 'string' && (typeof ack.seq === 'number' || ack.error !== undefined)) return ack.stream;
  } catch {
    // not JSON: an ordinary reply
  }
  return undefined;
}

/** Longest responder error message sent back (`Sy-Error`), in characters. */
const MAX_REASON = 4_000;

/** Subscribes a responder (see NatsTransport.respond); `onError` hears of replies that could not be sent. */
export async function startResponder<Req, Res>(
  nc: NatsConnection,
  subject: string,
  options: RespondOptions<Req, Res>,
  handler: Responder<Req, Res>,
  onClose: (r: Responding) => void,
  onError: (error: Error) => void,
): Promise<Responding> {
  const group = options.group ?? 'switchyard-responders';
  ConfigError.throwIfAny([...topicProblems(subject), ...groupProblems(group), ...(typeof handler === 'function' ? [] : ['responder must be a function'])]);
  const inflight = new Set<Promise<void>>();
  /**
   * Sends the error reply. That can throw too (the reply beyond max_payload, the connection
   * draining or closed) and nothing awaits `answer`: left to reject, it was an unhandled
   * rejection, which ends a Node process by default. Then the requester times out; `onError` says why.
   */
  const fail = (msg: Msg, error: unknown, what: string): void => {
    let reason = toError(error).message.replace(/[\r\n]+/g, ' ').trim() || 'error';
    // An error message can be anything, a dump of the request included: one beyond max_payload
    // could not be sent at all.
    if (reason.length > MAX_REASON) reason = `${reason.slice(0, MAX_REASON - 1)}…`;
    try {
      msg.respond(new Uint8Array(0), { headers: natsHeadersOf([[WIRE.error, reason]]) });
    } catch (sending) {
      onError(natsError(`respond on "${subject}": cannot send the reply to a request (${what}: ${reason})`, sending));
    }
  };
  const answer = async (msg: Msg): Promise<void> => {
    const message = fromCoreMsg(msg);
    // The reply travels on the requester's inbox: its id is scoped by that subject, where the
    // requester reads it back (scoped by the request subject, the requester saw "<subject>:<id>"
    // as the id, and an encrypted() reply, which binds its id, failed to decrypt).
    const inbox = msg.reply ?? subject;
    let out: NormalizedMessage;
    try {
      const result = await handler(decodeValue(message, options.codec), message);
      out = encodeValue(`reply on "${subject}"`, subject, inbox, result, options.replyCodec);
    } catch (error) {
      fail(msg, error, 'the responder failed');
      return;
    }
    const encoded = encodeHeaders(toWireHeaders(inbox, out));
    const size = out.payload.length + encoded.size;
    const limit = nc.info?.max_payload;
    if (limit !== undefined && size > limit) {
      // The requester hears why, in the words a publish would use, rather than "max_payload size exceeded".
      fail(msg, new Error(exceedsMaxPayload(`reply on "${subject}"`, size, limit)), 'sending its answer failed');
      return;
    }
    try {
      msg.respond(out.payload, { headers: encoded.headers });
    } catch (error) {
      // Too large for max_payload, or the connection is gone: tell the requester if it still can be told.
      fail(msg, error, 'sending its answer failed');
    }
  };
  let sub: NatsSub;
  try {
    sub = nc.subscribe(subject, {
      queue: group,
      callback: (error, msg) => {
        if (error) return;
        // Never rejects (see `fail`); anything unforeseen is reported the same way.
        const p = answer(msg)
          .catch((error: unknown) => onError(natsError(`respond on "${subject}"`, error)))
          .finally(() => inflight.delete(p));
        inflight.add(p);
      },
    });
    await nc.flush();
  } catch (error) {
    throw natsError(`respond on "${subject}"`, error);
  }
  let closing: Promise<void> | undefined;
  const responding: Responding = {
    subject,
    close() {
      closing ??= (async () => {
        onClose(responding);
        if (!nc.isClosed()) sub.unsubscribe();
        await Promise.all(inflight);
        if (!nc.isClosed()) await nc.flush().catch(() => undefined);
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
  return responding;
}
