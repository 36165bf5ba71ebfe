import { createInbox, nanos, type Msg, type NatsConnection, type Subscription as NatsSub } from '@nats-io/transport-node';
import type { Message } from '../../core/message.ts';
import type { ResolvedSubscribeOptions } from '../../core/subscribe-options.ts';
import type { Handler, Subscription } from '../../core/transport.ts';
import { deferred } from '../../internal/deferred.ts';
import type { KeyedEntry } from '../../internal/keyed-queue.ts';
import { drainWithin, waitAtMost } from '../../internal/with-timeout.ts';
import { Dispatcher, type KeyHold } from './dispatcher.ts';
import { ADVISORY_QUEUE, advisorySubject, parseAdvisory, type GaveUp } from './max-deliveries.ts';
import { fromJetStream, parseAckSubject, type DeliveryInfo } from './mapping.ts';
import { redeliveryDelay, type ResolvedNatsOptions } from './options.ts';
import type { StatusEmitter } from './status.ts';

interface Entry extends KeyedEntry {
  /** Ack subject of the latest delivery of this stream sequence (acks go to it). */
  reply: string;
  info: DeliveryInfo;
  message: Message;
  /** Times its handler failed here and it was kept for another run (see `#failed`): added to the delivery count. */
  retries: number;
}

const ACK = new TextEncoder().encode('+ACK');
/** How many acked messages a subscription remembers to recognise their redeliveries. */
const RECENTLY_ACKED = 8_192;
const WORKING = new TextEncoder().encode('+WPI');
const NAK = new TextEncoder().encode('-NAK');
const TERM = new TextEncoder().encode('+TERM');

/**
 * How long one pull request waits on the server for messages. Short on purpose: `close()` waits
 * for the open request to end before handing messages back, because a 2.9 server may still
 * deliver a message to a request whose inbox is gone (it is then lost until its ack wait runs
 * out). The server's 408 at expiry doubles as the liveness signal (no idle heartbeats needed): a
 * request not heard of by `PULL_EXPIRES_MS + 1 s` is given up and a new one sent. An idle
 * subscription costs one small request and one status message per second.
 */
const PULL_EXPIRES_MS = 1_000;

/**
 * How often held messages get `+WPI`: a third of the shortest ack wait the server applies. With a
 * `backoff` the server ignores `ack_wait` (it sets it to the first step) and gives each delivery
 * the step of its count, so the shortest step bounds it: a keep-alive paced by `ackWaitMs` alone
 * let a handler slower than the first step be redelivered while it ran — to another member in
 * parallel, and using up `max_deliver` without a single failure.
 */
export function keepAliveEvery(consumers: Pick<ResolvedNatsOptions['consumers'], 'ackWaitMs' | 'backoffMs'>): number {
  const ackWait = Math.min(consumers.ackWaitMs, ...(consumers.backoffMs ?? []));
  return Math.max(100, Math.floor(ackWait / 3));
}

/** What a JetStream subscription needs from its transport. */
export interface JetStreamSubscriptionContext {
  nc: NatsConnection;
  options: ResolvedNatsOptions;
  status: StatusEmitter;
  /** JetStream API prefix, `$JS.API` unless a domain is used. */
  apiPrefix: string;
  onClose(sub: JetStreamSubscription): void;
  /**
   * Creates the group's consumer again if it is gone, resuming at stream sequence `resumeAt` (see
   * `restoreConsumer`); resolves to where it started, or undefined when it still existed.
   */
  restore(resumeAt: number): Promise<number | undefined>;
  /**
   * Reports a message that reached `maxDeliver` (see max-deliveries.ts); `message` undefined: read
   * it back from the stream. Resolves to false when it could not be dead-lettered; never rejects.
   */
  gaveUp(g: Pick<GaveUp, 'streamSequence' | 'deliveries' | 'message' | 'reason'>): Promise<boolean>;
}

/**
 * One member of a group: pulls from the group's durable consumer, runs handlers through a
 * Dispatcher, acks after success and, after a failure, runs a keyed message again here after the
 * configured delay or naks an unkeyed one with that delay (see `#failed`).
 *
 * It speaks the pull protocol itself (one outstanding `MSG.NEXT` request for the free part of
 * `prefetch`, expiring after a second) rather than through the client's `consume()`, so that it
 * controls the end: on `close()` no new pull is issued and the inbox is *drained* — messages the
 * server sent before it saw the unsubscribe are still received and handed back with a nak
 * instead of waiting out the ack wait. Every message held here, waiting or in a handler, gets an
 * in-progress ack every third of the ack wait (`keepAliveEvery`), so long handlers are not redelivered while working.
 */
export class JetStreamSubscription implements Subscription {
  readonly topic: string;
  readonly stream: string;
  readonly consumerName: string;
  readonly #closed = deferred<Error | undefined>();
  readonly closed = this.#closed.promise;
  readonly #options: ResolvedSubscribeOptions;
  readonly #handler: Handler;
  readonly #ctx: JetStreamSubscriptionContext;
  readonly #dispatcher: Dispatcher<Entry>;
  readonly #bySeq = new Map<number, Entry>();
  readonly #abort = new AbortController();
  readonly #prefetch: number;
  readonly #inbox = createInbox();
  #sub: NatsSub | undefined;
  /** The group's MAX_DELIVERIES advisories (with `maxDeliver` set). */
  #advisories: NatsSub | undefined;
  /** Reports of messages that reached `maxDeliver` under way from advisories: close() waits for them. */
  readonly #reporting = new Set<Promise<unknown>>();
  /** The outstanding pull request: messages it may still bring, and when it is given up. */
  #request: { remaining: number; expires: NodeJS.Timeout } | undefined;
  #timers: NodeJS.Timeout[] = [];
  #offStatus: (() => void) | undefined;
  #requestEnded: (() => void) | undefined;
  /**
   * Messages this subscription handled and acked recently, by stream sequence and stored time: a
   * redelivery of one (its ack was lost in a disconnect or restart) is acked again without
   * running the handler a second time. The stored time tells a recreated stream's new message
   * with a reused sequence apart.
   */
  readonly #acked = new Set<string>();
  #suppressed = 0;
  /** When the next pull may go out (after an error status, to avoid a hot loop). */
  #pullAfter = 0;
  #pullTimer: NodeJS.Timeout | undefined;
  /** Highest stream sequence received (at first the consumer's ack floor): the consumer resumes after it if it has to be created again. */
  #lastSeq: number;
  /** A look-up of the consumer (is it gone?) is under way. */
  #checking = false;
  #paused = false;
  #offline = false;
  #stopping = false;
  /** close() stopped waiting for the handlers still running: it nak'ed their messages, their results are ignored. */
  #abandoned = false;
  #closing: Promise<void> | undefined;

  constructor(
    ctx: JetStreamSubscriptionContext,
    where: { topic: string; stream: string; consumerName: string; ackFloor: number },
    options: ResolvedSubscribeOptions,
    handler: Handler,
  ) {
    this.#ctx = ctx;
    this.topic = where.topic;
    this.stream = where.stream;
    this.consumerName = where.consumerName;
    this.#lastSeq = where.ackFloor;
    this.#options = options;
    this.#handler = handler;
    this.#prefetch = ctx.options.consumers.prefetch ?? Math.max(64, options.concurrency * 4);
    this.#dispatcher = new Dispatcher<Entry>(
      options.concurrency,
      (entry) => this.#run(entry),
      () => this.#pull(),
    );
  }

  get group(): string {
    return this.#options.group;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Redeliveries of messages this subscription had already handled, acked without running the handler again. */
  get suppressedRedeliveries(): number {
    return this.#suppressed;
  }

  /** Subscribes the inbox and sends the first pull request. */
  async start(): Promise<void> {
    const nc = this.#ctx.nc;
    this.#sub = nc.subscribe(this.#inbox, { callback: (error, msg) => (error ? undefined : this.#receive(msg)) });
    if (this.#ctx.options.consumers.maxDeliver > 0) {
      this.#advisories = nc.subscribe(advisorySubject(this.stream, this.consumerName), {
        queue: ADVISORY_QUEUE,
        callback: (error, msg) => (error ? undefined : this.#advisory(msg.data)),
      });
    }
    const keepAlive = setInterval(() => {
      for (const entry of this.#dispatcher.entries()) this.#send(entry.reply, WORKING);
    }, keepAliveEvery(this.#ctx.options.consumers));
    // Self-healing: if a pull is due and none is open (a missed trigger), send one.
    const watchdog = setInterval(() => this.#pull(), PULL_EXPIRES_MS);
    keepAlive.unref();
    watchdog.unref();
    this.#timers.push(keepAlive, watchdog);
    // After a reconnect the server may have lost the pull request (it restarted): ask again.
    this.#offStatus = this.#ctx.status.on((s) => {
      if (s.type === 'disconnected') {
        this.#offline = true; // do not pile up pull requests in the client's reconnect buffer
        this.#endRequest(false);
      } else if (s.type === 'reconnected') {
        this.#offline = false;
        this.#endRequest();
      }
    }, true);
    await nc.flush();
    this.#pull();
  }

  /**
   * The server gave up on a message without a failure here: its deliveries ran out while members
   * held it (crashed, cut off, or slower than the ack wait). Reported from here, the one member of
   * the group the advisory went to.
   */
  #advisory(data: Uint8Array): void {
    const a = parseAdvisory(data);
    if (!a) return;
    const reason = `delivered ${a.deliveries} times without being acknowledged: a member holding it stopped, lost its connection, or ran its handler longer than the ack wait`;
    const p = this.#ctx.gaveUp({ ...a, message: undefined, reason }).finally(() => this.#reporting.delete(p));
    this.#reporting.add(p);
  }

  #send(subject: string, data: Uint8Array): void {
    try {
      if (!this.#ctx.nc.isClosed()) this.#ctx.nc.publish(subject, data);
    } catch {
      // the connection closed under us; the server redelivers after ack wait
    }
  }

  #pull(): void {
    if (this.#stopping || this.#paused || this.#offline || this.#request || this.#ctx.nc.isClosed()) return;
    const wait = this.#pullAfter - Date.now();
    if (wait > 0) {
      this.#pullTimer ??= setTimeout(() => {
        this.#pullTimer = undefined;
        this.#pull();
      }, wait);
      return;
    }
    const want = this.#prefetch - this.#dispatcher.held;
    if (want <= 0 || (this.#dispatcher.held > 0 && want < Math.ceil(this.#prefetch / 4))) return;
    const body = JSON.stringify({ batch: want, expires: nanos(PULL_EXPIRES_MS) });
    const subject = `${this.#ctx.apiPrefix}.CONSUMER.MSG.NEXT.${this.stream}.${this.consumerName}`;
    const expires = setTimeout(() => {
      this.#report('pull request unanswered (server restarted, link down, or consumer deleted?); pulling again');
      this.#endRequest();
      // A 2.9 server answers nothing at all to pulls on a consumer that was deleted.
      this.#checkConsumer();
    }, PULL_EXPIRES_MS + 1_000);
    expires.unref();
    this.#request = { remaining: want, expires };
    try {
      this.#ctx.nc.publish(subject, new TextEncoder().encode(body), { reply: this.#inbox });
    } catch (error) {
      this.#endRequest(false);
      this.#report(`cannot pull: ${(error as Error).message}`);
    }
  }

  #endRequest(pullAgain = true): void {
    if (this.#request) clearTimeout(this.#request.expires);
    this.#request = undefined;
    this.#requestEnded?.();
    if (pullAgain) this.#pull();
  }

  #receive(msg: Msg): void {
    const reply = msg.reply ?? '';
    const info = parseAckSubject(reply);
    if (!info) {
      // A status: 408 the request expired, 409 it was cut short, 503 no consumer (100: heartbeat, unused).
      const code = msg.headers?.code ?? 0;
      if (code === 100) return;
      if (code !== 408) {
        // Not a plain expiry: the consumer or stream is missing (503, 409 Consumer Deleted) or the
        // request was refused. Say so, and wait a second before asking again.
        this.#report(`${code} ${msg.headers?.description ?? ''}`.trim());
        this.#pullAfter = Date.now() + 1_000;
        this.#checkConsumer();
      }
      this.#endRequest();
      return;
    }
    if (this.#request && --this.#request.remaining <= 0) this.#endRequest(false);
    this.#accept(reply, info, msg);
    if (!this.#request) this.#pull();
  }

  #accept(reply: string, info: DeliveryInfo, msg: Msg): void {
    if (info.streamSequence > this.#lastSeq) this.#lastSeq = info.streamSequence;
    if (this.#acked.has(`${info.streamSequence}:${info.timestampNanos}`)) {
      this.#suppressed++;
      this.#send(reply, ACK);
      return;
    }
    const held = this.#bySeq.get(info.streamSequence);
    if (held) {
      // Redelivered while still held here (ack wait ran out): keep one copy, ack the latest delivery.
      held.reply = reply;
      held.info = info;
      return;
    }
    const message = fromJetStream(msg, info);
    const entry: Entry = { seq: info.streamSequence, key: message.key, reply, info, message, retries: 0 };
    this.#bySeq.set(entry.seq, entry);
    this.#dispatcher.push(entry);
  }

  /**
   * Pulls went unanswered or were refused: if the group's consumer is gone, it is created again —
   * otherwise the group would wait for ever, its messages kept in the stream but delivered to no
   * one. It resumes at the first message this member holds unacked, else after the last one it
   * received (held messages come again under the new consumer and are matched by sequence).
   */
  #checkConsumer(): void {
    if (this.#checking || this.#stopping || this.#offline) return;
    this.#checking = true;
    const held = [...this.#bySeq.keys()];
    const resumeAt = held.length > 0 ? Math.min(...held) : this.#lastSeq + 1;
    this.#ctx
      .restore(resumeAt)
      .then(
        (startSeq) => {
          if (startSeq === undefined) return;
          this.#report(
            `consumer "${this.consumerName}" was gone from stream "${this.stream}" (deleted, by its inactive_threshold, or with the stream); ` +
              `created it again, starting at stream sequence ${startSeq}`,
          );
          this.#pullAfter = 0;
        },
        (error: unknown) => this.#report(`cannot check whether consumer "${this.consumerName}" still exists: ${(error as Error)?.message}`),
      )
      .finally(() => {
        this.#checking = false;
        this.#pull();
      });
  }

  #report(detail: string): void {
    this.#ctx.status.emit({ type: 'consumer', topic: this.topic, group: this.group, detail });
  }

  async #run(entry: Entry): Promise<KeyHold> {
    const message = { ...entry.message, attempt: entry.info.deliveryCount + entry.retries };
    let ok = true;
    let failure: unknown;
    try {
      await this.#handler(message, { signal: this.#abort.signal });
    } catch (error) {
      ok = false;
      failure = error;
    }
    if (this.#abandoned) return 0;
    const maxDeliver = this.#ctx.options.consumers.maxDeliver;
    if (!ok && maxDeliver > 0 && message.attempt >= maxDeliver) {
      // The last attempt failed: JetStream would drop it from the group's work without a word. Say
      // so (and dead-letter it) while the error is known, then terminate it as the server would.
      const reason = `its handler failed: ${(failure as Error)?.message ?? String(failure)}`;
      const reported = await this.#ctx.gaveUp({ streamSequence: entry.seq, deliveries: message.attempt, message, reason });
      if (this.#abandoned) return 0;
      this.#bySeq.delete(entry.seq);
      // Not dead-lettered (its publish failed): left to the server, whose advisory brings it back for another try.
      this.#send(entry.reply, reported ? TERM : NAK);
      return 0;
    }
    if (ok) {
      this.#bySeq.delete(entry.seq);
      this.#send(entry.reply, ACK);
      this.#acked.add(`${entry.seq}:${entry.info.timestampNanos}`);
      if (this.#acked.size > RECENTLY_ACKED) this.#acked.delete(this.#acked.values().next().value!);
      return 0;
    }
    return this.#failed(entry, message.attempt);
  }

  /**
   * A handler threw. An unkeyed message is nak'ed with the configured delay: nothing waits behind
   * it, and the server may hand it to any member. A keyed message is kept here and run again after
   * the delay instead, as the Kafka consumer does, because a nak cannot keep its key's order: later
   * messages of the key are already held here, counting toward `prefetch`, so with a backlog the
   * window stays full and no pull would fetch the redelivery — and a pull that did could bring new
   * messages first (the server queues a nak'ed message for redelivery only once its delay is over,
   * on its own timer), nor can this member tell a redelivery that went to another member from one
   * not fetched yet. Kept here, the message never leaves the window: it stays ack-pending on the
   * server (so `max_ack_pending` accounts for it), is kept alive with `+WPI` like every held
   * message, goes back into its key's line ahead of the later ones, and its key stays busy for the
   * delay. `attempt` counts these runs on top of the delivery count; `#run` honours `maxDeliver`
   * before this is called, reporting the message and terminating it (`+TERM`).
   */
  #failed(entry: Entry, attempt: number): KeyHold {
    const consumers = this.#ctx.options.consumers;
    const delay = redeliveryDelay(consumers.redeliveryDelayMs, attempt);
    if (entry.key === '') {
      this.#bySeq.delete(entry.seq);
      this.#send(entry.reply, delay > 0 ? new TextEncoder().encode(`-NAK ${JSON.stringify({ delay: nanos(delay) })}`) : NAK);
      return 0;
    }
    // A new entry: the Dispatcher forgets the settled one once this returns.
    const again: Entry = { ...entry, retries: entry.retries + 1 };
    this.#bySeq.set(again.seq, again);
    this.#send(again.reply, WORKING); // the ack wait starts over now, not at the last keep-alive
    // Queued first in its key's line while the key is still busy; the Dispatcher frees the key after `delay`.
    this.#dispatcher.push(again);
    // At least a 1 ms timer, never a microtask: a message failing on every attempt with no delay
    // would otherwise run again and again without the event loop ever turning.
    return Math.max(1, delay);
  }

  pause(): void {
    if (this.#paused || this.#stopping) return;
    this.#paused = true;
    this.#dispatcher.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#dispatcher.resume();
    this.#pull();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close(undefined);
    return this.#closing;
  }

  /** Ends the subscription because its connection is gone; `closed` resolves to the error. */
  fail(error: Error): void {
    this.#closing ??= this.#close(error);
  }

  async #close(error: Error | undefined): Promise<void> {
    this.#stopping = true;
    this.#ctx.onClose(this);
    this.#offStatus?.();
    this.#dispatcher.stop();
    const nc = this.#ctx.nc;
    // Let the open pull request end (filled, or expired within PULL_EXPIRES_MS), then drain the
    // inbox (what arrives meanwhile is queued, never run); only then hand back what no handler
    // started on, so no redelivery can go to a dead inbox.
    if (this.#request && !nc.isClosed()) await new Promise<void>((resolve) => (this.#requestEnded = resolve));
    // Advisories are heard until then: the server gives up on a message when it tries to deliver
    // it to a pull request, this member's open one too, and sends its advisory once, to the
    // members listening at that moment — with none (the group's last member closing), the message
    // was gone without a word. From here on another member (or the next one) takes them.
    if (this.#advisories && !nc.isClosed()) await waitAtMost(this.#advisories.drain(), 5_000);
    if (this.#sub && !nc.isClosed()) await waitAtMost(this.#sub.drain(), 5_000);
    this.#endRequest(false);
    // Keys with no handler running go back at once. A running handler may still fail, and its
    // message must reach the next member before the later ones of its key (the server redelivers
    // in the order of the naks): those wait for it, and go back in stream order with it.
    this.#handBack(this.#dispatcher.takeIdle());
    const drainTimeoutMs = this.#options.drainTimeoutMs ?? this.#ctx.options.drainTimeoutMs;
    const idle = this.#dispatcher.until(() => this.#dispatcher.inflight === 0);
    if (await drainWithin(idle, drainTimeoutMs, this.#abort)) this.#handBack(this.#dispatcher.takeWaiting());
    else {
      // Given up on: the running handlers' messages go back too, each before the later ones of its
      // key (stream order), instead of waiting out the ack wait.
      this.#abandoned = true;
      const running = this.#dispatcher.inflight;
      this.#dispatcher.takeWaiting();
      this.#handBack([...this.#bySeq.values()].sort((a, b) => a.seq - b.seq));
      this.#report(`close() gave up after ${drainTimeoutMs} ms on ${running} running handler(s); their messages go back to the group`);
    }
    await Promise.all(this.#reporting);
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#pullTimer);
    if (!nc.isClosed()) await waitAtMost(nc.flush(), 5_000); // acks are on the wire (unless the link is down)
    this.#closed.resolve(error);
  }

  /** Naks entries no handler will run here, so that another member (or the next one) gets them at once. */
  #handBack(entries: readonly Entry[]): void {
    for (const entry of entries) {
      this.#bySeq.delete(entry.seq);
      this.#send(entry.reply, NAK);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
