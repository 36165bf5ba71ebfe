import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { ConfigError } from '../../core/errors.ts';
import type { NormalizedMessage } from '../../core/message.ts';
import { groupProblems, patternProblems, topicProblems } from '../../core/topic.ts';
import type { Broker, Consumer, Delivery } from './broker.ts';
import { encodeRecords } from './record.ts';
import {
  budgetProblems,
  clientFrameProblem,
  FrameBuilder,
  FrameSplitter,
  FrameWriter,
  Op,
  Outcome,
  readSubscribeBudget,
  toWire,
  type FrameReader,
  type SubscribeBudget,
} from './wire-protocol.ts';

/** The socket the owner listens on, inside the data directory. */
export const SOCKET_FILE = 'broker.sock';

/** The `code` of the process warning the owner emits when it drops a connection that broke the protocol. */
export const PROTOCOL_WARNING = 'SWITCHYARD_EMBEDDED_PROTOCOL';

/** A subscription of another process, as the owner's broker sees it. */
class RemoteConsumer implements Consumer {
  readonly conn: Connection;
  readonly id: number;
  readonly pattern: string;
  readonly group: string;
  readonly from: 'earliest' | 'latest';
  /**
   * How much may be out at once. The count alone let a slow subscriber hold concurrency + 256
   * deliveries however large — 256 of 16 MiB were 4 GiB in each process.
   */
  readonly budget: SubscribeBudget;
  /** Deliveries sent and not yet settled, by delivery id (take them out with `settled`). */
  readonly out = new Map<number, Delivery>();
  /** Payload bytes of the deliveries in `out`. */
  #outBytes = 0;
  paused = false;
  /** The broker failed it: it gets nothing more and goes once what it holds is settled. */
  failed = false;
  #nextDelivery = 1;

  constructor(conn: Connection, id: number, pattern: string, group: string, from: 'earliest' | 'latest', budget: SubscribeBudget) {
    this.conn = conn;
    this.id = id;
    this.pattern = pattern;
    this.group = group;
    this.from = from;
    this.budget = budget;
  }

  /**
   * Room for another delivery: always while fewer than `concurrency` are out (the handlers never
   * starve, however large the messages), and beyond that while those out are fewer than the
   * window and hold less than `prefetchBytes` — at most one delivery crosses that limit.
   */
  hasCapacity(): boolean {
    if (this.paused) return false;
    const n = this.out.size;
    return n < this.budget.concurrency || (n < this.budget.window && this.#outBytes < this.budget.prefetchBytes);
  }

  deliver(d: Delivery): void {
    const id = this.#nextDelivery++;
    this.out.set(id, d);
    this.#outBytes += d.record.payload.length;
    const r = d.record;
    const topic = d.group.topic.name;
    const f = new FrameBuilder(Op.deliver, 64 + topic.length * 3 + r.payload.length + r.id.length * 3 + r.key.length * 3)
      .u32(this.id)
      .u32(id)
      .str16(topic)
      .u32(d.gp.partition)
      .u32(d.entry.attempt);
    this.conn.sendDelivery(f, r);
  }

  /**
   * The broker detached this consumer (its group cannot read its log). Its process is told; the
   * deliveries it holds — the records before the damage — are still its to settle, as a
   * subscription in the owner's process settles what it holds, and it goes once they are.
   */
  fail(error: Error): void {
    this.failed = true;
    this.conn.writer.send(new FrameBuilder(Op.failed).u32(this.id).str32(JSON.stringify(toWire(error))).done());
    if (this.out.size === 0) this.conn.consumers.delete(this.id);
  }

  /** Takes delivery `id` out of `out` (its process settled it); undefined when it is not out. */
  settled(id: number): Delivery | undefined {
    const d = this.out.get(id);
    if (!d) return undefined;
    this.out.delete(id);
    this.#outBytes -= d.record.payload.length;
    return d;
  }

  /** Hands every unsettled delivery back to the group (the consumer left or its process went away). */
  giveBackAll(broker: Broker): void {
    const held = [...this.out.values()];
    this.out.clear();
    this.#outBytes = 0;
    for (const d of held) broker.giveBack(d);
  }
}

/** One connected process. */
class Connection {
  readonly socket: Socket;
  readonly broker: Broker;
  readonly consumers = new Map<number, RemoteConsumer>();
  readonly writer: FrameWriter;
  /** The owner is closing (see `drain`): its consumers get nothing more. */
  draining = false;
  /** Called whenever deliveries are settled or given back (acknowledgements, a subscription leaving): the owner's drain looks again. */
  onSettled: (() => void) | undefined;
  #closed = false;

  constructor(socket: Socket, broker: Broker) {
    this.socket = socket;
    this.broker = broker;
    this.writer = new FrameWriter((data) => {
      if (!this.#closed) socket.write(data);
    });
    const splitter = new FrameSplitter((type, reader) => this.#onFrame(type, reader), clientFrameProblem);
    socket.on('data', (chunk: Buffer) => {
      try {
        splitter.push(chunk);
      } catch (error) {
        // Not our protocol, or a frame we cannot read: nothing more from this peer can be trusted
        // to be framed right. Drop it at once — before its announced length is buffered — give
        // its messages back, and say why; other connections carry on.
        if (this.#closed) return;
        process.emitWarning(`embedded broker: closed a connection to its socket that broke the protocol: ${(error as Error).message}`, { code: PROTOCOL_WARNING });
        this.dispose();
      }
    });
    socket.on('close', () => this.dispose());
    socket.on('error', () => this.dispose());
  }

  sendDelivery(f: FrameBuilder, r: Delivery['record']): void {
    const frame = f
      .bytes(recordFrame(r))
      .done();
    this.writer.send(frame);
  }

  #result(req: number, ok: boolean, body: unknown): void {
    this.writer.send(new FrameBuilder(Op.result).u32(req).u8(ok ? 1 : 0).str32(body === undefined ? '' : JSON.stringify(body)).done());
  }

  #error(req: number, error: unknown): void {
    this.#result(req, false, toWire(error));
  }

  #onFrame(type: number, r: FrameReader): void {
    switch (type) {
      case Op.publish: {
        const req = r.u32();
        const topic = r.str16();
        const count = r.u32();
        const records = r.records();
        if (records.length !== count) throw new RangeError(`malformed frame: a publish of ${count} messages holds ${records.length} records`);
        const messages: NormalizedMessage[] = records.map((rec) => ({ id: rec.id, key: rec.key, headers: rec.headers, payload: rec.payload, timestamp: rec.timestamp }));
        // The client validated already; the owner checks names again, as they become paths.
        const problems = topicProblems(topic);
        if (problems.length > 0) return this.#error(req, new ConfigError(problems));
        this.broker.publish(topic, messages).then(
          () => this.#result(req, true, undefined),
          (error: unknown) => this.#error(req, error),
        );
        return;
      }
      case Op.subscribe: {
        const req = r.u32();
        const id = r.u32();
        const pattern = r.str16();
        const group = r.str16();
        const from = r.u8() === 0 ? 'earliest' : 'latest';
        const budget = readSubscribeBudget(r, r.u32());
        // Refused with an answer, not a dropped connection: the frame is well formed, the client
        // gets a ConfigError naming the limits.
        const problems = [...patternProblems(pattern), ...groupProblems(group), ...budgetProblems(budget)];
        if (problems.length > 0) return this.#error(req, new ConfigError(problems));
        const c = new RemoteConsumer(this, id, pattern, group, from, budget);
        c.paused = this.draining; // the owner is closing: nothing more goes out
        this.consumers.set(id, c);
        try {
          this.broker.attach(c);
          this.#result(req, true, undefined);
        } catch (error) {
          this.consumers.delete(id);
          this.#error(req, error);
        }
        return;
      }
      case Op.acks: {
        const count = r.u32();
        const woken = new Set<RemoteConsumer>();
        for (let i = 0; i < count; i++) {
          const c = this.consumers.get(r.u32());
          const deliveryId = r.u32();
          const outcome = r.u8();
          const d = c?.settled(deliveryId);
          if (!c || !d) continue;
          if (outcome === Outcome.givenBack) this.broker.giveBack(d);
          else this.broker.settle(d, outcome === Outcome.ok);
          if (c.failed && c.out.size === 0) this.consumers.delete(c.id);
          woken.add(c);
        }
        for (const c of woken) this.broker.wake(c);
        this.onSettled?.();
        return;
      }
      case Op.pause: {
        const c = this.consumers.get(r.u32());
        const paused = r.u8() === 1;
        if (!c || this.draining) return;
        c.paused = paused;
        if (!paused) this.broker.wake(c);
        return;
      }
      case Op.leave: {
        const req = r.u32();
        const c = this.consumers.get(r.u32());
        if (c) {
          this.consumers.delete(c.id);
          this.broker.detach(c);
          c.giveBackAll(this.broker);
          this.broker.flushCommits();
          this.onSettled?.();
        }
        this.#result(req, true, undefined);
        return;
      }
      case Op.admin: {
        const req = r.u32();
        const op = r.str16();
        try {
          if (op === 'inspect') this.#result(req, true, this.broker.inspect());
          else if (op === 'maintain') this.#result(req, true, this.broker.maintain());
          else if (op.startsWith('delete-group:')) this.#result(req, true, this.broker.deleteGroup(op.slice('delete-group:'.length)));
          else throw new Error(`unknown admin operation "${op}"`);
        } catch (error) {
          this.#error(req, error);
        }
        return;
      }
      default:
        throw new RangeError(`unknown operation ${type}`); // clientFrameProblem refuses it first
    }
  }

  /** Deliveries this process holds and has not settled. */
  get outstanding(): number {
    let n = 0;
    for (const c of this.consumers.values()) n += c.out.size;
    return n;
  }

  /**
   * The owner is closing: nothing more goes out, and the process is told (Op.closing), so that it
   * gives back what its handlers have not started and acknowledges what they finish meanwhile.
   */
  drain(): void {
    if (this.draining || this.#closed) return;
    this.draining = true;
    for (const c of this.consumers.values()) c.paused = true;
    this.writer.send(new FrameBuilder(Op.closing).done());
  }

  get closed(): boolean {
    return this.#closed;
  }

  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.consumers.values()) {
      this.broker.detach(c);
      c.giveBackAll(this.broker);
    }
    this.consumers.clear();
    this.socket.destroy();
  }
}

/** The record in the log's own framing (offset kept, no CRC: the socket does not corrupt). */
function recordFrame(r: Delivery['record']): Buffer {
  return encodeRecords([{ id: r.id, key: r.key, headers: r.headers, payload: r.payload, timestamp: r.timestamp }], r.offset, false);
}

/**
 * The owner's Unix socket server: lets other processes on this machine publish, subscribe with
 * groups and acknowledge through this process's broker. The socket is created with mode 0600
 * inside the 0700 data directory: only the user can connect.
 */
export class SocketServer {
  readonly path: string;
  readonly broker: Broker;
  /** How long `close()` waits for connected processes to settle what they hold. */
  readonly drainTimeoutMs: number;
  readonly #connections = new Set<Connection>();
  #server: Server | undefined;

  constructor(broker: Broker, path: string, drainTimeoutMs = broker.options.drainTimeoutMs) {
    this.broker = broker;
    this.path = path;
    this.drainTimeoutMs = drainTimeoutMs;
  }

  async listen(): Promise<void> {
    try {
      unlinkSync(this.path); // left by an owner that died: we hold the lock now
    } catch {
      // not there
    }
    const server = createServer((socket) => {
      const conn = new Connection(socket, this.broker);
      this.#connections.add(conn);
      socket.on('close', () => this.#connections.delete(conn));
    });
    this.#server = server;
    // The directory is 0700, so nobody else can reach the socket even before the chmod.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.path, 0o600);
  }

  /**
   * Stops listening, lets connected processes finish the handlers they run (up to
   * `drainTimeoutMs`), then closes their connections. Without the wait, the acknowledgements of
   * handlers finishing after the owner let go were lost, and the successor delivered those
   * messages again — to the same process, while their first handlers still ran.
   */
  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await this.#drain();
    for (const c of this.#connections) c.dispose();
    await closed;
  }

  /** Resolves once no connected process holds a delivery, or after `drainTimeoutMs`. */
  async #drain(): Promise<void> {
    const connections = [...this.#connections];
    const settled = (): boolean => connections.every((c) => c.closed || c.outstanding === 0);
    for (const c of connections) c.drain();
    if (settled()) return;
    const done = Promise.withResolvers<void>();
    const check = (): void => {
      if (settled()) done.resolve();
    };
    for (const c of connections) {
      c.onSettled = check;
      c.socket.once('close', check);
    }
    const timer = setTimeout(() => done.resolve(), this.drainTimeoutMs);
    try {
      await done.promise;
    } finally {
      clearTimeout(timer);
      for (const c of connections) {
        c.onSettled = undefined;
        c.socket.off('close', check);
      }
    }
  }
}
