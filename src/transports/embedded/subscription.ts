import type { Message } from '../../core/message.ts';
import type { ResolvedSubscribeOptions } from '../../core/subscribe-options.ts';
import type { Handler, Subscription } from '../../core/transport.ts';
import { deferred } from '../../internal/deferred.ts';
import { drainWithin } from '../../internal/with-timeout.ts';

/** What a subscription needs from where its messages come from (the broker, or the owner's socket). */
export interface SubscriptionSource {
  /** Intake changed: paused or stopping (true) or taking again (false). */
  setPaused(paused: boolean): void;
  /** Every in-flight handler has settled after close(): leave the group. */
  leave(): Promise<void>;
  /** A handler started by an earlier source settled: there is room again (see `run`). */
  wake(): void;
}

/**
 * The handler side of a subscription: runs handlers (up to `concurrency`, enforced by the
 * dispatcher), tracks what is in flight, and drains on close.
 */
export class EmbeddedSubscription implements Subscription {
  readonly topic: string;
  readonly options: ResolvedSubscribeOptions;
  readonly handler: Handler;
  readonly #abort = new AbortController();
  readonly #closed = deferred<Error | undefined>();
  readonly closed = this.#closed.promise;
  readonly #drainTimeoutMs: number;
  /** The `done` of each message whose handler runs. */
  readonly #running = new Set<(ok: boolean) => void>();
  source: SubscriptionSource | undefined;
  stopping = false;
  #paused = false;
  #idle = deferred();
  #closing: Promise<void> | undefined;
  /** Called when the subscription has stopped (closed or failed). */
  onClosed: (() => void) | undefined;

  /** `drainTimeoutMs`: the transport's, unless `options` has one. */
  constructor(topic: string, options: ResolvedSubscribeOptions, handler: Handler, drainTimeoutMs: number) {
    this.topic = topic;
    this.options = options;
    this.handler = handler;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? drainTimeoutMs;
    this.#idle.resolve();
  }

  /** Handlers running now. */
  get inflight(): number {
    return this.#running.size;
  }

  get group(): string {
    return this.options.group;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Runs the handler for `message`, then reports the outcome to `done`. */
  run(message: Message, done: (ok: boolean) => void): void {
    if (this.#running.size === 0) this.#idle = deferred();
    this.#running.add(done);
    const source = this.source;
    const handler = this.handler;
    const signal = this.#abort.signal;
    let result: Promise<void>;
    try {
      result = handler(message, { signal });
    } catch (error) {
      result = Promise.reject(error);
    }
    Promise.resolve(result).then(
      () => this.#finish(done, true, source),
      () => this.#finish(done, false, source),
    );
  }

  #finish(done: (ok: boolean) => void, ok: boolean, source: SubscriptionSource | undefined): void {
    if (!this.#running.delete(done)) return; // abandoned by close()
    if (this.#running.size === 0) this.#idle.resolve();
    done(ok);
    // Started before a failover: `done` woke the old source, but the room it frees is the new
    // source's, which may have held deliveries back while this handler ran.
    if (source !== this.source) this.source?.wake();
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.source?.setPaused(true);
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.stopping) this.source?.setPaused(false);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.stopping = true;
    this.source?.setPaused(true);
    if (!(await drainWithin(this.#idle.promise, this.#drainTimeoutMs, this.#abort))) {
      // Given up on: the handlers still running count as failed, so the group delivers their
      // messages again (before the ones behind them); what they return later is ignored.
      const running = [...this.#running];
      this.#running.clear();
      this.#idle.resolve();
      for (const done of running) done(false);
    }
    try {
      await this.source?.leave();
    } catch {
      // the connection is gone: the owner hands our messages to others anyway
    }
    this.onClosed?.();
    this.#closed.resolve(undefined);
  }

  /** The source failed (owner went away): the subscription ends with `error`. */
  fail(error: Error): void {
    this.stopping = true;
    this.#closing ??= Promise.resolve();
    this.onClosed?.();
    this.#closed.resolve(error);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
