import type { Codec } from '../core/codec.ts';
import type { Message, OutgoingMessage } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import type { ContextKey, IntakeControl, Logger, RouterContext } from './types.ts';

const NOT_DECODED = Symbol('not decoded');

/** Everything a context needs from the router for one delivery. */
export interface ContextInit {
  handler: string;
  route: string;
  group: string;
  from: Transport;
  to: Transport;
  signal: AbortSignal;
  stopSignal: AbortSignal;
  message: Message;
  codec: Codec<unknown> | undefined;
  intake: IntakeControl;
  logger: Logger;
  count(counter: string): void;
  published(count: number): void;
}

/** The router's RouterContext for one delivery. */
export class HandlerContext implements RouterContext {
  readonly handler: string;
  readonly route: string;
  readonly group: string;
  readonly from: Transport;
  readonly to: Transport;
  signal: AbortSignal;
  readonly stopSignal: AbortSignal;
  attempt: number;
  final = true;
  readonly headers: Readonly<Record<string, string>>;
  readonly outgoingHeaders: Record<string, string> = {};
  readonly intake: IntakeControl;
  readonly logger: Logger;
  readonly #init: ContextInit;
  #queue: Array<{ topic: string; message: OutgoingMessage }> = [];
  #payload: unknown = NOT_DECODED;
  readonly #locals = new Map<ContextKey<unknown>, unknown>();

  constructor(init: ContextInit) {
    this.#init = init;
    this.handler = init.handler;
    this.route = init.route;
    this.group = init.group;
    this.from = init.from;
    this.to = init.to;
    this.signal = init.signal;
    this.stopSignal = init.stopSignal;
    this.attempt = init.message.attempt;
    this.headers = init.message.headers;
    this.intake = init.intake;
    this.logger = init.logger;
  }

  publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): void {
    const list = Array.isArray(messages) ? messages : [messages as OutgoingMessage];
    for (const message of list) this.#queue.push({ topic, message });
  }

  get pending(): number {
    return this.#queue.length;
  }

  discardPending(): void {
    this.#queue = [];
  }

  async flush(): Promise<void> {
    while (this.#queue.length > 0) {
      // One publish call per run of same-topic messages keeps order within and across topics.
      const topic = this.#queue[0]!.topic;
      let n = 1;
      while (n < this.#queue.length && this.#queue[n]!.topic === topic) n++;
      const batch = this.#queue.slice(0, n).map(({ message }) => ({
        ...message,
        headers: { ...this.outgoingHeaders, ...message.headers },
      }));
      await this.to.publish(topic, batch);
      this.#queue.splice(0, n);
      this.#init.published(n);
    }
  }

  payload<T = unknown>(): T {
    if (this.#payload === NOT_DECODED) {
      const { codec, message } = this.#init;
      this.#payload = codec ? codec.decode(message) : message.payload;
    }
    return this.#payload as T;
  }

  setPayload(value: unknown): void {
    this.#payload = value;
  }

  set<T>(key: ContextKey<T>, value: T): void {
    this.#locals.set(key, value);
  }

  get<T>(key: ContextKey<T>): T | undefined {
    return this.#locals.get(key) as T | undefined;
  }

  count(counter: string): void {
    this.#init.count(counter);
  }
}
