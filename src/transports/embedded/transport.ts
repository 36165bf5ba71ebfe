import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Capabilities } from '../../core/capabilities.ts';
import { ClosedError, ConfigError, TransportError } from '../../core/errors.ts';
import type { Message, OutgoingMessage } from '../../core/message.ts';
import { normalizeOutgoing } from '../../core/message.ts';
import { resolveSubscribeOptions } from '../../core/subscribe-options.ts';
import { groupProblems } from '../../core/topic.ts';
import type { Handler, SubscribeOptions, Subscription, Transport } from '../../core/transport.ts';
import { Broker, type Consumer, type Delivery, type TopicInfo } from './broker.ts';
import { LOCK_FILE, tryLock } from './lock.ts';
import { resolveOptions, type EmbeddedOptions, type ResolvedEmbeddedOptions } from './options.ts';
import { SocketClient } from './socket-client.ts';
import { ensurePrivateDir } from './private-dir.ts';
import { SocketServer, SOCKET_FILE } from './socket-server.ts';
import { EmbeddedSubscription, type SubscriptionSource } from './subscription.ts';
import { MAX_CONCURRENCY } from './wire-protocol.ts';

const capabilities: Capabilities = Object.freeze({
  durable: true,
  redelivery: true,
  persistentGroups: true,
  replay: true,
  partitions: true,
  delayedRedelivery: true,
  wildcards: true,
  requestReply: false,
  maxPayloadBytes: 64 * 1024 * 1024,
});

/** Longest Unix socket path every OS we run on accepts (Linux allows 107 bytes, macOS 103). */
const MAX_SOCKET_PATH = 103;

/** A broker owned by this process, shared by every `embedded()` transport on the same directory. */
interface OwnedBroker {
  broker: Broker;
  server: SocketServer | undefined;
  release(): void;
  refs: number;
}

/**
 * This process's broker of a directory, from taking its lock until releasing it. The entry stays
 * while the broker closes (`closing`), so that a transport opening the directory again meanwhile
 * waits for the lock to be released instead of finding it held by its own pid — never a second
 * broker on the same files.
 */
interface OwnedEntry {
  opening: Promise<OwnedBroker>;
  closing: Promise<void> | undefined;
}

const owned = new Map<string, OwnedEntry>();

/** This process's broker of `dir` (opened now, or shared), or the pid of the process whose lock holds the directory. */
async function openOwned(dir: string, options: ResolvedEmbeddedOptions): Promise<OwnedBroker | number> {
  for (;;) {
    const existing = owned.get(dir);
    if (!existing) break;
    if (existing.closing) {
      await existing.closing.catch(() => undefined); // its failure is reported to the transport closing it
      continue; // someone else may have opened it again meanwhile
    }
    const o = await existing.opening;
    if (existing.closing) continue; // closed while we waited for it to open
    o.refs++;
    return o;
  }
  const lock = tryLock(dir);
  if (!lock.owned && lock.pid === process.pid) {
    // Not a broker of ours (that would be in `owned`): an embedded store given this dir as its own.
    throw new ConfigError(`${dir} is locked by an embedded store of this process; give the store a directory of its own, or open it on this transport`);
  }
  if (!lock.owned) return lock.pid;
  const opening = (async (): Promise<OwnedBroker> => {
    let broker: Broker | undefined;
    try {
      broker = Broker.open({ ...options, dir });
      const server = options.share ? new SocketServer(broker, join(dir, SOCKET_FILE)) : undefined;
      await server?.listen();
      return { broker, server, release: lock.release, refs: 1 };
    } catch (error) {
      try {
        await broker?.close();
      } finally {
        lock.release();
      }
      throw error;
    }
  })();
  const entry: OwnedEntry = { opening, closing: undefined };
  owned.set(dir, entry);
  // Runs after the failed open released the lock: the entry goes only once nothing holds it.
  opening.catch(() => {
    if (owned.get(dir) === entry) owned.delete(dir);
  });
  return opening;
}

async function releaseOwned(dir: string, o: OwnedBroker): Promise<void> {
  if (--o.refs > 0) return;
  const entry = owned.get(dir)!;
  entry.closing = (async () => {
    try {
      await o.server?.close();
      await o.broker.close();
    } finally {
      o.release();
      if (owned.get(dir) === entry) owned.delete(dir);
    }
  })();
  await entry.closing;
}

/** Turns a delivery into the Message a handler sees. */
export function toMessage(d: Delivery): Message {
  const r = d.record;
  return {
    topic: d.group.topic.name,
    id: r.id,
    key: r.key,
    payload: r.payload,
    headers: r.headers,
    timestamp: r.timestamp,
    attempt: d.entry.attempt,
    partition: d.gp.partition,
    offset: String(r.offset),
  };
}

/** A subscription of this process attached to the broker it owns. */
class LocalConsumer implements Consumer, SubscriptionSource {
  readonly broker: Broker;
  readonly sub: EmbeddedSubscription;
  #paused = false;

  constructor(broker: Broker, sub: EmbeddedSubscription) {
    this.broker = broker;
    this.sub = sub;
  }

  get pattern(): string {
    return this.sub.topic;
  }

  get group(): string {
    return this.sub.options.group;
  }

  get from(): 'earliest' | 'latest' {
    return this.sub.options.from;
  }

  hasCapacity(): boolean {
    return !this.#paused && this.sub.inflight < this.sub.options.concurrency;
  }

  deliver(d: Delivery): void {
    this.sub.run(toMessage(d), (ok) => {
      this.broker.settle(d, ok);
      // After a failure the broker pumps on the next turn (see Broker.settle): waking now would
      // hand the failed message straight back, on microtasks alone while it keeps failing.
      if (ok) this.broker.wake(this);
    });
  }

  fail(error: Error): void {
    this.sub.fail(error);
  }

  setPaused(paused: boolean): void {
    this.#paused = paused;
    if (!paused) this.broker.wake(this);
  }

  wake(): void {
    this.broker.wake(this);
  }

  async leave(): Promise<void> {
    this.broker.detach(this);
    this.broker.flushCommits();
  }
}

/**
 * The embedded durable broker as a Transport. The first process to open a data directory owns
 * it (a lock file) and runs the broker in-process; it also listens on `<dir>/broker.sock`, and
 * `embedded({ dir })` in any other local process connects through that socket transparently.
 */
export class EmbeddedTransport implements Transport {
  readonly name = 'embedded';
  readonly capabilities = capabilities;
  readonly options: ResolvedEmbeddedOptions;
  readonly #subscriptions = new Set<EmbeddedSubscription>();
  readonly #publishes = new Set<Promise<unknown>>();
  #connecting: Promise<void> | undefined;
  #owned: OwnedBroker | undefined;
  #client: SocketClient | undefined;
  #dir = '';
  #closed = false;

  constructor(options: EmbeddedOptions) {
    this.options = resolveOptions(options);
  }

  /** `'owner'` when this process runs the broker, `'client'` when it reaches another process's. */
  get role(): 'owner' | 'client' | 'disconnected' {
    return this.#owned ? 'owner' : this.#client ? 'client' : 'disconnected';
  }

  /**
   * True while this process owns the broker or its socket to the owner is connected; false before
   * `connect()`, after `close()`, and after the owner went away until the transport reconnected.
   */
  get connected(): boolean {
    if (this.#closed) return false;
    if (this.#owned) return true;
    return this.#client?.connected ?? false;
  }

  /** The broker, when this process owns the directory (for tools and tests). */
  get broker(): Broker | undefined {
    return this.#owned?.broker;
  }

  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('embedded transport'));
    this.#connecting ??= this.#connect();
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const requested = resolve(this.options.dir);
    ensurePrivateDir(requested);
    this.#dir = realpathSync(requested);
    const socketPath = join(this.#dir, SOCKET_FILE);
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      throw new ConfigError(
        `the data directory path is too long for its Unix socket (${socketPath} is ${Buffer.byteLength(socketPath)} bytes, the limit is ${MAX_SOCKET_PATH}): use a shorter dir`,
      );
    }
    const deadline = Date.now() + this.options.connectTimeoutMs;
    for (;;) {
      const o = await openOwned(this.#dir, this.options);
      if (typeof o !== 'number') {
        this.#owned = o;
        return;
      }
      try {
        // Short attempts, re-checking the lock in between: the owner may exit and free the directory.
        const client = await SocketClient.connect(join(this.#dir, SOCKET_FILE), Math.min(250, Math.max(0, deadline - Date.now())));
        client.onLost = (error, subs) => this.#failover(client, error, subs);
        this.#client = client;
        return;
      } catch (error) {
        // The owner may have died between our lock check and the connection: try to take over.
        if (Date.now() >= deadline) {
          // Say who holds the directory: an owner that is alive yet never listens runs with
          // share: false (or is still recovering a large log) — the bare ENOENT did not tell.
          // A lock without a pid is one another process is creating right now (one left so is
          // taken over two seconds after it was created).
          const holder = Number.isInteger(o) ? `process ${o} owns it (${LOCK_FILE})` : `another process is taking it (its ${LOCK_FILE} has no pid yet)`;
          throw new TransportError(
            `cannot open or connect to the embedded broker in ${this.#dir}: ${holder} but did not answer on ${SOCKET_FILE} within connectTimeoutMs (${this.options.connectTimeoutMs} ms) — ` +
              `it runs with share: false, or is still recovering its log (${(error as Error).message})`,
            { cause: error },
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) throw new ClosedError('embedded transport');
    const normalized = normalizeOutgoing(topic, messages);
    const max = capabilities.maxPayloadBytes;
    const tooLarge: string[] = [];
    for (let i = 0; i < normalized.length; i++) {
      const size = normalized[i]!.payload.length;
      if (size > max) tooLarge.push(`publish to "${topic}", message ${i}: payload of ${size} bytes exceeds the embedded broker's limit of ${max} bytes`);
    }
    ConfigError.throwIfAny(tooLarge);
    if (!this.#owned && !this.#client) await this.connect();
    const p = this.#owned ? this.#owned.broker.publish(topic, normalized) : this.#client!.publish(topic, normalized);
    this.#publishes.add(p);
    try {
      await p;
    } finally {
      this.#publishes.delete(p);
    }
  }

  async subscribe(topic: string, options: SubscribeOptions, handler: Handler): Promise<Subscription> {
    const resolved = resolveSubscribeOptions(this, topic, options, handler);
    // In this process too, so that the same subscribe works whichever process owns the directory.
    if (resolved.concurrency > MAX_CONCURRENCY) {
      throw new ConfigError([`concurrency ${resolved.concurrency} is more than the embedded broker runs at once per subscription (${MAX_CONCURRENCY}): use at most ${MAX_CONCURRENCY}`]);
    }
    if (this.#closed) throw new ClosedError('embedded transport');
    await this.connect();
    const sub = new EmbeddedSubscription(topic, resolved, handler, this.options.drainTimeoutMs);
    this.#subscriptions.add(sub);
    sub.onClosed = () => this.#subscriptions.delete(sub);
    try {
      await this.#attach(sub);
    } catch (error) {
      this.#subscriptions.delete(sub); // never attached: close() has nothing of it to drain
      throw error;
    }
    return sub;
  }

  async #attach(sub: EmbeddedSubscription): Promise<void> {
    if (this.#owned) {
      const consumer = new LocalConsumer(this.#owned.broker, sub);
      sub.source = consumer;
      if (sub.paused) consumer.setPaused(true);
      this.#owned.broker.attach(consumer);
    } else {
      await this.#client!.subscribe(sub);
      if (sub.paused) sub.source?.setPaused(true);
    }
  }

  /**
   * The owner this transport was connected to went away. Publishes in flight were rejected
   * (retryable: they may or may not have been written). Reconnect — taking ownership after
   * recovery if nobody else did — and attach the subscriptions again; messages that were in
   * flight are delivered again, as nothing unacknowledged was committed.
   */
  #failover(client: SocketClient, error: Error, subs: EmbeddedSubscription[]): void {
    if (this.#client !== client || this.#closed) {
      for (const sub of subs) sub.fail(error);
      return;
    }
    this.#client = undefined;
    this.#connecting = undefined;
    void this.#reattach(subs);
  }

  /**
   * Attaches `subs` to whatever this transport is connected to now. The connection may be lost
   * again meanwhile — e.g. it reached the dying owner's socket before the kernel closed it — and
   * then the subscriptions not yet confirmed are attached anew, after the next (re)connect.
   */
  async #reattach(subs: EmbeddedSubscription[]): Promise<void> {
    const pending = [...subs];
    for (let attempt = 1; ; attempt++) {
      try {
        await this.connect();
        while (pending.length > 0) {
          const sub = pending[0]!;
          if (!sub.stopping) await this.#attach(sub);
          pending.shift();
        }
        return;
      } catch (error) {
        const again = error instanceof TransportError && error.retryable && !this.#closed && attempt < 50;
        if (!again) {
          for (const sub of pending) sub.fail(error as Error);
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Topics, partitions, sizes, end offsets, groups and their lag. */
  async inspect(): Promise<TopicInfo[]> {
    await this.connect();
    return this.#owned ? this.#owned.broker.inspect() : this.#client!.inspect();
  }

  /** Runs retention and compaction now (they also run every `maintenanceIntervalMs`). */
  async maintain(): Promise<{ deletedSegments: number; compactedSegments: number }> {
    await this.connect();
    return this.#owned ? this.#owned.broker.maintain() : this.#client!.maintain();
  }

  /**
   * Forgets consumer group `group` on every topic where it has no member (its committed
   * positions are removed). For throwaway groups such as `switchyard tail`'s. Returns the topics.
   */
  async deleteGroup(group: string): Promise<string[]> {
    ConfigError.throwIfAny(groupProblems(group));
    await this.connect();
    return this.#owned ? this.#owned.broker.deleteGroup(group) : this.#client!.deleteGroup(group);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
    await Promise.allSettled([...this.#publishes]);
    await this.#connecting?.catch(() => undefined);
    if (this.#owned) await releaseOwned(this.#dir, this.#owned);
    this.#owned = undefined;
    await this.#client?.close();
    this.#client = undefined;
  }
}

/**
 * Creates the embedded durable broker transport: a log on local disk, no server to run.
 *
 * @example
 * ```ts
 * import { embedded } from 'switchyard/embedded';
 * const bus = embedded({ dir: './data' });
 * await bus.subscribe('orders.placed', { group: 'billing', from: 'earliest' }, async (msg) => {
 *   console.log(msg.offset, Buffer.from(msg.payload).toString());
 * });
 * await bus.publish('orders.placed', { key: 'order-1', payload: Buffer.from('{"total":42}') });
 * ```
 */
export function embedded(options: EmbeddedOptions): EmbeddedTransport {
  return new EmbeddedTransport(options);
}
