import type { Msg, NatsConnection, Subscription as NatsSub } from '@nats-io/transport-node';
import type { Message } from '../../core/message.ts';
import type { ResolvedSubscribeOptions } from '../../core/subscribe-options.ts';
import type { Handler, Subscription } from '../../core/transport.ts';
import { deferred } from '../../internal/deferred.ts';
import type { KeyedEntry } from '../../internal/keyed-queue.ts';
import { drainWithin } from '../../internal/with-timeout.ts';
import { Dispatcher, type KeyHold } from './dispatcher.ts';
import { fromCoreMsg } from './mapping.ts';
import type { ResolvedNatsOptions } from './options.ts';
import type { StatusEmitter } from './status.ts';

const noHold = (): KeyHold => 0;

interface Entry extends KeyedEntry {
  message: Message;
}

/** What a core subscription needs from its transport. */
export interface CoreSubscriptionContext {
  nc: NatsConnection;
  options: ResolvedNatsOptions;
  status: StatusEmitter;
  onClose(sub: CoreSubscription): void;
}

/**
 * Core NATS: a subscription with the group as queue group, so members of one group split the
 * messages and each group gets all of them. At-most-once: a handler that throws loses its
 * message; nothing is stored for absent members. Messages received are buffered (up to
 * `maxBufferedMessages`, beyond which they are dropped and a `slow-consumer` status is emitted)
 * and handled with the same per-key exclusivity and concurrency bound as JetStream.
 * `pause()` stops handlers; messages keep arriving into the buffer (core NATS has no flow control).
 */
export class CoreSubscription implements Subscription {
  readonly topic: string;
  readonly #closed = deferred<Error | undefined>();
  readonly closed = this.#closed.promise;
  readonly #options: ResolvedSubscribeOptions;
  readonly #handler: Handler;
  readonly #ctx: CoreSubscriptionContext;
  readonly #dispatcher: Dispatcher<Entry>;
  readonly #abort = new AbortController();
  #sub: NatsSub | undefined;
  #seq = 0;
  #paused = false;
  #dropped = 0;
  /** A `slow-consumer` status went out for the current overload; set again once the buffer drained to half. */
  #overloaded = false;
  #closing: Promise<void> | undefined;

  constructor(ctx: CoreSubscriptionContext, topic: string, options: ResolvedSubscribeOptions, handler: Handler) {
    this.#ctx = ctx;
    this.topic = topic;
    this.#options = options;
    this.#handler = handler;
    // Settled either way with no hold: at-most-once, core NATS has nowhere to put a failed message
    // back. (The dispatcher turns a synchronous throw into a rejection, also hold 0.)
    this.#dispatcher = new Dispatcher<Entry>(options.concurrency, (entry) =>
      Promise.resolve(this.#handler(entry.message, { signal: this.#abort.signal })).then(noHold, noHold),
    );
  }

  get group(): string {
    return this.#options.group;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Messages dropped because the buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Subscribes on the server; resolves once the server has the interest (so later publishes reach it). */
  async start(): Promise<void> {
    this.#sub = this.#ctx.nc.subscribe(this.topic, {
      queue: this.group,
      callback: (error, msg) => {
        if (error) {
          this.#ctx.status.emit({ type: 'error', error });
          return;
        }
        this.#accept(msg);
      },
    });
    await this.#ctx.nc.flush();
  }

  #accept(msg: Msg): void {
    const limit = this.#ctx.options.maxBufferedMessages;
    const held = this.#dispatcher.held;
    if (held >= limit) {
      this.#dropped++;
      // One status per overload, not one per dropped message: under a flood that would be as many
      // events (and log lines) as messages, making the overload worse. `dropped` counts them all.
      if (!this.#overloaded) this.#ctx.status.emit({ type: 'slow-consumer', subject: this.topic, pending: held, dropped: this.#dropped });
      this.#overloaded = true;
      return;
    }
    if (held <= limit / 2) this.#overloaded = false;
    const message = fromCoreMsg(msg);
    this.#dispatcher.push({ seq: this.#seq++, key: message.key, message });
  }

  pause(): void {
    this.#paused = true;
    this.#dispatcher.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#dispatcher.resume();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close(undefined);
    return this.#closing;
  }

  fail(error: Error): void {
    this.#closing ??= this.#close(error);
  }

  async #close(error: Error | undefined): Promise<void> {
    this.#ctx.onClose(this);
    // Stop intake, then handle everything already received: it exists nowhere else.
    if (this.#sub && !this.#ctx.nc.isClosed()) this.#sub.unsubscribe();
    this.#paused = false;
    this.#dispatcher.resume();
    const drainTimeoutMs = this.#options.drainTimeoutMs ?? this.#ctx.options.drainTimeoutMs;
    if (!(await drainWithin(this.#dispatcher.until(() => this.#dispatcher.held === 0), drainTimeoutMs, this.#abort))) {
      // At-most-once: what has not run is dropped, and the handlers still running are left to it.
      this.#dispatcher.stop();
      const dropped = this.#dispatcher.takeWaiting().length;
      const detail = `close() gave up after ${drainTimeoutMs} ms on ${this.#dispatcher.inflight} running handler(s)`;
      this.#ctx.status.emit({ type: 'consumer', topic: this.topic, group: this.group, detail: dropped > 0 ? `${detail} and dropped ${dropped} message(s) not handled yet` : detail });
    }
    this.#closed.resolve(error);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
