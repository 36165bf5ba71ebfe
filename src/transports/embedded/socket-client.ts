import { connect as netConnect, type Socket } from 'node:net';
import { ConfigError, SwitchyardError, TransportError, type ErrorCode } from '../../core/errors.ts';
import type { Message, NormalizedMessage } from '../../core/message.ts';
import { deferred, type Deferred } from '../../internal/deferred.ts';
import type { TopicInfo } from './broker.ts';
import type { EmbeddedSubscription } from './subscription.ts';
import { DEFAULT_PREFETCH_BYTES, MAX_ACKS_PER_FRAME, FrameBuilder, FrameSplitter, FrameWriter, Op, Outcome, publishFrame, type FrameReader, type WireError } from './wire-protocol.ts';

function connectOnce(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Messages the owner may send a subscription beyond its `concurrency`, so the next ones are
 * already here when a handler finishes (the socket round trip is not paid per message) — and no
 * more than DEFAULT_PREFETCH_BYTES of payload beyond them, which the owner enforces. The owner
 * still never has two messages of one key out at once, so per-key order holds.
 */
const PREFETCH = 256;

/** A subscription as this connection tracks it: deliveries received but not yet started. */
interface ClientSub {
  sub: EmbeddedSubscription;
  waiting: Array<[delivery: number, message: Message]>;
  /** The owner confirmed the subscription. Until then a lost connection is the subscriber's to retry, not `onLost`'s. */
  attached: boolean;
  /** The owner ended the subscription with this error; it ends once the deliveries it sent before are settled. */
  failed?: Error;
}

function fromWire(w: WireError): Error {
  if (w.code === 'CONFIG') return new ConfigError(w.problems ?? [w.message]);
  if (w.code === 'TRANSPORT' || w.code === undefined) return new TransportError(`embedded broker owner: ${w.message}`, { retryable: w.retryable ?? true });
  return new SwitchyardError(w.message, { code: w.code as ErrorCode });
}

/**
 * A connection to the process that owns a data directory: publishes, subscriptions and
 * acknowledgements travel over its Unix socket in the binary protocol of wire-protocol.ts.
 */
export class SocketClient {
  readonly #socket: Socket;
  readonly #writer: FrameWriter;
  readonly #requests = new Map<number, Deferred<unknown>>();
  readonly #subs = new Map<number, ClientSub>();
  #acks: number[] = [];
  #acksScheduled = false;
  #nextReq = 1;
  #nextSub = 1;
  #error: Error | undefined;
  #closing = false;
  /** The owner is closing (Op.closing): no handler starts any more; those running are acknowledged. */
  #ownerClosing = false;
  /**
   * The owner went away (it exited or died). The subscriptions that were attached are handed
   * over, to be attached again once a new owner (perhaps this process) has recovered the log.
   */
  onLost: ((error: Error, subscriptions: EmbeddedSubscription[]) => void) | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.#writer = new FrameWriter((data) => socket.write(data));
    const splitter = new FrameSplitter((type, reader) => this.#onFrame(type, reader));
    socket.on('data', (chunk: Buffer) => {
      try {
        splitter.push(chunk);
      } catch (error) {
        // A frame this process cannot read: the stream is out of step, so the connection is lost
        // (as if the owner went away) instead of an exception thrown out of the socket's handler.
        socket.destroy(new Error(`unreadable frame from the owner: ${(error as Error).message}`));
      }
    });
    socket.on('error', (error) => this.#lost(error));
    socket.on('close', () => this.#lost(new Error('connection closed')));
  }

  /** True until the socket to the owner is lost or closed. */
  get connected(): boolean {
    return this.#error === undefined && !this.#closing && !this.#socket.destroyed;
  }

  /** Connects to the owner's socket, retrying while it is not listening yet, until `timeoutMs`. */
  static async connect(path: string, timeoutMs: number): Promise<SocketClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return new SocketClient(await connectOnce(path));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() >= deadline) throw error;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  #request(frame: (req: number) => Buffer): Promise<unknown> {
    if (this.#error) return Promise.reject(this.#error);
    const req = this.#nextReq++;
    // Framed first: a message the record format cannot hold throws its ConfigError here, and no
    // request is left waiting for an answer that never comes.
    const bytes = frame(req);
    const d = deferred<unknown>();
    this.#requests.set(req, d);
    this.#writer.send(bytes);
    return d.promise;
  }

  publish(topic: string, messages: readonly NormalizedMessage[]): Promise<void> {
    return this.#request((req) => publishFrame(req, topic, messages)) as Promise<void>;
  }

  async subscribe(sub: EmbeddedSubscription): Promise<void> {
    const id = this.#nextSub++;
    const state: ClientSub = { sub, waiting: [], attached: false };
    this.#subs.set(id, state);
    sub.source = {
      setPaused: (paused) => {
        this.#writer.send(new FrameBuilder(Op.pause).u32(id).u8(paused ? 1 : 0).done());
        // Prefetched messages go back to the group while this member takes none.
        if (paused) {
          for (const [delivery] of state.waiting.splice(0)) this.#ack(id, delivery, Outcome.givenBack);
          this.#endIfFailed(id, state);
        } else this.#drain(id, state);
      },
      wake: () => this.#drain(id, state),
      leave: async () => {
        this.#flushAcks();
        try {
          await this.#request((req) => new FrameBuilder(Op.leave).u32(req).u32(id).done());
        } finally {
          this.#subs.delete(id);
        }
      },
    };
    const { group, from, concurrency } = sub.options;
    const window = concurrency + PREFETCH;
    try {
      await this.#request((req) =>
        new FrameBuilder(Op.subscribe)
          .u32(req)
          .u32(id)
          .str16(sub.topic)
          .str16(group)
          .u8(from === 'earliest' ? 0 : 1)
          .u32(window)
          .u32(concurrency)
          .u32(DEFAULT_PREFETCH_BYTES)
          .done(),
      );
      state.attached = true;
    } catch (error) {
      this.#subs.delete(id);
      throw error;
    }
  }

  /** Runs waiting deliveries while the subscription has room (its `concurrency`). */
  #drain(id: number, state: ClientSub): void {
    const { sub, waiting } = state;
    while (!this.#ownerClosing && waiting.length > 0 && !sub.paused && !sub.stopping && sub.inflight < sub.options.concurrency) {
      const [delivery, message] = waiting.shift()!;
      sub.run(message, (ok) => {
        this.#ack(id, delivery, ok ? Outcome.ok : Outcome.failed);
        this.#drain(id, state);
      });
    }
    this.#endIfFailed(id, state);
  }

  /** A subscription the owner failed ends once nothing it sent is waiting or running. */
  #endIfFailed(id: number, state: ClientSub): void {
    if (!state.failed || state.waiting.length > 0 || state.sub.inflight > 0 || this.#subs.get(id) !== state) return;
    this.#subs.delete(id);
    this.#flushAcks(); // the owner forgets the subscription once these arrive
    state.sub.fail(state.failed);
  }

  async inspect(): Promise<TopicInfo[]> {
    return (await this.#request((req) => new FrameBuilder(Op.admin).u32(req).str16('inspect').done())) as TopicInfo[];
  }

  async maintain(): Promise<{ deletedSegments: number; compactedSegments: number }> {
    return (await this.#request((req) => new FrameBuilder(Op.admin).u32(req).str16('maintain').done())) as {
      deletedSegments: number;
      compactedSegments: number;
    };
  }

  async deleteGroup(group: string): Promise<string[]> {
    return (await this.#request((req) => new FrameBuilder(Op.admin).u32(req).str16(`delete-group:${group}`).done())) as string[];
  }

  #ack(sub: number, delivery: number, outcome: number): void {
    this.#acks.push(sub, delivery, outcome);
    if (this.#acksScheduled) return;
    this.#acksScheduled = true;
    process.nextTick(() => this.#flushAcks());
  }

  #flushAcks(): void {
    this.#acksScheduled = false;
    const acks = this.#acks;
    if (acks.length === 0 || this.#error) return;
    this.#acks = [];
    // Several frames when there are very many: the owner refuses an acks frame over its size limit.
    for (let start = 0; start < acks.length; start += MAX_ACKS_PER_FRAME * 3) {
      const end = Math.min(acks.length, start + MAX_ACKS_PER_FRAME * 3);
      const f = new FrameBuilder(Op.acks, 9 + (end - start) * 3).u32((end - start) / 3);
      for (let i = start; i < end; i += 3) f.u32(acks[i]!).u32(acks[i + 1]!).u8(acks[i + 2]!);
      this.#writer.send(f.done());
    }
  }

  #onFrame(type: number, r: FrameReader): void {
    if (type === Op.result) {
      const req = r.u32();
      const ok = r.u8() === 1;
      const text = r.str32();
      const d = this.#requests.get(req);
      if (!d) return;
      this.#requests.delete(req);
      if (ok) d.resolve(text === '' ? undefined : JSON.parse(text));
      else d.reject(fromWire(JSON.parse(text) as WireError));
      return;
    }
    if (type === Op.closing) {
      // What the handlers have not started goes back now, so the owner's successor delivers it
      // once; the running handlers' acknowledgements still reach the owner, which waits for them.
      this.#ownerClosing = true;
      for (const [id, state] of this.#subs) {
        for (const [delivery] of state.waiting.splice(0)) this.#ack(id, delivery, Outcome.givenBack);
      }
      return;
    }
    if (type === Op.failed) {
      // The owner ended the subscription (its group cannot read the log). What it sent before —
      // the records before the damage — still runs, as in the owner's process; then the
      // subscription ends with the owner's error.
      const subId = r.u32();
      const state = this.#subs.get(subId);
      if (!state) return;
      state.failed = fromWire(JSON.parse(r.str32()) as WireError);
      this.#drain(subId, state);
      return;
    }
    if (type === Op.deliver) {
      const subId = r.u32();
      const delivery = r.u32();
      const topic = r.str16();
      const partition = r.u32();
      const attempt = r.u32();
      const rec = r.records()[0]!;
      const state = this.#subs.get(subId);
      if (!state || state.sub.stopping || state.sub.paused) {
        this.#ack(subId, delivery, Outcome.givenBack);
        return;
      }
      const message: Message = {
        topic,
        id: rec.id,
        key: rec.key,
        payload: rec.payload,
        headers: rec.headers,
        timestamp: rec.timestamp,
        attempt,
        partition,
        offset: String(rec.offset),
      };
      state.waiting.push([delivery, message]);
      this.#drain(subId, state);
    }
  }

  #lost(cause: Error): void {
    if (this.#error) return;
    this.#error = this.#closing
      ? new TransportError('connection to the embedded broker owner closed', { retryable: false })
      : new TransportError(`lost the connection to the embedded broker owner: ${cause.message}`, { cause, retryable: true });
    for (const d of this.#requests.values()) d.reject(this.#error);
    this.#requests.clear();
    // Prefetched deliveries of the lost owner are not run: its successor delivers them again.
    for (const state of this.#subs.values()) state.waiting.length = 0;
    const subs = [...this.#subs.values()].filter((state) => state.attached).map((state) => state.sub);
    this.#subs.clear();
    if (!this.#closing && this.onLost) this.onLost(this.#error, subs);
    else for (const sub of subs) sub.fail(this.#error);
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#flushAcks();
    this.#writer.flush();
    await new Promise<void>((resolve) => {
      if (this.#socket.destroyed) return resolve();
      this.#socket.once('close', () => resolve());
      this.#socket.end();
    });
  }
}
