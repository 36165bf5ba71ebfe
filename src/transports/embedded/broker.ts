import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SwitchyardError } from '../../core/errors.ts';
import type { NormalizedMessage } from '../../core/message.ts';
import { isPattern, topicMatcher } from '../../core/topic.ts';
import { ContiguousCommit } from '../../internal/contiguous-commit.ts';
import { KeyedQueue, type KeyedEntry } from '../../internal/keyed-queue.ts';
import { diskError, diskErrorCode } from './disk-error.ts';
import { GroupOffsets, type AckedRanges } from './group-state.ts';
import type { ResolvedEmbeddedOptions } from './options.ts';
import type { PartitionLog, ReadHint, RecoveryNote } from './partition-log.ts';
import type { StoredRecord } from './record.ts';
import { compactPartition } from './compaction.ts';
import { applyRetention } from './retention.ts';
import { TopicLog, type TopicConfig } from './topic-log.ts';

/** Entries read ahead per partition and group, beyond those in flight. */
const LOOKAHEAD = 2_000;
/**
 * Payload bytes read ahead per partition and group, beyond those in flight. The count alone let a
 * group whose next records wait behind a busy key read 2,000 of them, however large: 2,000 records
 * of 1 MiB held 2 GiB per partition.
 */
const LOOKAHEAD_BYTES = 16 * 1024 * 1024;
const READ_BYTES = 1024 * 1024;
/**
 * Room for this many entries the queue must have before it reads more. Refilled whenever one
 * entry left it, a group with more handlers than busy keys (a process behind the socket, which
 * takes up to 264 at once, or a high `concurrency`) read the log once per message with a
 * buffer of up to READ_BYTES: keyed messages went some 50 times slower than with few handlers.
 */
const REFILL_BATCH = 128;
/**
 * Acknowledged ranges above a committed position written with it, at most (the lowest): enough for
 * the messages handled around a few failing or slow ones, and a line of the offsets file stays small.
 */
const MAX_ACKED_RANGES = 64;

/** A message waiting for (or out with) a consumer. */
export interface Entry extends KeyedEntry {
  attempt: number;
}

/**
 * Something that takes messages for a group: a subscription in this process or one of another
 * process connected through the socket.
 */
export interface Consumer {
  readonly pattern: string;
  readonly group: string;
  readonly from: 'earliest' | 'latest';
  hasCapacity(): boolean;
  /** Starts handling `record`; must end with `broker.settle(delivery, ok)` or `broker.giveBack(delivery)`. */
  deliver(delivery: Delivery): void;
  /**
   * The broker detached this consumer because its group cannot go on: a record could not be read
   * (a CorruptLogError). The subscription ends with `error`.
   */
  fail(error: Error): void;
}

/** One message handed to a consumer. */
export interface Delivery {
  readonly group: ConsumerGroup;
  readonly gp: GroupPartition;
  readonly entry: Entry;
  readonly record: StoredRecord;
}

/** A group's position in one partition. */
export class GroupPartition {
  readonly partition: number;
  readonly log: PartitionLog;
  readonly commit: ContiguousCommit;
  readonly queue = new KeyedQueue<Entry>();
  readonly records = new Map<number, StoredRecord>();
  cursor: number;
  hint: ReadHint | undefined;
  /** The committed position, or the acknowledged ranges above it, changed since they were last written. */
  moved = false;
  /** Gaps `[from, to)` above the committed position, by `from` (see `#skipGap`). */
  readonly #gaps = new Map<number, number>();
  /**
   * Ranges `[from, to)` acknowledged before the broker last closed (from the offsets file), that
   * the cursor has not passed yet, lowest first: `refill` steps over them, and they are gaps.
   */
  readonly #restored: Array<[number, number]> = [];
  /** Payload bytes of the records waiting in `queue` (see LOOKAHEAD_BYTES). */
  #queuedBytes = 0;

  /** `acked`: ranges above `start` acknowledged already (see `ackedAhead`); none are delivered again. */
  constructor(partition: number, log: PartitionLog, start: number, acked: AckedRanges = []) {
    this.partition = partition;
    this.log = log;
    // Clamped into the log like the start: nothing below it, nothing beyond what it holds.
    const ranges = acked.map(([from, to]): [number, number] => [Math.max(from, start), Math.min(to, log.nextOffset)]).filter(([from, to]) => from < to);
    while (ranges.length > 0 && ranges[0]![0] <= start) start = Math.max(start, ranges.shift()![1]);
    this.cursor = start;
    this.commit = new ContiguousCommit(start);
    for (const [from, to] of ranges) {
      this.#gaps.set(from, to);
      this.#restored.push([from, to]);
    }
  }

  /** Reads more records into the queue; false when there is nothing new. */
  refill(): boolean {
    for (let next = this.#restored[0]; next && next[0] <= this.cursor; next = this.#restored[0]) {
      this.cursor = Math.max(this.cursor, next[1]);
      this.#restored.shift();
    }
    if (this.queue.size > LOOKAHEAD - REFILL_BATCH || this.#queuedBytes >= LOOKAHEAD_BYTES || this.cursor >= this.log.endOffset) return false;
    // At least one record is read, whatever its size (a read returns its first frame whole): the
    // limit only stops reading further ahead. A few KiB at least, so a read is never too short for a frame header.
    const maxBytes = Math.min(READ_BYTES, Math.max(4096, LOOKAHEAD_BYTES - this.#queuedBytes));
    // No further than the next acknowledged range: what is in it would be read only to be dropped.
    const maxRecords = Math.min(LOOKAHEAD - this.queue.size, (this.#restored[0]?.[0] ?? Infinity) - this.cursor);
    const { records, hint } = this.log.read(this.cursor, maxRecords, maxBytes, this.hint);
    this.hint = hint;
    if (records.length === 0) return false;
    for (const r of records) {
      // Past the start of an acknowledged range (offsets without records lead there): step over it.
      for (let next = this.#restored[0]; next && r.offset >= next[0]; next = this.#restored[0]) {
        if (this.cursor < next[0]) this.#skipGap(this.cursor, next[0]);
        this.cursor = Math.max(this.cursor, next[1]);
        this.#restored.shift();
      }
      if (r.offset < this.cursor) continue; // acknowledged before the broker last closed
      if (r.offset > this.cursor) this.#skipGap(this.cursor, r.offset);
      this.records.set(r.offset, r);
      this.queue.push({ seq: r.offset, key: r.key, attempt: 1 });
      this.#queuedBytes += r.payload.length;
      this.cursor = r.offset + 1;
    }
    return true;
  }

  /** The entry of `record` was taken from the queue for a consumer. */
  taken(record: StoredRecord): void {
    this.#queuedBytes -= record.payload.length;
  }

  /** Puts `entry` (taken before) back in the queue: a redelivery, or a consumer gave it back. */
  requeue(entry: Entry, record: StoredRecord): void {
    this.queue.push(entry);
    this.#queuedBytes += record.payload.length;
  }

  /**
   * Acknowledges `offset`; true when the committed position moved. A gap the position reaches is
   * passed at once, and the offsets acknowledged after it with it.
   */
  ack(offset: number): boolean {
    if (!this.commit.ack(offset)) return false;
    this.#passGaps();
    return true;
  }

  /** Moves the committed position over the gaps it reached. */
  #passGaps(): void {
    for (let to = this.#gaps.get(this.commit.committed); to !== undefined; to = this.#gaps.get(this.commit.committed)) {
      this.#gaps.delete(this.commit.committed);
      // The gap's last offset has no record: acknowledging it moves on over what follows it.
      this.commit.skipTo(to - 1);
      this.commit.ack(to - 1);
    }
  }

  /**
   * The offsets above the committed position that need no delivery again — acknowledged while one
   * before them was still out, or with no record — as at most `max` ranges, the lowest: written
   * with the position, so that a restart does not hand out again what was handled (the ones left
   * out beyond `max` are, at least once). Everything below the cursor not waiting in `records` is such an offset.
   */
  ackedAhead(max: number): Array<[number, number]> {
    const committed = this.commit.committed;
    const ranges: Array<[number, number]> = [];
    // Fewer records waiting than offsets read since the committed position: some were acknowledged.
    if (this.cursor - committed > this.records.size) {
      let from = committed;
      for (const offset of [...this.records.keys()].sort((a, b) => a - b)) {
        if (offset > from) ranges.push([from, offset]);
        from = offset + 1;
      }
      if (this.cursor > from) ranges.push([from, this.cursor]);
    }
    for (const [from, to] of this.#restored) if (to > committed) ranges.push([Math.max(from, committed), to]);
    return ranges.slice(0, max);
  }

  /**
   * Offsets with no record (deleted by retention or compaction) count as acknowledged. A gap above
   * the committed position (records before it still out) is kept as one range until the position
   * reaches it: acknowledging each of its offsets held one entry per offset, and a gap of 2^24
   * (a key updated that often, then compacted) ended the group with "Set maximum size exceeded".
   */
  #skipGap(from: number, to: number): void {
    if (this.commit.committed >= from) {
      this.commit.skipTo(to);
      this.#passGaps(); // an acknowledged range restored from the offsets file may start there
    } else this.#gaps.set(from, to);
  }
}

/** One consumer group on one topic; it outlives its members. */
export class ConsumerGroup {
  readonly name: string;
  readonly topic: TopicState;
  readonly partitions: GroupPartition[];
  readonly members: Consumer[] = [];
  readonly #onError: (group: ConsumerGroup, error: Error) => void;
  #nextMember = 0;
  #nextPartition = 0;
  #pumping = false;

  constructor(name: string, topic: TopicState, partitions: GroupPartition[], onError: (group: ConsumerGroup, error: Error) => void) {
    this.name = name;
    this.topic = topic;
    this.partitions = partitions;
    this.#onError = onError;
  }

  /**
   * Hands ready messages to members with free capacity. Never throws: it runs from fsync
   * callbacks, timers and handler completions, where an exception would end the process. A
   * record that cannot be read (damage in a segment trusted on open) goes to `onError`, which
   * ends the group's subscriptions with it.
   */
  pump(): void {
    if (this.#pumping || this.members.length === 0) return;
    this.#pumping = true;
    try {
      for (;;) {
        const member = this.#freeMember();
        if (!member) return;
        const delivery = this.#next();
        if (!delivery) return;
        member.deliver(delivery);
      }
    } catch (error) {
      this.#onError(this, error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#pumping = false;
    }
  }

  #freeMember(): Consumer | undefined {
    const n = this.members.length;
    for (let i = 0; i < n; i++) {
      const member = this.members[(this.#nextMember + i) % n]!;
      if (member.hasCapacity()) {
        this.#nextMember = (this.#nextMember + i + 1) % n;
        return member;
      }
    }
    return undefined;
  }

  #next(): Delivery | undefined {
    const n = this.partitions.length;
    for (let i = 0; i < n; i++) {
      const gp = this.partitions[(this.#nextPartition + i) % n]!;
      let entry = gp.queue.take();
      while (!entry && gp.refill()) entry = gp.queue.take();
      if (entry) {
        this.#nextPartition = (this.#nextPartition + i + 1) % n;
        const record = gp.records.get(entry.seq)!;
        gp.taken(record);
        return { group: this, gp, entry, record };
      }
    }
    return undefined;
  }
}

/** A topic with its groups. */
export class TopicState {
  readonly log: TopicLog;
  readonly groups = new Map<string, ConsumerGroup>();

  constructor(log: TopicLog) {
    this.log = log;
  }

  get name(): string {
    return this.log.name;
  }
}

/** What `inspect()` reports per topic. */
export interface TopicInfo {
  topic: string;
  partitions: Array<{ partition: number; startOffset: number; endOffset: number; bytes: number; segments: number }>;
  groups: Array<{ group: string; partitions: Array<{ partition: number; committed: number; lag: number }>; lag: number }>;
  compact: boolean;
}

/**
 * The owner's state: topics and their logs, consumer groups with their durable positions, and
 * the dispatch of messages to consumers (local subscriptions and remote ones alike).
 */
export class Broker {
  readonly options: ResolvedEmbeddedOptions;
  readonly topics = new Map<string, TopicState>();
  readonly offsets: GroupOffsets;
  readonly recovery: RecoveryNote[] = [];
  readonly #consumers = new Set<Consumer>();
  readonly #attachments = new Map<Consumer, ConsumerGroup[]>();
  /** Consumers detached because their group could not read its log. */
  readonly #failed = new WeakSet<Consumer>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Groups to pump on the next turn of the event loop (see `#pumpSoon`). */
  readonly #pumpLater = new Set<ConsumerGroup>();
  /** New topics that pattern subscriptions have not all joined yet (see `#joinPatterns`). */
  readonly #joinsOwed = new Set<TopicState>();
  #pumpTimer: NodeJS.Timeout | undefined;
  #commitTimer: NodeJS.Timeout | undefined;
  /** Groups whose committed position moved since the last write. */
  readonly #moved: Array<[ConsumerGroup, GroupPartition]> = [];
  #maintenance: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(options: ResolvedEmbeddedOptions) {
    this.options = options;
    mkdirSync(join(options.dir, 'topics'), { recursive: true, mode: 0o700 });
    this.offsets = new GroupOffsets(join(options.dir, 'offsets.jsonl'), options.fsync !== 'never');
  }

  /** Opens every topic in the data directory (recovering each partition) and starts maintenance. */
  static open(options: ResolvedEmbeddedOptions): Broker {
    const broker = withDiskErrors(`opening the embedded broker at ${options.dir}`, () => new Broker(options));
    const topicsDir = join(options.dir, 'topics');
    try {
      for (const name of readdirSync(topicsDir).sort()) {
        if (existsSync(join(topicsDir, name, 'meta.json'))) broker.#topic(name);
      }
    } catch (error) {
      broker.close().catch(() => undefined); // what failed to open is the error to report
      throw error;
    }
    broker.#maintenance = setInterval(() => {
      try {
        broker.maintain();
        broker.#reported.delete('maintenance');
      } catch (error) {
        broker.#report('maintenance', error);
      }
    }, options.maintenanceIntervalMs);
    broker.#maintenance.unref();
    return broker;
  }

  #configFor(name: string): TopicConfig {
    const t = this.options.topics[name] ?? {};
    const retention = t.retention ?? this.options.retention;
    return {
      partitions: t.partitions ?? this.options.partitions,
      retentionMs: retention.maxAgeMs,
      retentionBytes: retention.maxBytes,
      compact: t.compact ?? false,
    };
  }

  #topic(name: string): TopicState {
    let state = this.topics.get(name);
    if (state) return state;
    const { fsync, segmentBytes, batchWindowMs, verifyOnOpen } = this.options;
    const dir = join(this.options.dir, 'topics', name);
    const log = withDiskErrors(`opening topic "${name}" in ${dir}`, () => TopicLog.open(name, dir, this.#configFor(name), { fsync, segmentBytes, batchWindowMs, verifyOnOpen }));
    state = new TopicState(log);
    this.topics.set(name, state);
    for (const p of log.partitions) {
      this.recovery.push(...p.recovery);
      const s = state;
      p.onVisible = () => {
        for (const g of s.groups.values()) g.pump();
      };
    }
    // Groups known from the offsets file keep their place even before a member returns.
    for (const e of this.offsets.entries()) if (e.topic === name) this.#group(state, e.group, 'earliest');
    // Pattern subscriptions pick up topics created after them, from the topic's first message:
    // they join before anything is published to it (see `#joinPatterns`).
    for (const c of this.#consumers) {
      if (topicMatcher(c.pattern)(name)) {
        this.#joinsOwed.add(state);
        break;
      }
    }
    return state;
  }

  /**
   * Joins the pattern subscriptions that match `t` to their groups on it, if some have not yet:
   * a group's starting position on a new topic must be saved first, and that can fail (a full
   * disk). Throws the first failure, saying so; the topic then stays owed its joins, tried again
   * by every publish to it (refused until they are made, so none of its messages is published
   * before a matching group has a saved position) and by maintenance.
   */
  #joinPatterns(t: TopicState): void {
    if (!this.#joinsOwed.has(t)) return;
    let failure: unknown;
    for (const c of [...this.#consumers]) {
      if (!topicMatcher(c.pattern)(t.name) || this.#attachments.get(c)?.some((g) => g.topic === t)) continue;
      try {
        this.#join(c, this.#group(t, c.group, 'earliest', false, c.pattern));
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
    this.#joinsOwed.delete(t);
    if (this.#joinsOwed.size === 0) this.#reported.delete('joins');
  }

  /** `#joinPatterns` for `topics` (every topic owed joins), where no caller waits: a failure is a warning. */
  #retryJoins(topics: Iterable<TopicState> = this.#joinsOwed): void {
    for (const t of [...topics]) {
      try {
        this.#joinPatterns(t);
      } catch (error) {
        this.#report('joins', error);
      }
    }
  }

  /**
   * Group `name` of topic `t`, created if new. `subscribing`: created by a subscribe, which is
   * refused when the new group's starting positions cannot be saved (a full disk) — saying so, and
   * leaving no unsaved position behind for a later commit to save: the subscription was not made,
   * so subscribing again starts the group afresh. `pattern`: created for a subscription to that
   * pattern on a topic created after it (see `#joinPatterns`); its unsaved position stays, to be
   * saved by the next flush.
   */
  #group(t: TopicState, name: string, from: 'earliest' | 'latest', subscribing = false, pattern?: string): ConsumerGroup {
    let g = t.groups.get(name);
    if (g) return g;
    const fresh: number[] = [];
    const parts = t.log.partitions.map((log, p) => {
      const stored = this.offsets.get(t.name, name, p);
      // A stored position is clamped into the log: below its start after retention, and above its
      // end only if records it covered were lost (fsync 'never' and an OS crash).
      const start = stored !== undefined ? Math.min(Math.max(stored, log.startOffset), log.nextOffset) : from === 'earliest' ? log.startOffset : log.nextOffset;
      if (stored === undefined) {
        this.offsets.set(t.name, name, p, start);
        fresh.push(p);
      }
      return new GroupPartition(p, log, start, this.offsets.acked(t.name, name, p));
    });
    // A new group's starting point is durable before subscribe resolves.
    const refused = subscribing
      ? `Group "${name}" was not subscribed to "${t.name}" (its starting position could not be saved); subscribe again once this is fixed.`
      : pattern !== undefined
        ? `Group "${name}" (subscribed to "${pattern}") has not joined the new topic "${t.name}" (its starting position could not be saved), so publishing to "${t.name}" is refused and nothing of it is stored. ` +
          'Publish again once this is fixed: the group joins first (maintenance also tries again), and gets the topic from its first message.'
        : undefined;
    try {
      this.offsets.flush(refused);
    } catch (error) {
      if (subscribing) for (const p of fresh) this.offsets.forgetUnsaved(t.name, name, p);
      throw error;
    }
    g = new ConsumerGroup(name, t, parts, (group, error) => this.#groupFailed(group, error));
    t.groups.set(name, g);
    return g;
  }

  #join(c: Consumer, g: ConsumerGroup): void {
    g.members.push(c);
    this.#attachments.get(c)?.push(g);
    g.pump();
  }

  /** Appends to `topic` (created on first use); resolves when durable per the fsync mode. */
  async publish(topic: string, messages: readonly NormalizedMessage[]): Promise<void> {
    const t = this.#topic(topic);
    this.#joinPatterns(t);
    if (messages.length > 0) await t.log.append(messages);
  }

  /**
   * Adds a consumer to its group on every matching topic (and on matching topics created later).
   * A group that cannot read its log fails the consumer through `fail` — already here, after the
   * records before the damage, if that is where it meets it: a subscription ends the same way
   * whenever it meets the damage, in this process or through the socket.
   */
  attach(c: Consumer): void {
    this.#attachments.set(c, []);
    try {
      // A concrete topic is created now, so nothing published after subscribe resolves is missed.
      if (!isPattern(c.pattern)) {
        const t = this.#topic(c.pattern);
        // Not this subscription's failure: publishing to the topic is what waits for those joins.
        this.#retryJoins([t]);
      }
      this.#consumers.add(c);
      const matches = topicMatcher(c.pattern);
      for (const t of this.topics.values()) {
        if (this.#failed.has(c)) return; // failed and detached: joining more groups would attach it again
        if (matches(t.name) && !this.#attachments.get(c)!.some((g) => g.topic === t)) this.#join(c, this.#group(t, c.group, c.from, true));
      }
    } catch (error) {
      // Its subscribe fails (a new group's position could not be saved: a full disk): a consumer
      // left attached would still be handed messages — by the groups it joined, and by matching
      // topics created later — for a subscription its caller was told does not exist.
      this.detach(c);
      throw error;
    }
  }

  /**
   * A group could not read its log (a CorruptLogError: damage in a segment trusted on open). It
   * cannot go on, so its members are detached and end with the error; a later subscriber to the
   * group meets the same error, until the segment is repaired and the directory opened again.
   */
  #groupFailed(g: ConsumerGroup, error: Error): void {
    for (const c of [...g.members]) {
      this.detach(c);
      this.#failed.add(c);
      c.fail(error);
    }
  }

  /** Stops giving `c` messages (it settles or gives back what it holds itself). */
  detach(c: Consumer): void {
    this.#consumers.delete(c);
    for (const g of this.#attachments.get(c) ?? []) {
      const i = g.members.indexOf(c);
      if (i >= 0) g.members.splice(i, 1);
      g.pump();
    }
    this.#attachments.delete(c);
  }

  /** A consumer has capacity again: offer it messages from each of its groups. */
  wake(c: Consumer): void {
    const groups = this.#attachments.get(c);
    if (!groups) return;
    for (const g of groups) {
      if (!c.hasCapacity()) return;
      g.pump();
    }
  }

  /**
   * The handler of `d` finished: acknowledge it, or put it back for redelivery with attempt + 1.
   * A consumer in this process must not pump (`wake`) right after a failure: without a delay, the
   * message is back in the queue and would go out again at once, on microtasks alone (see
   * `#pumpSoon`). One behind the socket may: its next result comes back through I/O.
   */
  settle(d: Delivery, ok: boolean): void {
    const { group, gp, entry } = d;
    if (ok) {
      gp.queue.release(entry);
      gp.records.delete(entry.seq);
      gp.ack(entry.seq);
      // Written even when the committed position stays (a message before it is still out): the
      // acknowledged ranges above it are written with it (see GroupPartition.ackedAhead).
      this.#committed(group, gp);
      group.pump();
      return;
    }
    const again: Entry = { seq: entry.seq, key: entry.key, attempt: entry.attempt + 1 };
    if (this.options.redeliveryDelayMs === 0 || this.#closed) {
      // Back in its place at once, before the messages behind it. On a timer, it was out of the
      // queue for a turn of the event loop: a member joining meanwhile (a subscription of the
      // group opened right after another closed) was given those later messages first, and the
      // committed position then stopped below the failed ones while the later ones were
      // acknowledged — a gap that a restart turns into those later messages handled twice.
      gp.queue.release(entry);
      gp.requeue(again, d.record);
      this.#pumpSoon(group);
      return;
    }
    // The key stays busy during the delay so later messages of that key cannot overtake it.
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      gp.queue.release(entry);
      gp.requeue(again, d.record);
      group.pump();
    }, this.options.redeliveryDelayMs);
    this.#timers.add(timer);
    // The failed consumer has room again for other messages.
    this.#pumpSoon(group);
  }

  /**
   * Pumps `group` on the next turn of the event loop (one timer for every group asking in this
   * turn), not now: a message that always fails would otherwise be delivered again on microtasks
   * alone, and timers, I/O and signals would never run. Messages other handlers acknowledge
   * meanwhile still pump at once, so a failed message may go out again within the turn — but
   * only as often as something else succeeded.
   */
  #pumpSoon(group: ConsumerGroup): void {
    if (this.#closed) return;
    this.#pumpLater.add(group);
    this.#pumpTimer ??= setTimeout(() => {
      this.#pumpTimer = undefined;
      const groups = [...this.#pumpLater];
      this.#pumpLater.clear();
      for (const g of groups) g.pump();
    }, 0);
  }

  /** A consumer leaves without handling `d` (closing, or its process went away): someone else gets it. */
  giveBack(d: Delivery): void {
    d.gp.queue.release(d.entry);
    d.gp.requeue(d.entry, d.record);
    d.group.pump();
  }

  #committed(group: ConsumerGroup, gp: GroupPartition): void {
    if (gp.moved) return;
    gp.moved = true;
    this.#moved.push([group, gp]);
    this.#commitTimer ??= setTimeout(() => this.#flushCommitsInBackground(), 20);
  }

  /**
   * Writes committed positions now (on a short timer, and when subscriptions close). `durable`:
   * synced before it returns; the timer's flushes sync on the thread pool instead.
   */
  flushCommits(durable = true): void {
    this.#collectMoved();
    if (durable) this.offsets.flush();
    else this.offsets.flushSoon();
  }

  /** Hands the positions that moved to the offsets file's table (written by its next flush). */
  #collectMoved(): void {
    if (this.#commitTimer) clearTimeout(this.#commitTimer);
    this.#commitTimer = undefined;
    for (const [group, gp] of this.#moved) {
      gp.moved = false;
      this.offsets.set(group.topic.name, group.name, gp.partition, gp.commit.committed, gp.ackedAhead(MAX_ACKED_RANGES));
    }
    this.#moved.length = 0;
  }

  /**
   * The timer's flush. A failure to write (a full disk) must not end the process from a timer: the
   * positions stay to be written by the next flush, and the problem is reported as a warning.
   */
  #flushCommitsInBackground(): void {
    try {
      this.flushCommits(false);
      this.#reported.delete('commit');
    } catch (error) {
      this.#report('commit', error);
    }
  }

  /** Problems reported and not yet over, by what failed: each is reported once until it is. */
  readonly #reported = new Set<string>();

  /**
   * Reports a failure of work no caller waits for (background commits, retention, compaction) as a
   * process warning (`process.on('warning')`; Node prints it on stderr), once until that work succeeds again.
   */
  #report(what: string, error: unknown): void {
    if (this.#reported.has(what)) return;
    this.#reported.add(what);
    process.emitWarning(error instanceof Error ? error : new Error(String(error)));
  }

  /**
   * Retention and compaction of every topic; runs on a timer and on demand. Also joins pattern
   * subscriptions to the new topics they could not join before (see `#joinPatterns`).
   */
  maintain(now = Date.now()): { deletedSegments: number; compactedSegments: number } {
    this.#retryJoins();
    let deletedSegments = 0;
    let compactedSegments = 0;
    for (const t of this.topics.values()) {
      deletedSegments += applyRetention(t.log, now);
      if (t.log.config.compact) {
        for (const p of t.log.partitions) compactedSegments += compactPartition(p, now, this.options.tombstoneRetentionMs);
      }
      for (const g of t.groups.values()) g.pump();
    }
    return { deletedSegments, compactedSegments };
  }

  /**
   * Forgets a consumer group on every topic where it has no member left: its committed
   * positions are removed (a later subscription with that name starts afresh). Returns the
   * topics it was removed from.
   */
  deleteGroup(name: string): string[] {
    const removed: string[] = [];
    for (const t of this.topics.values()) {
      const g = t.groups.get(name);
      if (!g || g.members.length > 0) continue;
      t.groups.delete(name);
      removed.push(t.name);
    }
    this.#moved.splice(0, this.#moved.length, ...this.#moved.filter(([g]) => g.name !== name || g.members.length > 0));
    this.offsets.delete(name, new Set(removed));
    return removed;
  }

  /** Topics, partitions, sizes, end offsets, groups and their lag. */
  inspect(): TopicInfo[] {
    return [...this.topics.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((t) => {
        const partitions = t.log.partitions.map((p, i) => ({
          partition: i,
          startOffset: p.startOffset,
          endOffset: p.endOffset,
          bytes: p.sizeBytes,
          segments: p.segments.length,
        }));
        const groups = [...t.groups.values()].map((g) => {
          const parts = g.partitions.map((gp) => {
            const committed = Math.max(gp.commit.committed, gp.log.startOffset);
            return { partition: gp.partition, committed, lag: Math.max(0, gp.log.endOffset - committed) };
          });
          return { group: g.name, partitions: parts, lag: parts.reduce((n, p) => n + p.lag, 0) };
        });
        return { topic: t.name, partitions, groups, compact: t.log.config.compact ?? false };
      });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#maintenance) clearInterval(this.#maintenance);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    if (this.#pumpTimer) clearTimeout(this.#pumpTimer);
    this.#pumpTimer = undefined;
    this.#pumpLater.clear();
    await Promise.all([...this.topics.values()].map((t) => t.log.close()));
    this.#collectMoved();
    this.offsets.close(); // writes them; a failure (a full disk) is thrown once the file is closed
  }
}

/** Runs `open`; a file system error it throws (a full disk…) becomes a TransportError that says what to do. */
function withDiskErrors<T>(what: string, open: () => T): T {
  try {
    return open();
  } catch (error) {
    if (error instanceof SwitchyardError || diskErrorCode(error) === undefined) throw error;
    throw diskError(what, error, 'Nothing was changed; try again once this is fixed.');
  }
}
