import type { Capabilities } from '../../core/capabilities.ts';
import { ClosedError } from '../../core/errors.ts';
import type { Message, NormalizedMessage, OutgoingMessage } from '../../core/message.ts';
import { normalizeOutgoing } from '../../core/message.ts';
import { resolveSubscribeOptions, type ResolvedSubscribeOptions } from '../../core/subscribe-options.ts';
import { isPattern, topicMatcher } from '../../core/topic.ts';
import type { Handler, SubscribeOptions, Subscription, Transport } from '../../core/transport.ts';
import { ContiguousCommit } from '../../internal/contiguous-commit.ts';
import { deferred } from '../../internal/deferred.ts';
import { KeyedQueue, type KeyedEntry } from '../../internal/keyed-queue.ts';
import { drainWithin } from '../../internal/with-timeout.ts';

/** Fewest messages dropped at once by retention (see `#trim`). */
const TRIM_CHUNK = 1_024;

/** Options of the in-process transport. */
export interface MemoryOptions {
  /**
   * Messages kept per topic for replay once every group has acknowledged them (up to 1,024 more:
   * older ones are dropped in chunks). Default 10,000.
   */
  retain?: number;
  /** Wait before a failed message is delivered again, in ms. Default 0. */
  redeliveryDelayMs?: number;
  /**
   * How long `close()` lets in-flight handlers run before aborting their signal and giving up on
   * them (their messages are delivered again). Default 30,000 ms; `subscribe` may set its own.
   */
  drainTimeoutMs?: number;
  /** Attach to an existing in-process broker instead of creating one (retain/redelivery then come from it). */
  broker?: MemoryBroker;
}

const capabilities: Capabilities = Object.freeze({
  durable: false,
  redelivery: true,
  persistentGroups: true,
  replay: true,
  partitions: true,
  delayedRedelivery: true,
  wildcards: true,
  requestReply: false,
  maxPayloadBytes: Number.MAX_SAFE_INTEGER,
});

/** One group's position on one topic of a memory broker. */
export interface MemoryGroupLag {
  topic: string;
  group: string;
  endOffset: number;
  committedOffset: number;
  lag: number;
  oldestTimestamp: number | undefined;
}

/** Messages read ahead of the slowest key, per group, when other keys are blocked behind it. */
const LOOKAHEAD = 1_000;

interface Stored extends NormalizedMessage {
  offset: number;
}

interface Entry extends KeyedEntry {
  attempt: number;
}

class Topic {
  readonly log: Stored[] = [];
  /** Offset of `log[0]`: older messages were dropped by retention. */
  base = 0;
  readonly groups = new Map<string, Group>();
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  get end(): number {
    return this.base + this.log.length;
  }

  at(offset: number): Stored | undefined {
    return this.log[offset - this.base];
  }
}

/** One consumer group's state on one topic; it outlives its members. */
class Group {
  readonly queue = new KeyedQueue<Entry>();
  readonly commit: ContiguousCommit;
  readonly members: Member[] = [];
  readonly topic: Topic;
  readonly redeliveryDelayMs: number;
  cursor: number;
  #next = 0;
  #pumping = false;

  constructor(topic: Topic, start: number, redeliveryDelayMs: number) {
    this.topic = topic;
    this.redeliveryDelayMs = redeliveryDelayMs;
    this.cursor = start;
    this.commit = new ContiguousCommit(start);
  }

  /** Hands waiting messages to members with free capacity until none has any or nothing is ready. */
  pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (;;) {
        const member = this.#freeMember();
        if (!member) return;
        const entry = this.#nextEntry();
        if (!entry) return;
        member.run(this, entry);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #freeMember(): Member | undefined {
    const n = this.members.length;
    for (let i = 0; i < n; i++) {
      const member = this.members[(this.#next + i) % n]!;
      if (member.hasCapacity()) {
        this.#next = (this.#next + i + 1) % n;
        return member;
      }
    }
    return undefined;
  }

  #nextEntry(): Entry | undefined {
    for (;;) {
      const entry = this.queue.take();
      if (entry) return entry;
      if (this.cursor >= this.topic.end || this.queue.size >= LOOKAHEAD) return undefined;
      const stored = this.topic.at(this.cursor)!;
      this.queue.push({ seq: this.cursor, key: stored.key, attempt: 1 });
      this.cursor++;
    }
  }

  settle(entry: Entry, ok: boolean): void {
    if (ok) {
      this.queue.release(entry);
      this.commit.ack(entry.seq);
      this.pump();
      return;
    }
    // Keep the key busy during the delay so later messages of that key cannot overtake it.
    const retry = (): void => {
      this.queue.release(entry);
      this.queue.push({ ...entry, attempt: entry.attempt + 1 });
      this.pump();
    };
    // Without a delay, still after a turn of the event loop: a message that always fails would
    // otherwise be retried on microtasks alone, and timers, I/O and signals would never run again.
    if (this.redeliveryDelayMs > 0) setTimeout(retry, this.redeliveryDelayMs).unref();
    else setImmediate(retry);
  }
}

/** One subscription's attachment to one topic's group. */
class Member {
  readonly subscription: MemorySubscription;
  /** Entries whose handler runs. */
  readonly #running = new Set<Entry>();
  #idle = deferred();

  constructor(subscription: MemorySubscription) {
    this.subscription = subscription;
    this.#idle.resolve();
  }

  hasCapacity(): boolean {
    const sub = this.subscription;
    return !sub.paused && !sub.stopping && this.#running.size < sub.options.concurrency;
  }

  get idle(): Promise<void> {
    return this.#idle.promise;
  }

  /**
   * close() stopped waiting for the handlers still running: their messages count as failed, so
   * the group delivers them again; what the handlers return later is ignored.
   */
  abandon(group: Group): void {
    for (const entry of this.#running) group.settle(entry, false);
    this.#running.clear();
    this.#idle.resolve();
  }

  run(group: Group, entry: Entry): void {
    const stored = group.topic.at(entry.seq)!;
    if (this.#running.size === 0) this.#idle = deferred();
    this.#running.add(entry);
    const message: Message = {
      topic: group.topic.name,
      id: stored.id,
      key: stored.key,
      payload: stored.payload,
      headers: { ...stored.headers },
      timestamp: stored.timestamp,
      attempt: entry.attempt,
      partition: 0,
      offset: String(stored.offset),
    };
    const sub = this.subscription;
    const settle = (ok: boolean): void => {
      if (!this.#running.delete(entry)) return; // abandoned by close()
      if (this.#running.size === 0) this.#idle.resolve();
      group.settle(entry, ok);
    };
    // Run on a later tick so a handler that throws synchronously cannot break the pump.
    void Promise.resolve()
      .then(() => sub.handler(message, { signal: sub.signal }))
      .then(
        () => settle(true),
        () => settle(false),
      );
  }
}

class MemorySubscription implements Subscription {
  readonly members = new Map<Topic, Member>();
  readonly #abort = new AbortController();
  readonly #closed = deferred<Error | undefined>();
  readonly closed = this.#closed.promise;
  readonly matches: (topic: string) => boolean;
  paused = false;
  stopping = false;
  #closing: Promise<void> | undefined;
  readonly transport: MemoryTransport;
  readonly topic: string;
  readonly options: ResolvedSubscribeOptions;
  readonly handler: Handler;

  constructor(transport: MemoryTransport, topic: string, options: ResolvedSubscribeOptions, handler: Handler) {
    this.transport = transport;
    this.topic = topic;
    this.options = options;
    this.handler = handler;
    this.matches = topicMatcher(topic);
  }

  get group(): string {
    return this.options.group;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  attach(group: Group): void {
    const member = new Member(this);
    this.members.set(group.topic, member);
    group.members.push(member);
    group.pump();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    for (const topic of this.members.keys()) topic.groups.get(this.group)?.pump();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.stopping = true;
    this.transport.detach(this);
    const drained = Promise.all([...this.members.values()].map((m) => m.idle));
    const settled = await drainWithin(drained, this.options.drainTimeoutMs ?? this.transport.drainTimeoutMs, this.#abort);
    for (const [topic, member] of this.members) {
      const group = topic.groups.get(this.group);
      if (!group) continue;
      group.members.splice(group.members.indexOf(member), 1);
      if (!settled) member.abandon(group);
      group.pump(); // hand anything left to the group's other members
    }
    this.#closed.resolve(undefined);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The state of one in-process broker: topics, their logs and consumer groups. Several
 * `memory({ broker })` transports attached to one broker behave like separate connections to
 * one server (a group's members may sit on different transports).
 */
export class MemoryBroker {
  readonly #topics = new Map<string, Topic>();
  readonly #subscriptions = new Set<MemorySubscription>();
  readonly retain: number;
  readonly redeliveryDelayMs: number;

  constructor(options: Pick<MemoryOptions, 'retain' | 'redeliveryDelayMs'> = {}) {
    this.retain = options.retain ?? 10_000;
    this.redeliveryDelayMs = options.redeliveryDelayMs ?? 0;
  }

  /**
   * Read-only: per topic and consumer group, the end offset, the group's committed position (every
   * message before it is acknowledged), the difference, and the publish time of the oldest
   * unacknowledged message. For lag monitoring (`memoryLagSource` in `switchyard/observability`).
   *
   * @example
   * ```ts
   * for (const g of bus.broker.lag()) console.log(`${g.group} on ${g.topic}: ${g.lag} behind`);
   * ```
   */
  lag(): MemoryGroupLag[] {
    const out: MemoryGroupLag[] = [];
    for (const t of this.#topics.values()) {
      for (const [group, g] of t.groups) {
        const committed = g.commit.committed;
        out.push({ topic: t.name, group, endOffset: t.end, committedOffset: committed, lag: Math.max(0, t.end - committed), oldestTimestamp: t.at(committed)?.timestamp });
      }
    }
    return out;
  }

  /** @internal */
  append(name: string, batch: readonly NormalizedMessage[]): void {
    const t = this.#topic(name);
    // Copy the bytes (the caller may reuse its buffers once publish resolved), all of a batch into
    // one allocation: an ArrayBuffer per message cost more than the rest of publishing it.
    let total = 0;
    for (const m of batch) total += m.payload.byteLength;
    const slab = Buffer.allocUnsafe(total); // every byte is written below
    let at = 0;
    for (const m of batch) {
      const n = m.payload.byteLength;
      slab.set(m.payload, at);
      t.log.push({ ...m, payload: slab.subarray(at, at + n), offset: t.end });
      at += n;
    }
    this.#trim(t);
    for (const group of t.groups.values()) group.pump();
  }

  /** @internal */
  attach(sub: MemorySubscription): void {
    // A concrete topic is created now, so nothing published after subscribe resolves is missed.
    if (!isPattern(sub.topic)) this.#topic(sub.topic);
    const { group, from } = sub.options;
    for (const t of this.#topics.values()) {
      if (sub.matches(t.name)) sub.attach(this.#group(t, group, from));
    }
    this.#subscriptions.add(sub);
  }

  /** @internal A closing subscription stops receiving new topics. */
  detach(sub: MemorySubscription): void {
    this.#subscriptions.delete(sub);
  }

  #topic(name: string): Topic {
    let t = this.#topics.get(name);
    if (!t) {
      t = new Topic(name);
      this.#topics.set(name, t);
      // Pattern subscriptions pick up topics created after them, from the topic's first message.
      for (const sub of this.#subscriptions) {
        if (!sub.stopping && sub.matches(name)) sub.attach(this.#group(t, sub.group, 'earliest'));
      }
    }
    return t;
  }

  #group(t: Topic, name: string, from: 'earliest' | 'latest'): Group {
    let g = t.groups.get(name);
    if (!g) {
      g = new Group(t, from === 'earliest' ? t.base : t.end, this.redeliveryDelayMs);
      t.groups.set(name, g);
    }
    return g;
  }

  /**
   * Drops the oldest messages beyond `retain`, but never one a group has not acknowledged. In
   * chunks of at least TRIM_CHUNK: dropping from the front of the array moves everything behind,
   * so trimming a few at every publish costs as much per message as the backlog is long.
   */
  #trim(t: Topic): void {
    let limit = t.end - this.retain;
    for (const g of t.groups.values()) limit = Math.min(limit, g.commit.committed);
    if (limit - t.base >= TRIM_CHUNK) {
      t.log.splice(0, limit - t.base);
      t.base = limit;
    }
  }
}

/**
 * The in-process transport: the full contract (groups, per-key order, redelivery, bounded
 * concurrency, replay, wildcards) with zero dependencies and nothing on disk. For tests,
 * examples and single-process tools; messages are gone when the process exits.
 */
export class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly capabilities = capabilities;
  readonly broker: MemoryBroker;
  readonly drainTimeoutMs: number;
  readonly #subscriptions = new Set<MemorySubscription>();
  #closed = false;

  constructor(options: MemoryOptions = {}) {
    this.broker = options.broker ?? new MemoryBroker(options);
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  }

  /** True until `close()`: the in-process broker is always reachable. */
  get connected(): boolean {
    return !this.#closed;
  }

  async connect(): Promise<void> {
    if (this.#closed) throw new ClosedError('memory transport');
  }

  async publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) throw new ClosedError('memory transport');
    this.broker.append(topic, normalizeOutgoing(topic, messages));
  }

  async subscribe(topic: string, options: SubscribeOptions, handler: Handler): Promise<Subscription> {
    const resolved = resolveSubscribeOptions(this, topic, options, handler);
    if (this.#closed) throw new ClosedError('memory transport');
    const sub = new MemorySubscription(this, topic, resolved, handler);
    this.#subscriptions.add(sub);
    this.broker.attach(sub);
    return sub;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
  }

  /** @internal */
  detach(sub: MemorySubscription): void {
    this.#subscriptions.delete(sub);
    this.broker.detach(sub);
  }
}

/**
 * Creates the in-process transport. Pass `broker` to attach several transports to one broker.
 *
 * @example
 * ```ts
 * import { memory, json } from 'switchyard';
 * const bus = memory();
 * const codec = json<{ hello: string }>();
 * await bus.subscribe('greetings', { group: 'printer' }, async (msg) => {
 *   console.log(codec.decode(msg).hello);
 * });
 * await bus.publish('greetings', codec.encode({ hello: 'world' }));
 * ```
 */
export function memory(options: MemoryOptions = {}): MemoryTransport {
  return new MemoryTransport(options);
}
