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
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  readonly #inflight = new Set<Promise<void>>();

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

  /** Queues the messages for the next batch; resolves when the broker acknowledged them. */
  publish(topic: string, messages: readonly NormalizedMessage[]): Promise<void> {
    const done = deferred();
    const records = messages.map((m) => toRecord(topic, m));
    const bytes = estimatedBytes(records);
    // Merged with what waits, the request would pass the byte bound: send what waits first, so
    // this publish cannot make a batch the broker refuses whole (with the others' messages in it).
    if (this.#pending.length > 0 && this.#pendingBytes + bytes > this.#options.batchMaxBytes) this.#flush();
    this.#pending.push({ records, done });
    this.#pendingCount += records.length;
    this.#pendingBytes += bytes;
    if (this.#pendingCount >= this.#options.batchMaxMessages || this.#pendingBytes >= this.#options.batchMaxBytes) this.#flush();
    else if (this.#timer === undefined) {
      this.#timer = this.#options.lingerMs > 0 ? setTimeout(() => this.#flush(), this.#options.lingerMs) : setImmediate(() => this.#flush());
    }
    return withTimeout(done.promise, this.#options.timeoutMs, `publish to "${topic}"`).catch((error: unknown) => {
      throw error instanceof TransportError ? error : toKafkaError(`publish to "${topic}"`, error);
    });
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
    const messages = batch.length === 1 ? batch[0]!.records : batch.flatMap((b) => b.records);
    const sending = this.client.send({ messages }).then(
      () => {
        for (const b of batch) b.done.resolve();
      },
      (error: unknown) => {
        const topics = [...new Set(messages.map((m) => m.topic))].map((t) => `"${t}"`).join(', ');
        const failure = toKafkaError(`publish to ${topics}`, error);
        for (const b of batch) b.done.reject(failure);
      },
    );
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
function estimatedBytes(records: readonly MessageToProduce<Buffer, Buffer, Buffer, Buffer>[]): number {
  let n = 0;
  for (const r of records) {
    n += RECORD_OVERHEAD_BYTES + (r.value?.byteLength ?? 0) + (r.key?.byteLength ?? 0);
    if (r.headers instanceof Map) for (const [name, value] of r.headers) n += name.byteLength + value.byteLength + 2;
  }
  return n;
}
