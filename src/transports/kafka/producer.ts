import { Producer, ProduceAcks, type MessageToProduce } from '@platformatic/kafka';
import { TransportError } from '../../core/errors.ts';
import type { NormalizedMessage } from '../../core/message.ts';
import { deferred, type Deferred } from '../../internal/deferred.ts';
import { waitAtMost, withTimeout } from '../../internal/with-timeout.ts';
import { murmur2 } from '../embedded/murmur2.ts';
import { toKafkaError } from './errors.ts';
import { toRecord } from './mapping.ts';
import { baseClientOptions, type ResolvedKafkaOptions } from './options.ts';

type Record = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

/**
 * The Java client's default partitioner for keyed records: `toPositive(murmur2(key)) % partitions`
 * (librdkafka calls it `murmur2_random`). Records without a key go round-robin.
 * @platformatic/kafka's own default uses `murmur2 >>> 0`, which disagrees with Java for half the keys.
 */
export function javaCompatiblePartitioner(): (message: Record, key: Buffer | undefined) => number {
  let next = 0;
  return (_message, key) => (key && key.length > 0 ? murmur2(key) & 0x7fffffff : next++ & 0x7fffffff);
}

/**
 * The widest spread of record times one produce request may hold. A record batch keeps each
 * record's time as a difference from its first record's, and @platformatic/dynamic-buffer 0.3.1
 * encodes a difference of 2^31 ms (24.8 days) or more wrongly (its 64-bit zigzag shifts by 31, not
 * 63): the record arrives with another time. Messages publishers date far apart (a bridge
 * replaying old history next to new messages) go in separate requests instead.
 */
export const MAX_TIME_SPREAD_MS = 2 ** 31 - 1;

interface Pending {
  records: Record[];
  done: Deferred<void>;
}

/**
 * Batches publishes into produce requests (linger), sends them with acks/idempotence/compression
 * as configured and settles each `publish()` when the broker acknowledged its records.
 */
export class KafkaPublisher {
  readonly client: Producer<Buffer, Buffer, Buffer, Buffer>;
  readonly #options: ResolvedKafkaOptions['producer'];
  #pending: Pending[] = [];
  #pendingCount = 0;
  #pendingBytes = 0;
  /** The earliest and latest record time among the pending records (see MAX_TIME_SPREAD_MS). */
  #pendingEarliest = Infinity;
  #pendingLatest = -Infinity;
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  readonly #inflight = new Set<Promise<void>>();
  /**
   * Requests start in publish order: each waits for this, which a publish sent in parts holds
   * until its last part was sent, so no later publish lands between its parts. Never rejects.
   */
  #gate: Promise<void> = Promise.resolve();

  constructor(options: ResolvedKafkaOptions) {
    this.#options = options.producer;
    const p = options.producer;
    this.client = new Producer({
      ...baseClientOptions(options, 'producer'),
      acks: p.acks === 'all' ? ProduceAcks.ALL : p.acks === 1 ? ProduceAcks.LEADER : ProduceAcks.NO_RESPONSE,
      idempotent: p.idempotent,
      // @platformatic/kafka asks InitProducerId for id 0 / epoch 0 by default, which a broker that
      // follows KIP-360 strictly (the librdkafka mock) treats as an epoch bump of an unknown producer.
      // -1/-1 is the protocol's "no producer yet".
      ...(p.idempotent ? { producerId: -1n, producerEpoch: -1 } : {}),
      compression: p.compression,
      autocreateTopics: p.autocreateTopics,
      retries: p.retries,
      retryDelay: (_client, _operation, attempt) => p.retryBackoffMs * attempt,
      partitioner: javaCompatiblePartitioner(),
    });
  }

  /**
   * Queues the messages for the next batch; resolves when the broker acknowledged them. A publish
   * larger than one request (`batchMaxBytes`, `batchMaxMessages`) goes as several requests, one
   * after another (see `#sendInParts`), and resolves when the last was acknowledged.
   */
  publish(topic: string, messages: readonly NormalizedMessage[]): Promise<void> {
    const done = deferred();
    const records = messages.map((m) => toRecord(topic, m));
    const bytes = estimatedBytes(records);
    let earliest = Infinity;
    let latest = -Infinity;
    for (const m of messages) {
      if (m.timestamp < earliest) earliest = m.timestamp;
      if (m.timestamp > latest) latest = m.timestamp;
    }
    const { batchMaxBytes, batchMaxMessages, timeoutMs } = this.#options;
    if (bytes > batchMaxBytes || records.length > batchMaxMessages || latest - earliest > MAX_TIME_SPREAD_MS) {
      this.#flush(); // what waits was published before this: it goes first
      const progress = this.#sendInParts(topic, splitRecords(records, batchMaxBytes, batchMaxMessages), done);
      return withTimeout(done.promise, timeoutMs, `publish to "${topic}"`).catch((error: unknown) => {
        if (error instanceof TransportError) throw error;
        // Timed out. The caller is told the publish failed: the parts not sent yet are not sent,
        // and later publishes no longer wait for the request in flight (see `#sendInParts`).
        progress.abandon();
        const failure = toKafkaError(`publish to "${topic}"`, error);
        failure.message +=
          ` — ${progress.acknowledged} of ${records.length} messages (the first ${progress.acknowledged}, in order) had been acknowledged;` +
          ' the request in flight may still be stored, the parts after it are not sent';
        throw failure;
      });
    }
    // Merged with what waits, the request would pass a bound: send what waits first, so this
    // publish cannot make a batch the broker refuses whole (with the others' messages in it).
    if (
      this.#pending.length > 0 &&
      (this.#pendingBytes + bytes > batchMaxBytes ||
        this.#pendingCount + records.length > batchMaxMessages ||
        Math.max(latest, this.#pendingLatest) - Math.min(earliest, this.#pendingEarliest) > MAX_TIME_SPREAD_MS)
    ) {
      this.#flush();
    }
    this.#pending.push({ records, done });
    this.#pendingCount += records.length;
    this.#pendingBytes += bytes;
    if (earliest < this.#pendingEarliest) this.#pendingEarliest = earliest;
    if (latest > this.#pendingLatest) this.#pendingLatest = latest;
    if (this.#pendingCount >= batchMaxMessages || this.#pendingBytes >= batchMaxBytes) this.#flush();
    else if (this.#timer === undefined) {
      this.#timer = this.#options.lingerMs > 0 ? setTimeout(() => this.#flush(), this.#options.lingerMs) : setImmediate(() => this.#flush());
    }
    return withTimeout(done.promise, timeoutMs, `publish to "${topic}"`).catch((error: unknown) => {
      throw error instanceof TransportError ? error : toKafkaError(`publish to "${topic}"`, error);
    });
  }

  /**
   * Sends the parts of one publish one at a time, each once the one before was acknowledged, and
   * holds later requests back (`#gate`) until its last part was sent.
   *
   * Not concurrently: with parts of one partition in flight together, a refused part leaves a gap
   * in the partition's idempotence sequence numbers; the client then takes a new producer id and
   * sends the parts behind the gap again under it, so they would be stored without the refused
   * part before them: order lost. One at a time, a failure stops the publish at a known point:
   * the parts before it acknowledged, none after it sent.
   *
   * `abandon()` (the publish timed out) stops it there too, and lets later requests go at once:
   * the part in flight may wait on a slow or silent broker for as long as the client retries
   * (`retries` × `requestTimeoutMs`), and holding every later publish behind it — to any broker —
   * would fail them all for that long. The caller was told this publish failed; a later one may
   * then be stored before the part that was in flight.
   */
  #sendInParts(topic: string, parts: readonly Record[][], done: Deferred<void>): { readonly acknowledged: number; abandon(): void } {
    let acknowledged = 0;
    let abandoned = false;
    const total = parts.reduce((n, part) => n + part.length, 0);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const prior = this.#gate;
    this.#gate = prior.then(() => released);
    const sending = prior.then(async () => {
      try {
        for (let i = 0; i < parts.length && !abandoned; i++) {
          const part = parts[i]!;
          const request = this.client.send({ messages: part });
          if (i === parts.length - 1) release();
          try {
            await request;
          } catch (error) {
            const failure = toKafkaError(`publish to "${topic}"`, error);
            const first = acknowledged;
            const last = first + part.length - 1;
            failure.message +=
              ` — ${first} of ${total} messages (the first ${first}, in order) were acknowledged, in ${i} of the ${parts.length} produce requests` +
              ` this publish was split into (producer.batchMaxBytes, batchMaxMessages); messages ${first}–${last} were in the refused request` +
              ` (not stored, or on some partitions only if it went to several brokers), the ${total - last - 1} after them were not sent`;
            done.reject(failure);
            return;
          }
          acknowledged += part.length;
        }
        done.resolve();
      } finally {
        release();
      }
    });
    this.#track(sending);
    return {
      get acknowledged() {
        return acknowledged;
      },
      abandon() {
        abandoned = true;
        release();
      },
    };
  }

  #flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer as NodeJS.Timeout);
      clearImmediate(this.#timer as NodeJS.Immediate);
      this.#timer = undefined;
    }
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    this.#pendingCount = 0;
    this.#pendingBytes = 0;
    this.#pendingEarliest = Infinity;
    this.#pendingLatest = -Infinity;
    const messages = batch.length === 1 ? batch[0]!.records : batch.flatMap((b) => b.records);
    // Through the gate: a publish sent in parts before this one has sent its last part.
    const sending = this.#gate
      .then(() => this.client.send({ messages }))
      .then(
        () => {
          for (const b of batch) b.done.resolve();
        },
        (error: unknown) => {
          const topics = [...new Set(messages.map((m) => m.topic))].map((t) => `"${t}"`).join(', ');
          const failure = toKafkaError(`publish to ${topics}`, error);
          for (const b of batch) b.done.reject(failure);
        },
      );
    this.#track(sending);
  }

  #track(sending: Promise<void>): void {
    this.#inflight.add(sending);
    void sending.finally(() => this.#inflight.delete(sending));
  }

  /** Sends what is queued and waits for every request in flight. */
  async flush(): Promise<void> {
    this.#flush();
    await Promise.all([...this.#inflight]);
  }

  /**
   * Sends what is queued and waits for requests in flight, at most `producer.timeoutMs`: by then
   * every publish waiting on them has rejected, while the client may go on retrying a request to a
   * cluster that stopped answering for minutes (`retries` × `requestTimeoutMs` and more).
   */
  async close(): Promise<void> {
    await waitAtMost(this.flush(), this.#options.timeoutMs);
    await this.client.close().catch(() => undefined);
  }
}

/** A record's overhead in a batch (length, attributes, deltas…), estimated on the high side. */
const RECORD_OVERHEAD_BYTES = 32;

/** About how many bytes `records` take in a produce request (uncompressed). */
function estimatedBytes(records: readonly Record[]): number {
  let n = 0;
  for (const r of records) n += recordBytes(r);
  return n;
}

function recordBytes(r: Record): number {
  let n = RECORD_OVERHEAD_BYTES + (r.value?.byteLength ?? 0) + (r.key?.byteLength ?? 0);
  if (r.headers instanceof Map) for (const [name, value] of r.headers) n += name.byteLength + value.byteLength + 2;
  return n;
}

/**
 * Cuts `records` into consecutive parts of at most `maxBytes` (estimated) and `maxCount` records,
 * whose times lie within MAX_TIME_SPREAD_MS of each other, in order. A record larger than
 * `maxBytes` makes a part of its own: what the broker takes as one record is checked before
 * anything is sent (the transport's `maxPayloadBytes`, `maxHeaderBytes`, `maxRecordBytes`).
 */
export function splitRecords(records: readonly Record[], maxBytes: number, maxCount: number): Record[][] {
  const parts: Record[][] = [];
  let part: Record[] = [];
  let bytes = 0;
  let earliest = Infinity;
  let latest = -Infinity;
  for (const r of records) {
    const size = recordBytes(r);
    const time = r.timestamp === undefined ? Date.now() : Number(r.timestamp);
    if (
      part.length > 0 &&
      (bytes + size > maxBytes || part.length >= maxCount || Math.max(latest, time) - Math.min(earliest, time) > MAX_TIME_SPREAD_MS)
    ) {
      parts.push(part);
      part = [];
      bytes = 0;
      earliest = Infinity;
      latest = -Infinity;
    }
    part.push(r);
    bytes += size;
    if (time < earliest) earliest = time;
    if (time > latest) latest = time;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}
