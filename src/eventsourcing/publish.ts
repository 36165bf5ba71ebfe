import { CONTENT_TYPE_HEADER } from '../core/codec.ts';
import type { OutgoingMessage } from '../core/message.ts';
import type { Codec } from '../core/codec.ts';
import type { Transport } from '../core/transport.ts';
import { json } from '../codecs/json.ts';
import type { EventFilter, RecordedEvent, StoredEvent } from './event-store.ts';
import type { Projection } from './projection.ts';

/**
 * Headers of a published event, besides `content-type` and the metadata.
 *
 * @example
 * ```ts
 * const type = msg.headers[EVENT_HEADERS.type]; // in a consumer of published events
 * ```
 */
export const EVENT_HEADERS = Object.freeze({
  type: 'x-event-type',
  schemaVersion: 'x-event-schema-version',
  streamId: 'x-stream-id',
  version: 'x-stream-version',
  position: 'x-global-position',
  timestamp: 'x-event-timestamp',
  correlationId: 'x-correlation-id',
  causationId: 'x-causation-id',
});

/** Where appended events go for other services. */
export interface PublishOptions {
  /** Any transport: `memory()`, `embedded(...)`, `kafka(...)` — Kafka makes it the event stream projections can run from. */
  transport: Transport;
  /** Topic name, or a function of the event (for example per category). Default `events`. */
  topic?: string | ((event: StoredEvent) => string);
  /**
   * Called when publishing fails after the append committed (the append itself still resolves:
   * the events are stored). Default: rethrow — the append rejects even though it is stored.
   * Use `eventPublisher(...)` (a checkpointed projection) when every event must reach the
   * transport even across crashes.
   */
  onError?: (error: unknown, events: readonly StoredEvent[]) => void;
}

/**
 * The message an appended event becomes: id = event id (consumers deduplicate on it), key =
 * stream id (per-stream order on every transport), payload = the encoded data, and headers for
 * the type, versions, position and metadata (`correlationId`/`causationId` as the standard
 * correlation headers, others as `x-meta-<name>`).
 *
 * @example
 * ```ts
 * await bus.publish('orders.events', eventToMessage(storedEvent));
 * ```
 */
export function eventToMessage(event: StoredEvent): OutgoingMessage {
  const headers: Record<string, string> = {
    [CONTENT_TYPE_HEADER]: event.contentType,
    [EVENT_HEADERS.type]: event.type,
    [EVENT_HEADERS.schemaVersion]: String(event.schemaVersion),
    [EVENT_HEADERS.streamId]: event.streamId,
    [EVENT_HEADERS.version]: String(event.version),
    [EVENT_HEADERS.position]: String(event.position),
    [EVENT_HEADERS.timestamp]: String(event.timestamp),
  };
  for (const [name, value] of Object.entries(event.metadata)) {
    if (name === 'correlationId') headers[EVENT_HEADERS.correlationId] = value;
    else if (name === 'causationId') headers[EVENT_HEADERS.causationId] = value;
    else headers[`x-meta-${name}`] = value;
  }
  return { id: event.id, key: event.streamId, payload: event.data, headers };
}

/** Groups events by topic (keeping order) and publishes each group in one call. */
export async function publishEvents(options: PublishOptions, events: readonly StoredEvent[]): Promise<void> {
  const byTopic = new Map<string, OutgoingMessage[]>();
  for (const event of events) {
    const topic = topicOf(options, event);
    let list = byTopic.get(topic);
    if (!list) byTopic.set(topic, (list = []));
    list.push(eventToMessage(event));
  }
  for (const [topic, messages] of byTopic) await options.transport.publish(topic, messages);
}

export function topicOf(options: Pick<PublishOptions, 'topic'>, event: StoredEvent): string {
  const topic = options.topic ?? 'events';
  return typeof topic === 'string' ? topic : topic(event);
}

export interface EventPublisherOptions {
  transport: Transport;
  /** Topic name or a function of the event. Default `events`. */
  topic?: string | ((event: RecordedEvent) => string);
  /** Encodes the (upcast) data. Default `json()`. */
  codec?: Codec<unknown>;
  /** Projection (and checkpoint) name. Default `publisher`. */
  name?: string;
  /** Which events to publish. Default: all. */
  filter?: EventFilter;
}

/**
 * A projection that publishes every event to a transport: run it with a `ProjectionRunner` and
 * the event store itself is the outbox — an event is published at least once, even across
 * crashes, with the event id as message id (consumers deduplicate on it) and the stream id as key.
 *
 * @example
 * ```ts
 * const runner = new ProjectionRunner({ store, checkpoints, projection: eventPublisher({ transport: bus, topic: 'orders.events' }) });
 * runner.start();
 * ```
 */
export function eventPublisher(options: EventPublisherOptions): Projection<unknown> {
  const codec = options.codec ?? json();
  const topic = options.topic ?? 'events';
  const projection: Projection<unknown> = {
    name: options.name ?? 'publisher',
    async handle(event) {
      const message = eventToMessage({ ...event, contentType: codec.contentType, data: codec.toBytes(event.data) });
      await options.transport.publish(typeof topic === 'string' ? topic : topic(event), message);
    },
  };
  if (options.filter) projection.filter = options.filter;
  return projection;
}
