import type { NormalizedMessage } from '../../core/message.ts';
import { decodeRecord, encodeRecords, FRAME_HEADER, type StoredRecord } from './record.ts';

/**
 * The binary protocol between the owner of a data directory and the other processes using it,
 * over `<dir>/broker.sock`. Every frame: `length:u32 type:u8 body` (length counts type + body).
 * Records travel in the log's own framing (without CRC), many per frame; acknowledgements are
 * batched per turn of the event loop.
 */
export const Op = {
  publish: 1, // req:u32 topic:str16 count:u32 records
  // req:u32 sub:u32 pattern:str16 group:str16 from:u8 window:u32 (concurrency + prefetch), then
  // concurrency:u32 prefetchBytes:u32 — trailing fields, absent from earlier clients' frames (see
  // SubscribeBudget); an earlier owner stops reading after `window` and ignores them.
  subscribe: 2,
  acks: 3, // count:u32 { sub:u32 delivery:u32 outcome:u8 }*
  leave: 4, // req:u32 sub:u32
  pause: 5, // sub:u32 paused:u8
  admin: 6, // req:u32 op:str16
  result: 10, // req:u32 ok:u8 json:str32
  deliver: 11, // sub:u32 delivery:u32 topic:str16 partition:u32 attempt:u32 record
  failed: 12, // sub:u32 error:str32 (a WireError as JSON): the owner ended the subscription
  // (no body) The owner is closing: it sends nothing more; the client gives back the deliveries
  // its handlers have not started and acknowledges those running, before the owner lets go.
  // An earlier client ignores it, and the owner waits for its acknowledgements all the same.
  closing: 13,
} as const;

/**
 * The prefetch of the clients that sent no `concurrency` and `prefetchBytes` with their subscribe
 * frame: they asked for `concurrency + EARLIER_PREFETCH` deliveries.
 */
export const EARLIER_PREFETCH = 256;

/**
 * Payload bytes a client takes beyond its `concurrency` deliveries, unless it says otherwise in
 * its subscribe frame (as in-process read-ahead, LOOKAHEAD_BYTES in broker.ts).
 */
export const DEFAULT_PREFETCH_BYTES = 16 * 1024 * 1024;

/** How much the owner may send a subscription ahead of its acknowledgements. */
export interface SubscribeBudget {
  /** Most deliveries out at once: `concurrency` plus the client's prefetch. */
  window: number;
  /** Deliveries always allowed out, whatever their size: the handlers the subscription runs at once. */
  concurrency: number;
  /** Beyond `concurrency` deliveries, no more are sent once those out hold this many payload bytes. */
  prefetchBytes: number;
}

/**
 * The budget of a subscribe frame, read after its `window`: the trailing fields when the client
 * sent them, else what an earlier client meant (`window` = concurrency + EARLIER_PREFETCH) with
 * the default byte limit, so earlier clients are bounded by bytes too.
 */
export function readSubscribeBudget(r: FrameReader, window: number): SubscribeBudget {
  if (r.end - r.pos >= 8) return { window, concurrency: r.u32(), prefetchBytes: r.u32() };
  return { window, concurrency: Math.max(1, window - EARLIER_PREFETCH), prefetchBytes: DEFAULT_PREFETCH_BYTES };
}

/** What a consumer reports about a delivered message. */
export const Outcome = { failed: 0, ok: 1, givenBack: 2 } as const;

/** Builds frames field by field. */
export class FrameBuilder {
  #buf: Buffer;
  #pos = 5;

  constructor(type: number, size = 64) {
    this.#buf = Buffer.allocUnsafe(Math.max(size, 16));
    this.#buf[4] = type;
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  u8(v: number): this {
    this.#room(1);
    this.#buf[this.#pos++] = v;
    return this;
  }

  u32(v: number): this {
    this.#room(4);
    this.#buf.writeUInt32LE(v, this.#pos);
    this.#pos += 4;
    return this;
  }

  str16(s: string): this {
    const len = Buffer.byteLength(s);
    this.#room(2 + len);
    this.#buf.writeUInt16LE(len, this.#pos);
    this.#buf.write(s, this.#pos + 2, 'utf8');
    this.#pos += 2 + len;
    return this;
  }

  str32(s: string): this {
    const len = Buffer.byteLength(s);
    this.#room(4 + len);
    this.#buf.writeUInt32LE(len, this.#pos);
    this.#buf.write(s, this.#pos + 4, 'utf8');
    this.#pos += 4 + len;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }

  /** The finished frame. */
  done(): Buffer {
    this.#buf.writeUInt32LE(this.#pos - 4, 0);
    return this.#buf.subarray(0, this.#pos);
  }
}

/** Reads a frame's fields in order. */
export class FrameReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  u8(): number {
    return this.buf[this.pos++]!;
  }

  u32(): number {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  str16(): string {
    const len = this.buf.readUInt16LE(this.pos);
    const s = this.buf.toString('utf8', this.pos + 2, this.pos + 2 + len);
    this.pos += 2 + len;
    return s;
  }

  str32(): string {
    const len = this.buf.readUInt32LE(this.pos);
    const s = this.buf.toString('utf8', this.pos + 4, this.pos + 4 + len);
    this.pos += 4 + len;
    return s;
  }

  /** Records until the end of the frame. */
  records(): StoredRecord[] {
    const out: StoredRecord[] = [];
    while (this.pos < this.end) {
      out.push(decodeRecord(this.buf, this.pos));
      this.pos += FRAME_HEADER + this.buf.readUInt32LE(this.pos);
    }
    return out;
  }
}

/** The publish frame for `messages`. */
export function publishFrame(req: number, topic: string, messages: readonly NormalizedMessage[]): Buffer {
  const records = encodeRecords(messages, 0, false);
  return new FrameBuilder(Op.publish, 16 + topic.length * 3 + records.length).u32(req).str16(topic).u32(messages.length).bytes(records).done();
}

/**
 * Splits a byte stream into frames: feed it chunks, it calls `onFrame(type, reader)` per
 * complete frame (the reader's buffer is not reused, so views into it stay valid).
 */
export class FrameSplitter {
  /** Received bytes not yet consumed: chunks are only joined once a whole frame is there. */
  #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #onFrame: (type: number, reader: FrameReader) => void;

  constructor(onFrame: (type: number, reader: FrameReader) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered < 4) return;
    let head = this.#chunks[0]!;
    if (head.length < 4) head = this.#join();
    const need = 4 + head.readUInt32LE(0);
    if (this.#buffered < need) return; // wait for the rest of a large frame without copying
    const buf = this.#chunks.length === 1 ? head : this.#join();
    this.#chunks = [];
    this.#buffered = 0;
    let pos = 0;
    while (buf.length - pos >= 4) {
      const len = buf.readUInt32LE(pos);
      if (buf.length - pos - 4 < len) break;
      this.#onFrame(buf[pos + 4]!, new FrameReader(buf, pos + 5, pos + 4 + len));
      pos += 4 + len;
    }
    if (pos < buf.length) {
      this.#chunks.push(buf.subarray(pos));
      this.#buffered = buf.length - pos;
    }
  }

  #join(): Buffer {
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined;
  }
}

/** Buffers outgoing frames and writes them in one call per turn of the event loop. */
export class FrameWriter {
  readonly #write: (data: Buffer) => void;
  #queue: Buffer[] = [];
  #scheduled = false;

  constructor(write: (data: Buffer) => void) {
    this.#write = write;
  }

  send(frame: Buffer): void {
    this.#queue.push(frame);
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(() => this.flush());
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#queue.length === 0) return;
    const frames = this.#queue;
    this.#queue = [];
    this.#write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }
}

/** An error as it crosses the socket. */
export interface WireError {
  message: string;
  code?: string;
  retryable?: boolean;
  problems?: string[];
}

/** `error` as it crosses the socket. */
export function toWire(error: unknown): WireError {
  const e = error as Error & { code?: string; retryable?: boolean; problems?: string[] };
  return { message: e?.message ?? String(error), code: e?.code, retryable: e?.retryable, problems: e?.problems ? [...e.problems] : undefined };
}
