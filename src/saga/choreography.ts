import type { Codec } from '../core/codec.ts';
import { newMessageId } from '../core/id.ts';
import type { Message, OutgoingMessage } from '../core/message.ts';
import type { Subscription, Transport } from '../core/transport.ts';
import { json } from '../codecs/json.ts';

/** The header naming the conversation (the chain of events) a message belongs to. */
export const CORRELATION_HEADER = 'x-correlation-id';
/** The header naming the message that caused this one. */
export const CAUSATION_HEADER = 'x-causation-id';

/** What a reaction gets: the decoded event, its correlation, and `emit` for the next events. */
export interface ChoreographyEvent<T> {
  readonly payload: T;
  readonly message: Message;
  /** The conversation's id: the incoming header, or the message id for the first event of a chain. */
  readonly correlationId: string;
  /** The id of the message that caused this one, when it was caused by one. */
  readonly causationId: string | undefined;
  /**
   * Queues an event to publish (JSON) once the reaction succeeded, before the incoming message is
   * acknowledged; a failing reaction emits nothing. Carries `x-correlation-id` on and sets
   * `x-causation-id` to this message's id. Its id is derived from the incoming one, so a
   * redelivered message emits the same ids again (downstream deduplication works).
   */
  emit(topic: string, payload: unknown, options?: { key?: string; headers?: Record<string, string> }): void;
}

/** How a reaction consumes. */
export interface ReactionOptions<T> {
  /** The consumer group: the service reacting. */
  group: string;
  /** Decodes the payload. Default JSON. */
  codec?: Codec<T>;
  /** Reactions in flight at once. Default 1. */
  concurrency?: number;
  /** Where `emit` publishes. Default: the transport consumed from. */
  to?: Transport;
}

/**
 * The headers a message caused by `cause` carries: its correlation id (or its id, when it starts
 * the conversation) and its id as the causation id.
 *
 * @example
 * ```ts
 * await bus.publish('payment.charged', json<Charged>().encode(charged, { headers: causedBy(incoming) }));
 * ```
 */
export function causedBy(cause: Pick<Message, 'id' | 'headers'>): Record<string, string> {
  return { [CORRELATION_HEADER]: cause.headers[CORRELATION_HEADER] || cause.id, [CAUSATION_HEADER]: cause.id };
}

/**
 * Declares one link of a choreography: when `topic` has an event, run `reaction`, and publish
 * what it emits with the correlation carried along.
 *
 * @example
 * ```ts
 * await react(bus, 'orders.placed', { group: 'inventory' }, async (event) => {
 *   const reservation = await inventory.reserve(event.payload);
 *   event.emit('inventory.reserved', { orderId: event.payload.orderId, reservation });
 * });
 * ```
 */
export function react<T = unknown>(
  transport: Transport,
  topic: string,
  options: ReactionOptions<T>,
  reaction: (event: ChoreographyEvent<T>) => Promise<void>,
): Promise<Subscription> {
  const codec = options.codec ?? json<T>();
  const out = json<unknown>();
  return transport.subscribe(topic, { group: options.group, concurrency: options.concurrency ?? 1 }, async (message) => {
    const queued: Array<{ topic: string; message: OutgoingMessage }> = [];
    const inherited = causedBy(message);
    await reaction({
      payload: codec.decode(message),
      message,
      correlationId: inherited[CORRELATION_HEADER]!,
      causationId: message.headers[CAUSATION_HEADER],
      emit(next, payload, emitOptions = {}) {
        queued.push({
          topic: next,
          message: out.encode(payload, {
            id: `${message.id}>${options.group}/${queued.length}`,
            ...(emitOptions.key === undefined ? {} : { key: emitOptions.key }),
            headers: { ...inherited, ...emitOptions.headers },
          }),
        });
      },
    });
    for (const q of queued) await (options.to ?? transport).publish(q.topic, q.message);
  });
}

/**
 * Publishes the first event of a chain, starting a conversation: its id is the correlation id
 * every later event carries. Returns that id.
 *
 * @example
 * ```ts
 * const correlationId = await startChain(bus, 'orders.placed', { orderId: 'o-1', amount: 42 }, { key: 'o-1' });
 * ```
 */
export async function startChain(transport: Transport, topic: string, payload: unknown, options: { key?: string; id?: string } = {}): Promise<string> {
  const id = options.id ?? newMessageId();
  await transport.publish(
    topic,
    json<unknown>().encode(payload, { id, ...(options.key === undefined ? {} : { key: options.key }), headers: { [CORRELATION_HEADER]: id } }),
  );
  return id;
}

/**
 * A set of reactions started and closed together: the services of a choreography, declared as
 * event → reaction chains.
 *
 * @example
 * ```ts
 * const flow = new Choreography(bus)
 *   .on('orders.placed', { group: 'inventory' }, async (e) => e.emit('inventory.reserved', e.payload))
 *   .on('inventory.reserved', { group: 'payments' }, async (e) => e.emit('payment.charged', e.payload));
 * await flow.start();
 * await flow.close();
 * ```
 */
export class Choreography {
  readonly #transport: Transport;
  readonly #links: Array<() => Promise<Subscription>> = [];
  readonly #subscriptions: Subscription[] = [];

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** Adds a reaction to `topic`; see `react`. */
  on<T = unknown>(topic: string, options: ReactionOptions<T>, reaction: (event: ChoreographyEvent<T>) => Promise<void>): this {
    this.#links.push(() => react(this.#transport, topic, options, reaction));
    return this;
  }

  /** Subscribes every reaction. */
  async start(): Promise<void> {
    for (const link of this.#links) this.#subscriptions.push(await link());
  }

  /** Closes every subscription (in-flight reactions finish). */
  async close(): Promise<void> {
    await Promise.all(this.#subscriptions.splice(0).map((s) => s.close()));
  }
}
