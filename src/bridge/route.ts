import { json } from '../codecs/json.ts';
import { text } from '../codecs/raw.ts';
import type { Codec } from '../core/codec.ts';
import { CONTENT_TYPE_HEADER } from '../core/codec.ts';
import { ClosedError, isClosedError, isConfigError, isPermanentError, PermanentError, toError } from '../core/errors.ts';
import { isValidTimestamp, normalizeOutgoing, type OutgoingMessage } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import { curable } from '../internal/curable.ts';
import { delay } from '../router/shutdown.ts';
import type { RouteHandler, RouterContext } from '../router/types.ts';
import type { BridgeMessage, BridgeOutput, TransformFunction } from './config-schema.ts';
import type { MessageFilter } from './filter.ts';
import { bytesAsBase64 } from './json-bytes.ts';
import type { Template } from './template.ts';

const RAW_CONTENT_TYPE = 'application/octet-stream';

/** Backoff while the sink refuses messages (an outage): the wait doubles from `initialDelayMs` up to `maxDelayMs`. */
export interface SinkBackoff {
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
}

/** One route, ready to run: everything the config named, resolved to objects. */
export interface CompiledRoute {
  name: string;
  /** `<transport name>:<topic>` as the config names them, for stats and logs. */
  source: string;
  sink: string;
  fromTopic: string;
  group: string;
  from: Transport;
  to: Transport;
  topic: Template;
  key: Template | undefined;
  headers: ReadonlyArray<readonly [string, Template]>;
  filter: MessageFilter | undefined;
  /** True when the filter reads the decoded payload (JSON fields, a module function). */
  filterReadsPayload: boolean;
  transform: TransformFunction | undefined;
  decode: Codec<unknown>;
  encode: Codec<unknown>;
  /** `format.in` and `format.out` differ: payloads are decoded and re-encoded even without a transform. */
  converting: boolean;
  backoff: SinkBackoff;
}

/** What a route reports while it waits for its sink. */
export type SinkEvent = { type: 'sink-retry'; route: string; attempt: number; delayMs: number; error: Error } | { type: 'sink-recovered'; route: string; attempts: number };

/**
 * The handler that moves one message along a route: decode (only if something reads the
 * payload), filter, transform, encode, render the destination, publish to the sink — and only
 * then return, so the source message is acknowledged after the sink confirmed. Keys, headers,
 * the timestamp and the message id are carried (a transform that fans out gets ids `<id>.1`,
 * `<id>.2`… so a redelivery produces the same ids and downstream dedup works).
 *
 * A sink that refuses messages for a transient reason (connection lost, timeout) is retried
 * with backoff for as long as it takes, holding the message (so order per key holds); the
 * route's other messages wait behind it. A permanent failure (a template with no value, a
 * payload the output format cannot encode, the sink rejecting the message as invalid) throws a
 * PermanentError: the dead-letter middleware takes the message. So does a broker's refusal (a
 * TransportError marked not retryable, such as Kafka's MESSAGE_TOO_LARGE) after `SINK_REFUSALS` tries.
 *
 * @example
 * ```ts
 * router.handle(route.name, { from: route.from, topic, group }, routeHandler(route, onSink, stopping));
 * ```
 */
export function routeHandler(route: CompiledRoute, onSink: (event: SinkEvent) => void, stopping: AbortSignal): RouteHandler<Uint8Array> {
  const readsPayload = route.filterReadsPayload || route.transform !== undefined || route.converting;
  return async function bridgeRoute(msg, ctx) {
    const bytes = msg.payload;
    const source: BridgeMessage = {
      id: msg.id,
      key: msg.key,
      topic: msg.topic,
      headers: msg.headers,
      timestamp: msg.timestamp,
      attempt: msg.attempt,
      ...(msg.partition !== undefined ? { partition: msg.partition } : {}),
      ...(msg.offset !== undefined ? { offset: msg.offset } : {}),
      payload: readsPayload ? route.decode.decode({ payload: bytes, topic: msg.topic, id: msg.id }) : bytes,
    };
    if (route.filter && !(await route.filter(source))) {
      ctx.count('filtered');
      return;
    }
    let outputs: readonly BridgeOutput[];
    if (route.transform) {
      const result = await route.transform(source);
      outputs = result === null || result === undefined ? [] : Array.isArray(result) ? result : [result as BridgeOutput];
      if (outputs.length === 0) {
        ctx.count('dropped');
        return;
      }
    } else outputs = [{ payload: source.payload }];

    const reencode = route.transform !== undefined || route.converting;
    // The event's time, not the forward's: latency and event-time consumers downstream read it. A
    // source that carried none (Kafka's -1 from an old producer) gets the forward time, as before.
    const sourceTimestamp = isValidTimestamp(msg.timestamp) ? msg.timestamp : undefined;
    const batches: Array<{ topic: string; messages: OutgoingMessage[] }> = [];
    outputs.forEach((out, i) => {
      if (typeof out !== 'object' || out === null || !('payload' in out)) {
        throw new PermanentError(`route "${route.name}": the transform returned ${out === null ? 'null' : typeof out} in its output ${i}; expected { payload, key?, headers?, id?, topic?, timestamp? }`);
      }
      const headers: Record<string, string> = { ...(out.headers ?? msg.headers) };
      for (const [name, template] of route.headers) headers[name] = template.render(source);
      // The bytes are in the output format now: say so. Raw output keeps the source's content type
      // (the transform's bytes are what they were), and so does a content type the transform set.
      if (route.converting || (reencode && route.encode.contentType !== RAW_CONTENT_TYPE && !out.headers?.[CONTENT_TYPE_HEADER])) {
        headers[CONTENT_TYPE_HEADER] = route.encode.contentType;
      }
      const message: OutgoingMessage = {
        id: out.id ?? (outputs.length === 1 ? msg.id : `${msg.id}.${i + 1}`),
        key: out.key ?? (route.key ? route.key.render(source) : msg.key),
        payload: reencode ? encodePayload(route, out.payload, msg.id) : bytes,
        headers,
        timestamp: out.timestamp ?? sourceTimestamp,
      };
      const topic = out.topic ?? route.topic.render(source);
      const last = batches.at(-1);
      if (last?.topic === topic) last.messages.push(message);
      else batches.push({ topic, messages: [message] });
    });
    // Outputs to several topics are published one topic after another: check them all first, so an
    // invalid one (a topic that is no topic, a header that is no string) dead-letters the message
    // before any output went out, not after the first topics had theirs (forwarded, yet dead-lettered).
    if (batches.length > 1) for (const batch of batches) checkOutputs(route, batch.topic, batch.messages);
    for (const batch of batches) await publishToSink(route, batch.topic, batch.messages, ctx, onSink, stopping);
    ctx.count('forwarded');
  };
}

/** Throws a PermanentError when `publish` would refuse these messages as invalid (the check every transport makes first). */
function checkOutputs(route: CompiledRoute, topic: string, messages: readonly OutgoingMessage[]): void {
  try {
    normalizeOutgoing(topic, messages);
  } catch (error) {
    if (!isConfigError(error)) throw error;
    throw new PermanentError(`route "${route.name}": the transform's output for "${topic}" cannot be published (nothing of this message was forwarded): ${error.message}`, { cause: error });
  }
}

const TEXT_CONTENT_TYPE = text().contentType;
const JSON_CONTENT_TYPE = json().contentType;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function encodePayload(route: CompiledRoute, value: unknown, id: string): Uint8Array {
  if (typeof value === 'string' && route.encode.contentType === RAW_CONTENT_TYPE) return new TextEncoder().encode(value);
  const cannot = (why: string): PermanentError => new PermanentError(`route "${route.name}": cannot encode the payload of message ${id} as ${route.encode.contentType}: ${why}`);
  // The codecs would turn anything into bytes, silently: the text codec a decoded JSON object into
  // "[object Object]" (and bytes into their String(): "104,105" for a Uint8Array), the JSON codec
  // bytes into {"type":"Buffer","data":[…]}. Such output is a dead letter with the reason, not a forward.
  if (route.encode.contentType === TEXT_CONTENT_TYPE) {
    if (typeof value === 'string') return new TextEncoder().encode(value);
    if (value instanceof Uint8Array) {
      try {
        utf8.decode(value);
      } catch {
        throw cannot('the payload is not valid UTF-8');
      }
      return value; // raw bytes that are text: forwarded as they are, now labelled as text
    }
    throw cannot(`text output needs a string, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value} (a transform can turn the payload into text; or use format.out: json)`);
  }
  if (value instanceof Uint8Array && route.encode.contentType !== RAW_CONTENT_TYPE) {
    throw cannot('the payload is undecoded bytes (format.in is raw); set format.in to the format the bytes are in, or return a value from a transform');
  }
  try {
    // Bytes inside a JSON value (a Protobuf `bytes` field) as base64, not {"0":1,"1":2}.
    const bytes = route.encode.toBytes(route.encode.contentType === JSON_CONTENT_TYPE ? bytesAsBase64(value) : value);
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`expected bytes (a Uint8Array or a string), got ${typeof bytes}`);
    return bytes;
  } catch (error) {
    if (isPermanentError(error)) throw error;
    throw new PermanentError(`route "${route.name}": cannot encode the payload of message ${id} as ${route.encode.contentType}: ${toError(error).message}`, { cause: error });
  }
}

/** Publishes a sink refused (an error `curable()` says trying again cannot cure) before it is dead-lettered. */
export const SINK_REFUSALS = 5;

/**
 * Publishes, retrying transient failures with backoff until the sink takes the messages or the
 * route stops; a refusal is tried `SINK_REFUSALS` times, then dead-lettered.
 */
async function publishToSink(
  route: CompiledRoute,
  topic: string,
  messages: OutgoingMessage[],
  ctx: RouterContext,
  onSink: (event: SinkEvent) => void,
  stopping: AbortSignal,
): Promise<void> {
  const { initialDelayMs, maxDelayMs, multiplier } = route.backoff;
  let refusals = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      await route.to.publish(topic, messages);
      if (attempt > 1) onSink({ type: 'sink-recovered', route: route.name, attempts: attempt });
      return;
    } catch (thrown) {
      // Invalid messages (a rendered topic that is no topic, a header the sink reserves) will never go through.
      if (isConfigError(thrown) || isPermanentError(thrown)) {
        throw new PermanentError(`route "${route.name}": the sink refused the message for "${topic}": ${toError(thrown).message}`, { cause: thrown });
      }
      // A broker's refusal (a TransportError marked not retryable: too large, not authorised) is
      // tried a few times, in case it was an operator's passing mistake, then dead-lettered:
      // waited on for ever, it would hold up every message behind it.
      if (!curable(thrown) && ++refusals >= SINK_REFUSALS) {
        throw new PermanentError(`route "${route.name}": the sink refused the message for "${topic}" ${refusals} times: ${toError(thrown).message}`, { cause: thrown });
      }
      // Stopping: leave the message unacknowledged (it is delivered again later) rather than wait
      // for a sink that may not come back before the drain time is up.
      // A ClosedError goes past retry and dead-letter to the transport, which keeps the message.
      if (isClosedError(thrown)) throw thrown;
      if (stopping.aborted || ctx.stopSignal.aborted) throw new ClosedError(`bridge route "${route.name}" (stopped while its sink was unavailable)`);
      const base = Math.min(maxDelayMs, initialDelayMs * multiplier ** (attempt - 1));
      const delayMs = Math.round(base * (0.8 + Math.random() * 0.4)); // jitter: many routes do not retry in step
      ctx.count('sink-retries');
      onSink({ type: 'sink-retry', route: route.name, attempt, delayMs, error: toError(thrown) });
      if (!(await delay(delayMs, AbortSignal.any([ctx.stopSignal, stopping])))) throw new ClosedError(`bridge route "${route.name}" (stopped while its sink was unavailable)`);
    }
  }
}
