import { Base, Consumer, ListOffsetTimestamps, type Admin, type Message as KafkaRecord, type MessagesStream } from '@platformatic/kafka';
import { ClosedError } from '../../core/errors.ts';
import { isPattern, topicMatcher } from '../../core/topic.ts';
import type { ResolvedSubscribeOptions } from '../../core/subscribe-options.ts';
import type { Handler, Subscription } from '../../core/transport.ts';
import { ContiguousCommit } from '../../internal/contiguous-commit.ts';
import { deferred } from '../../internal/deferred.ts';
import { KeyedQueue, type KeyedEntry } from '../../internal/keyed-queue.ts';
import { waitAtMost, withTimeout } from '../../internal/with-timeout.ts';
import { abortable } from '../../internal/abortable.ts';
import { subscriptionAwareAssigner } from './assignor.ts';
import { kafkaErrorIds } from './errors.ts';
import { fromRecord, text } from './mapping.ts';
import { baseClientOptions, type ResolvedKafkaOptions } from './options.ts';

type Record = KafkaRecord<Buffer, Buffer, Buffer, Buffer>;

interface Entry extends KeyedEntry {
  record: Record;
  attempt: number;
}

/** A handler in flight: what it runs, and the callbacks its promise settles through. */
interface Slot {
  state: PartitionState | undefined;
  entry: Entry | undefined;
  readonly ok: () => void;
  readonly fail: () => void;
}

/** One assigned partition: messages read ahead, per-key order, and the contiguous committed prefix. */
class PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly queue = new KeyedQueue<Entry>();
  readonly commit: ContiguousCommit;
  /** Next offset expected from the fetcher; lower offsets are refetches and are skipped. */
  next: number;
  /** Offset last committed to the group (or -1 when nothing committed yet by this member). */
  committed = -1;
  leaderEpoch = -1;
  /** Messages held (waiting or in flight) and not yet acknowledged. */
  held = 0;
  /** The partition was revoked: results of its in-flight handlers are ignored. */
  dropped = false;

  constructor(topic: string, partition: number, first: number) {
    this.topic = topic;
    this.partition = partition;
    this.next = first;
    this.commit = new ContiguousCommit(first);
  }
}

const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * A Kafka consumer-group member running a handler over one topic.
 *
 * - Intake: @platformatic/kafka's MessagesStream in `committed` mode; every partition keeps a
 *   KeyedQueue, so with `concurrency > 1` different keys of a partition run in parallel while each
 *   key stays in order, and a ContiguousCommit whose prefix is what gets committed.
 * - Redelivery: a failed message stays at the head of its key and runs again (after
 *   `redeliveryDelayMs`) with `attempt + 1`; other keys go on; nothing past it is committed.
 * - Backpressure: when `maxBufferedMessages` are held, fetching pauses until half are done.
 * - Rebalance: before every (re)join — the group's revoke point — intake stops, in-flight handlers
 *   finish (up to `drainTimeoutMs`), completed prefixes are committed; after the join, partitions
 *   no longer assigned are dropped (their uncommitted messages go to the new owner).
 * - Patterns (`orders.*`, `orders.>`): the member subscribes to the topics that match, listed
 *   every `topicRefreshMs`; when the set changes it leaves the group (committing what completed)
 *   and joins again with the new set. Topics that appear later are read from their start: all
 *   they hold was published after the subscription began.
 */
export class KafkaSubscription implements Subscription {
  readonly topic: string;
  readonly options: ResolvedSubscribeOptions;
  readonly #handler: Handler;
  readonly #config: ResolvedKafkaOptions;
  readonly #admin: Admin;
  readonly #abort = new AbortController();
  /**
   * Aborted (with a ClosedError) when `close()` is called: `start()` and restarts stop waiting for
   * what they wait on — position lookups, a group join that may take minutes — and go no further.
   */
  readonly #halt = new AbortController();
  readonly #context = { signal: this.#abort.signal };
  readonly #closed = deferred<Error | undefined>();
  readonly closed: Promise<Error | undefined> = this.#closed.promise;
  readonly #states = new Map<string, PartitionState>();
  readonly #onClose: () => void;
  /** The pattern's predicate, when the subscription is to a pattern. */
  readonly #matches: ((topic: string) => boolean) | undefined;
  /** The topics this member subscribes to now: the topic itself, or those matching the pattern. */
  #topics: string[] = [];
  /** Where partitions the group never committed start (`from`, then `earliest` for topics found later). */
  #fallback: 'earliest' | 'latest';
  #refreshTimer: NodeJS.Timeout | undefined;
  #refreshing = false;
  #order: PartitionState[] = [];
  #cursor = 0;
  #consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  #generation = -1;
  #last: PartitionState | undefined;
  #inflight = 0;
  #held = 0;
  #paused = false;
  #fetchPaused = false;
  #revoking: Promise<void> | undefined;
  #stopping = false;
  #closing: Promise<void> | undefined;
  #idleWaiters: Array<() => void> = [];
  readonly #freeSlots: Slot[] = [];
  #commitRunning: Promise<void> | undefined;
  #commitAgain = false;
  #restarting = false;
  /** Messages delivered again after a failure, and refetched records skipped: for tests and metrics. */
  readonly stats = { redelivered: 0, skippedRefetched: 0, rebalances: 0, restarts: 0, commits: 0, topicChanges: 0 };

  constructor(
    config: ResolvedKafkaOptions,
    admin: Admin,
    topic: string,
    options: ResolvedSubscribeOptions,
    handler: Handler,
    onClose: () => void,
  ) {
    this.#config = config;
    this.#admin = admin;
    this.topic = topic;
    this.options = options;
    this.#handler = handler;
    this.#onClose = onClose;
    this.#matches = isPattern(topic) ? topicMatcher(topic) : undefined;
    this.#fallback = options.from;
  }

  get group(): string {
    return this.options.group;
  }

  /** Messages read and not yet acknowledged (waiting or in flight). */
  get held(): number {
    return this.#held;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** The @platformatic/kafka consumer of this subscription (undefined while restarting). */
  get consumer(): Consumer<Buffer, Buffer, Buffer, Buffer> | undefined {
    return this.#consumer;
  }

  /** The topics the member reads now (for a pattern, those that matched at the last look). */
  get topics(): readonly string[] {
    return this.#topics;
  }

  /**
   * Joins the group and starts fetching; resolves once positions are fixed. Rejects with a
   * ClosedError as soon as `close()` is called before then (close() still closes the member and
   * its connections), instead of waiting for the join to end.
   */
  async start(): Promise<void> {
    this.#topics = this.#matches ? await this.#unlessClosed(this.#matchingTopics()) : [this.topic];
    await this.#unlessClosed(this.#fixStartPositions(this.#topics));
    await this.#open();
    if (this.#matches) this.#refreshTimer = setInterval(() => void this.#refreshTopics(), this.#config.consumer.topicRefreshMs).unref();
  }

  /** Settles like `step`, or rejects with a ClosedError once `close()` was called. */
  #unlessClosed<T>(step: Promise<T>): Promise<T> {
    return abortable(step, this.#halt.signal);
  }

  async #matchingTopics(): Promise<string[]> {
    return (await this.#admin.listTopics()).filter(this.#matches!).sort();
  }

  /** A pattern subscription looks for topics that appeared or went, and resubscribes when the set changed. */
  async #refreshTopics(): Promise<void> {
    if (this.#refreshing || this.#stopping || this.#restarting) return;
    this.#refreshing = true;
    try {
      if ((await this.#relist()) && !this.#stopping && !this.#restarting) this.#restart('topics');
    } finally {
      this.#refreshing = false;
    }
  }

  /**
   * Lists the topics matching the pattern again; true when the set changed (then `topics` is the
   * new set). False for a plain topic, and when the cluster could not be listed within
   * `requestTimeoutMs` (the next look tries again).
   */
  async #relist(): Promise<boolean> {
    if (!this.#matches) return false;
    const found = await withTimeout(this.#matchingTopics(), this.#config.requestTimeoutMs, 'list topics').catch(() => undefined);
    if (!found || this.#stopping) return false;
    const same = found.length === this.#topics.length && found.every((t, i) => t === this.#topics[i]);
    if (same) return false;
    this.#topics = found;
    this.#fallback = 'earliest';
    this.stats.topicChanges++;
    return true;
  }

  /**
   * A group that never committed on a partition starts at `from` (earliest/latest). The position
   * is committed before joining (Kafka accepts such commits while the group has no member), so it
   * is fixed at subscribe time, whoever in the group gets the partition later. Brokers that refuse
   * it (the librdkafka mock wants a member id) fall back to the first fetched offset, committed as
   * soon as a partition's first message arrives.
   */
  async #fixStartPositions(topics: readonly string[]): Promise<void> {
    if (topics.length === 0) return;
    // A pattern's topics exist already (they were listed); a topic of its own is created if allowed.
    const autocreateTopics = this.#matches === undefined && this.#config.producer.autocreateTopics;
    const metadata = await this.#admin.metadata({ topics: [...topics], autocreateTopics });
    const partitionIndexes = (name: string): number[] => Array.from({ length: metadata.topics.get(name)?.partitionsCount ?? 0 }, (_, i) => i);
    const [offsets] = await this.#admin.listConsumerGroupOffsets({
      groups: [{ groupId: this.group, topics: topics.map((name) => ({ name, partitionIndexes: partitionIndexes(name) })) }],
    });
    const missing = (offsets?.topics ?? [])
      .map((t) => ({ name: t.name, partitions: t.partitions.filter((p) => p.committedOffset < 0n).map((p) => p.partitionIndex) }))
      .filter((t) => t.partitions.length > 0);
    if (missing.length === 0) return;
    const timestamp = this.options.from === 'earliest' ? ListOffsetTimestamps.EARLIEST : ListOffsetTimestamps.LATEST;
    const listed = await this.#admin.listOffsets({
      topics: missing.map((t) => ({ name: t.name, partitions: t.partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) })),
    });
    const positions = listed.map((t) => ({ name: t.name, partitionOffsets: t.partitions.map((p) => ({ partition: p.partitionIndex, offset: p.offset })) }));
    // Fails when the group has active members; they fixed the positions already.
    await this.#admin.alterConsumerGroupOffsets({ groupId: this.group, topics: positions }).catch(() => undefined);
  }

  /** Commits the stream's start offsets of assigned partitions that have no committed offset. */
  async #fixAssignedPositions(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>): Promise<void> {
    const assignments = (consumer.assignments ?? []).filter((a) => a.partitions.length > 0);
    if (assignments.length === 0) return;
    // Taken synchronously, right after the stream listed offsets and before any fetch moved them.
    const start = new Map(assignments.flatMap((a) => a.partitions.map((p) => [partitionKey(a.topic, p), stream.offsetsToFetch.get(partitionKey(a.topic, p))] as const)));
    const committed = await consumer.listCommittedOffsets({ topics: assignments });
    const offsets: Array<{ topic: string; partition: number; offset: bigint; leaderEpoch: number }> = [];
    for (const a of assignments) {
      const list = committed.get(a.topic) ?? [];
      for (const p of a.partitions) {
        const offset = start.get(partitionKey(a.topic, p));
        if ((list[p] ?? -1n) < 0n && offset !== undefined && offset >= 0n) offsets.push({ topic: a.topic, partition: p, offset, leaderEpoch: -1 });
      }
    }
    if (offsets.length > 0 && consumer === this.#consumer) await consumer.commit({ offsets });
  }

  async #open(): Promise<void> {
    // Closed meanwhile: no member may join after close() looked for one to close.
    this.#halt.signal.throwIfAborted();
    const c = this.#config.consumer;
    const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      ...baseClientOptions(this.#config, 'consumer'),
      groupId: this.group,
      autocommit: false,
      sessionTimeout: c.sessionTimeoutMs,
      heartbeatInterval: c.heartbeatIntervalMs,
      rebalanceTimeout: c.rebalanceTimeoutMs,
      maxWaitTime: c.maxWaitMs,
      maxBytesPerPartition: c.maxBytesPerPartition,
      retries: 5,
      retryDelay: 250,
      // Called before every JoinGroup: the revoke point of the eager protocol.
      protocolsMetadata: () => this.#revoke().then(() => Buffer.alloc(0)),
      partitionAssigner: subscriptionAwareAssigner,
    });
    this.#consumer = consumer;
    consumer.on('consumer:group:join', (payload) => this.#joined(consumer, payload.generationId ?? -1));
    consumer.on('error', (error: Error) => this.#failed(consumer, error, 'consumer'));
    // A pattern nothing matches yet: no member joins until a topic appears.
    if (this.#topics.length > 0) await this.#openStream(consumer);
  }

  /** Starts (or restarts) fetching on `consumer`: joins the group if needed, fixes start positions. */
  async #openStream(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>): Promise<void> {
    const c = this.#config.consumer;
    // consume() joins the group; bounded, since with a broker unreachable it can hang unsettled.
    const joining = consumer.consume({
      topics: [...this.#topics],
      mode: 'committed',
      fallbackMode: this.#fallback,
      autocommit: false,
      maxWaitTime: c.maxWaitMs,
      highWaterMark: 256,
    });
    let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
    try {
      stream = await this.#unlessClosed(withTimeout(joining, c.rebalanceTimeoutMs + this.#config.requestTimeoutMs, `join group "${this.group}"`));
    } catch (error) {
      // close() stopped waiting: a stream the join still yields (its member already closed) reads for no one.
      if (this.#stopping) joining.then((late) => late.close(), () => undefined).catch(() => undefined);
      throw error;
    }
    if (this.#stopping) {
      // close() ran while the join was answered: it may have missed this member.
      await stream.close().catch(() => undefined);
      await consumer.close(true).catch(() => undefined);
      this.#halt.signal.throwIfAborted();
    }
    this.#stream = stream;
    // Fetch positions are fixed once the stream has listed its offsets (after every join): commit
    // them for partitions the group never committed, and let subscribe() resolve only then, so a
    // message published after subscribe() resolved is never skipped by a `latest` start.
    let first: ((error?: Error) => void) | undefined;
    const positioned = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, this.#config.requestTimeoutMs).unref();
      first = (error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
    });
    stream.on('offsets', () => {
      const settle = first;
      first = undefined;
      this.#fixAssignedPositions(consumer, stream).then(
        () => settle?.(),
        () => settle?.(),
      );
    });
    stream.once('error', (error: Error) => first?.(error));
    stream.on('data', (record: Record) => this.#receive(record));
    stream.on('error', (error: Error) => this.#failed(consumer, error, 'stream'));
    if (this.#fetchPaused) stream.pause();
    await this.#unlessClosed(positioned);
  }

  #joined(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, generation: number): void {
    if (consumer !== this.#consumer) return;
    this.#generation = generation;
    const assigned = new Set<string>();
    for (const a of consumer.assignments ?? []) for (const p of a.partitions) assigned.add(partitionKey(a.topic, p));
    for (const [key, state] of this.#states) {
      if (!assigned.has(key)) this.#drop(key, state);
    }
    this.#revoking = undefined;
    this.#pump();
  }

  #drop(key: string, state: PartitionState): void {
    state.dropped = true;
    this.#states.delete(key);
    this.#order = this.#order.filter((s) => s !== state);
    const waiting = state.queue.drain().length;
    this.#held -= waiting;
    state.held -= waiting;
    // In-flight entries settle later and are ignored; count them out of `held` now.
    this.#held -= state.held;
    state.held = 0;
    this.#flow();
  }

  #receive(record: Record): void {
    const consumer = this.#consumer;
    if (!consumer || this.#stopping) return;
    let state = this.#last;
    if (state === undefined || state.partition !== record.partition || state.dropped || state.topic !== record.topic) {
      state = this.#states.get(partitionKey(record.topic, record.partition));
    }
    if (!state) {
      const key = partitionKey(record.topic, record.partition);
      const owned = consumer.assignments?.some((a) => a.topic === record.topic && a.partitions.includes(record.partition));
      const generation = (record.metadata as { consumer?: { generationId?: number } }).consumer?.generationId ?? -1;
      if (!owned || generation < this.#generation) return; // read for an earlier assignment
      state = new PartitionState(record.topic, record.partition, Number(record.offset));
      this.#states.set(key, state);
      this.#order.push(state);
      // Commit the start position at once, so whoever owns the partition next continues from here.
      this.#scheduleCommit();
    }
    this.#last = state;
    const offset = Number(record.offset);
    if (offset < state.next) {
      this.stats.skippedRefetched++;
      return;
    }
    // Offsets never delivered (transaction markers, compaction) count as done.
    for (let o = state.next; o < offset; o++) state.commit.ack(o);
    state.next = offset + 1;
    state.leaderEpoch = record.leaderEpoch;
    state.queue.push({ seq: offset, key: text(record.key), record, attempt: 1 });
    state.held++;
    this.#held++;
    this.#flow();
    this.#pump();
  }

  /** Pauses fetching while too much is held, resumes below half. */
  #flow(): void {
    const limit = this.#config.consumer.maxBufferedMessages;
    if (!this.#fetchPaused && this.#held >= limit) {
      this.#fetchPaused = true;
      this.#stream?.pause();
    } else if (this.#fetchPaused && this.#held <= limit / 2) {
      this.#fetchPaused = false;
      this.#stream?.resume();
    }
  }

  #pump(): void {
    if (this.#paused || this.#stopping || this.#revoking) return;
    const n = this.#order.length;
    let idle = 0;
    while (this.#inflight < this.options.concurrency && idle < n) {
      const state = this.#order[this.#cursor % n]!;
      this.#cursor = (this.#cursor + 1) % n;
      const entry = state.queue.take();
      if (!entry) {
        idle++;
        continue;
      }
      idle = 0;
      this.#run(state, entry);
    }
  }

  #run(state: PartitionState, entry: Entry): void {
    this.#inflight++;
    const slot = this.#freeSlots.pop() ?? this.#newSlot();
    slot.state = state;
    slot.entry = entry;
    const message = fromRecord(entry.record, entry.attempt, entry.key, entry.seq);
    let running: Promise<void>;
    try {
      running = this.#handler(message, this.#context);
    } catch (error) {
      running = Promise.reject(error); // a handler that throws synchronously fails like one that rejects
    }
    Promise.resolve(running).then(slot.ok, slot.fail);
  }

  /**
   * A slot's callbacks are made once and reused for every message it runs (at most `concurrency`
   * slots exist): two closures per message were a measurable share of the consume path's garbage.
   */
  #newSlot(): Slot {
    const slot: Slot = {
      state: undefined,
      entry: undefined,
      ok: () => this.#release(slot, true),
      fail: () => this.#release(slot, false),
    };
    return slot;
  }

  #release(slot: Slot, ok: boolean): void {
    const state = slot.state!;
    const entry = slot.entry!;
    slot.state = undefined;
    slot.entry = undefined;
    this.#freeSlots.push(slot);
    this.#settle(state, entry, ok);
  }

  #settle(state: PartitionState, entry: Entry, ok: boolean): void {
    this.#inflight--;
    if (state.dropped) {
      // The partition was revoked meanwhile: its new owner starts from the committed offset.
    } else if (ok) {
      state.queue.release(entry);
      state.held--;
      this.#held--;
      if (state.commit.ack(entry.seq)) this.#scheduleCommit();
      this.#flow();
    } else {
      this.stats.redelivered++;
      const again = (): void => {
        state.queue.release(entry);
        if (state.dropped) return;
        state.queue.push({ ...entry, attempt: entry.attempt + 1 });
        this.#pump();
      };
      const delay = this.#config.consumer.redeliveryDelayMs;
      // The key stays busy during the delay, so later messages of that key cannot overtake it.
      // Without a delay, still after a turn of the event loop: a message that always fails would
      // otherwise be retried on microtasks alone, starving heartbeats, fetches, timers and signals.
      if (delay > 0 && !this.#stopping) setTimeout(again, delay).unref();
      else setImmediate(again);
    }
    if (this.#inflight === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    this.#pump();
  }

  /** Resolves when no handler is in flight, or after `ms` (then the handlers' signal is aborted when `abort`). */
  #idle(ms: number, abort: boolean): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (abort) this.#abort.abort(new ClosedError('subscription'));
        resolve();
      }, ms);
      timer.unref();
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #scheduleCommit(): void {
    if (this.#commitRunning) {
      this.#commitAgain = true;
      return;
    }
    // Commits are batched over `commitIntervalMs` (0: next turn of the event loop); revoke and close
    // commit at once, so the interval only bounds what a crash redelivers.
    const interval = this.#config.consumer.commitIntervalMs;
    this.#commitRunning = new Promise<void>((resolve) => (interval > 0 ? setTimeout(resolve, interval).unref() : setImmediate(resolve))).then(() =>
      this.#commitLoop(),
    );
  }

  async #commitLoop(): Promise<void> {
    try {
      this.#commitAgain = false;
      await this.#commitNow();
    } finally {
      this.#commitRunning = undefined;
    }
    if (this.#commitAgain && !this.#stopping) this.#scheduleCommit();
  }

  /** Commits every partition's contiguous completed prefix that moved since the last commit. */
  async #commitNow(force = false): Promise<void> {
    const consumer = this.#consumer;
    if (!consumer) return;
    // Not for topics the pattern no longer matches (deleted ones): the broker refuses those
    // (UNKNOWN_TOPIC_OR_PARTITION) and the client then fails the whole commit, so it would be
    // retried, and fail, until the member let the topic go.
    const current = this.#matches ? new Set(this.#topics) : undefined;
    const states = [...this.#states.values()].filter((s) => (force || s.committed < 0 || s.commit.committed > s.committed) && (!current || current.has(s.topic)));
    if (states.length === 0) return;
    const offsets = states.map((s) => ({ topic: s.topic, partition: s.partition, offset: BigInt(s.commit.committed), leaderEpoch: s.leaderEpoch, state: s, at: s.commit.committed }));
    try {
      await consumer.commit({ offsets: offsets.map(({ topic, partition, offset, leaderEpoch }) => ({ topic, partition, offset, leaderEpoch })) });
      this.stats.commits++;
      for (const o of offsets) if (o.state.committed < o.at) o.state.committed = o.at;
    } catch (error) {
      // A matched topic was deleted: look at the topic list now rather than at the next refresh,
      // so the member lets it go and commits the other partitions again.
      if (this.#matches && kafkaErrorIds(error).includes('UNKNOWN_TOPIC_OR_PARTITION')) void this.#refreshTopics();
      // Kept for the next commit (the group may be rebalancing); a revoked partition is redelivered
      // from its last committed offset, so a lost commit only means duplicates.
      if (!this.#stopping) setTimeout(() => this.#scheduleCommit(), 250).unref();
    }
  }

  /** The revoke point: stop intake, let in-flight handlers finish, commit what completed. */
  #revoke(): Promise<void> {
    if (this.#revoking) return Promise.resolve(); // nested rejoin (e.g. from a failed commit): don't wait on ourselves
    if (this.#states.size === 0) return Promise.resolve();
    this.stats.rebalances++;
    const c = this.#config.consumer;
    const budget = Math.max(1_000, Math.min(c.drainTimeoutMs, c.rebalanceTimeoutMs - 5_000));
    const revoking = (async () => {
      // Commit what completed right away, while the group still takes commits of this generation
      // (a broker may refuse them once other members have rejoined), then again after the drain.
      await waitAtMost(this.#commitNow(true), Math.min(2_000, budget));
      await this.#idle(budget, false);
      await waitAtMost(this.#commitNow(true), Math.min(5_000, budget));
    })();
    this.#revoking = revoking;
    return revoking;
  }

  /** The consumer or its stream failed (broker gone for longer than the retries): start over. */
  #failed(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, _error: Error, source: 'stream' | 'consumer'): void {
    if (consumer !== this.#consumer) return;
    this.#restart(source);
  }

  /**
   * Starts over: commit what completed, drop what is held, and start fetching again. When only the
   * stream failed (a broker unreachable for longer than the client's retries), on the same group
   * member, so the group keeps its member; when the consumer failed (a rejoin that kept failing) or
   * a pattern's topics changed, as a new member (leaving the group with the old subscription).
   */
  #restart(source: 'stream' | 'consumer' | 'topics'): void {
    const consumer = this.#consumer;
    if (!consumer || this.#stopping || this.#restarting) return;
    this.#restarting = true;
    if (source !== 'topics') this.stats.restarts++;
    void (async () => {
      const limit = this.#config.requestTimeoutMs;
      // A pattern's stream fails when a topic it reads was deleted: list the topics first, so the
      // commit below leaves that topic out and the new stream does not ask for it again.
      const changed = source !== 'topics' && (await this.#relist());
      await this.#idle(this.#config.consumer.drainTimeoutMs, false);
      await waitAtMost(this.#commitNow(true), Math.min(2_000, limit));
      for (const [key, state] of this.#states) this.#drop(key, state);
      this.#revoking = undefined;
      const stream = this.#stream;
      this.#stream = undefined;
      // A client stuck on an unreachable broker must not stall the restart.
      await waitAtMost(stream?.close(), limit);
      let keep = source === 'stream' && !changed && consumer.isActive();
      let backoff = 250;
      let attempts = 0;
      while (!this.#stopping) {
        try {
          if (keep) await this.#openStream(consumer);
          else {
            const old = this.#consumer;
            this.#consumer = undefined;
            await waitAtMost(old?.close(true), limit);
            // Refused LeaveGroup leaves the client open, sockets and all (as in #close).
            if (old && !old.closed) await closeConnections(old, limit);
            await this.#open();
          }
          break;
        } catch {
          const brokenStream = this.#stream as MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
          this.#stream = undefined;
          await waitAtMost(brokenStream?.close(), limit);
          if (++attempts >= 5 || !consumer.isActive()) keep = false;
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 5_000);
          // The refresh timer waits while this runs: look here, or a deleted topic would fail
          // every attempt for ever. Changed topics need a new member (a new subscription).
          if (await this.#relist()) keep = false;
        }
      }
      this.#restarting = false;
    })();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#pump();
  }

  /**
   * Stops intake, drains, commits and leaves the group (see the class). Called while `start()` is
   * under way (a subscribe() still joining), it makes `start()` reject with a ClosedError at once.
   */
  close(): Promise<void> {
    if (!this.#halt.signal.aborted) {
      this.#halt.abort(new ClosedError(`kafka subscription to "${this.topic}" as group "${this.group}"`, { detail: 'close() was called before subscribe() had finished' }));
    }
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#refreshTimer);
    this.#stream?.pause();
    // Handlers still running then are given up on: commits stop before their messages, so the
    // group's next member reads those again. (Rebalances keep consumer.drainTimeoutMs.)
    await this.#idle(this.options.drainTimeoutMs ?? this.#config.consumer.drainTimeoutMs, true);
    const stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined = this.#stream;
    const consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined = this.#consumer;
    // The last commit and leaving the group get `requestTimeoutMs` in all: against a cluster that
    // stopped answering, the client retries each request for minutes, and what is not committed is
    // only delivered again (commitNow() reports nothing: a failed commit means duplicates, not loss).
    await waitAtMost(
      (async () => {
        await this.#commitRunning;
        await this.#commitNow();
        await stream?.close().catch(() => undefined);
        await consumer?.close(true).catch(() => undefined);
      })(),
      this.#config.requestTimeoutMs,
    );
    // Still open when that ran out, or when the group refused LeaveGroup (the client then stays
    // open, sockets and all): close the connections anyway. The coordinator drops the member after
    // sessionTimeoutMs, as after a crash.
    if (stream && !stream.destroyed) stream.destroy();
    if (consumer && !consumer.closed) await closeConnections(consumer, this.#config.requestTimeoutMs);
    this.#onClose();
    this.#closed.resolve(undefined);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Closes a member's connections without leaving the group (the coordinator drops it after
 * sessionTimeoutMs, as after a crash): for a client whose `close()` failed, which keeps them open.
 */
function closeConnections(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, ms: number): Promise<void> {
  return waitAtMost(Base.prototype.close.call(consumer), ms);
}
