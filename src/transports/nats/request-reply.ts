import type { Msg, NatsConnection, Subscription as NatsSub } from '@nats-io/transport-node';
import type { Codec } from '../../core/codec.ts';
import { ConfigError, TimeoutError, toError } from '../../core/errors.ts';
import { newMessageId } from '../../core/id.ts';
import type { Message, OutgoingMessage } from '../../core/message.ts';
import { groupProblems, topicProblems } from '../../core/topic.ts';
import { isNatsNoResponders, isNatsTimeout, natsError, NatsTransportError } from './errors.ts';
import { fromCoreMsg, natsHeadersOf, toWireHeaders, WIRE } from './mapping.ts';

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

function encodeValue<T>(what: string, value: T, codec: Codec<T> | undefined, headers?: Record<string, string>): OutgoingMessage {
  if (codec) return codec.encode(value, { headers });
  if (!(value instanceof Uint8Array)) {
    throw new ConfigError(`${what}: without a codec the value must be a Uint8Array; pass { codec: json() } to send other values`);
  }
  return { payload: value, headers: headers ?? {} };
}

function decodeValue<T>(message: Message, codec: Codec<T> | undefined): T {
  return (codec ? codec.decode(message) : message.payload) as T;
}

/** Sends one request and waits for its reply (see NatsTransport.request). */
export async function sendRequest<Req, Res>(nc: NatsConnection, subject: string, value: Req, options: RequestOptions<Req, Res> = {}): Promise<Res> {
  ConfigError.throwIfAny(topicProblems(subject));
  const timeoutMs = options.timeoutMs ?? 5_000;
  const out = encodeValue(`request to "${subject}"`, value, options.codec, options.headers);
  const lines = toWireHeaders(subject, { id: out.id ?? newMessageId(), key: out.key ?? '', headers: out.headers ?? {}, timestamp: Date.now() });
  let reply: Msg;
  try {
    reply = await nc.request(subject, out.payload, { timeout: timeoutMs, headers: natsHeadersOf(lines) });
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
    let out: OutgoingMessage;
    try {
      const result = await handler(decodeValue(message, options.codec), message);
      out = encodeValue(`reply on "${subject}"`, result, options.replyCodec);
    } catch (error) {
      fail(msg, error, 'the responder failed');
      return;
    }
    const lines = toWireHeaders(subject, { id: out.id ?? newMessageId(), key: out.key ?? '', headers: out.headers ?? {}, timestamp: Date.now() });
    try {
      msg.respond(out.payload, { headers: natsHeadersOf(lines) });
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
