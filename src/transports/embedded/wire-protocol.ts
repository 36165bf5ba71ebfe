import type { NormalizedMessage } from '../../core/message.ts';
import { decodeRecord, encodeRecords, FRAME_HEADER, MAX_BODY, MIN_BODY, type StoredRecord } from './record.ts';

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

/**
 * Most handlers one subscription of the embedded broker runs at once. Its `concurrency`
 * deliveries go out whatever their size, so without a ceiling a subscribe frame asking for
 * 2^32 − 1 let one process make the owner hold a whole topic in memory.
 */
export const MAX_CONCURRENCY = 65_535;

/** Most deliveries a subscribe frame may ask for beyond its `concurrency` (clients ask for 256). */
export const MAX_PREFETCH = 65_536;

/** Most payload bytes a subscribe frame may ask to have prefetched (clients ask for 16 MiB). */
export const MAX_PREFETCH_BYTES = 1024 * 1024 * 1024;

/** Why the owner refuses a subscribe frame's budget (none when it is sane). */
export function budgetProblems(b: SubscribeBudget): string[] {
  const problems: string[] = [];
  if (b.concurrency < 1 || b.concurrency > MAX_CONCURRENCY) {
    problems.push(`concurrency ${b.concurrency} is out of range: a subscription of the embedded broker runs 1 to ${MAX_CONCURRENCY} handlers at once`);
  }
  if (b.window < b.concurrency || b.window - b.concurrency > MAX_PREFETCH) {
    problems.push(`a window of ${b.window} deliveries is out of range for concurrency ${b.concurrency}: it must be the concurrency plus at most ${MAX_PREFETCH}`);
  }
  if (b.prefetchBytes > MAX_PREFETCH_BYTES) problems.push(`a prefetch of ${b.prefetchBytes} bytes is more than the ${MAX_PREFETCH_BYTES} the owner allows`);
  return problems;
}

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

  /**
   * Throws unless `n` more bytes are within the frame. Without it, a field that runs past the end
   * of a malformed frame was silently read from the next frame's bytes.
   */
  #need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new RangeError(`malformed frame: ${what} of ${n} bytes runs past the end of the frame (${this.end - this.pos} bytes left)`);
  }

  u8(): number {
    this.#need(1, 'a u8 field');
    return this.buf[this.pos++]!;
  }

  u32(): number {
    this.#need(4, 'a u32 field');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  str16(): string {
    this.#need(2, 'a string length');
    const len = this.buf.readUInt16LE(this.pos);
    this.#need(2 + len, 'a string');
    const s = this.buf.toString('utf8', this.pos + 2, this.pos + 2 + len);
    this.pos += 2 + len;
    return s;
  }

  str32(): string {
    this.#need(4, 'a string length');
    const len = this.buf.readUInt32LE(this.pos);
    this.#need(4 + len, 'a string');
    const s = this.buf.toString('utf8', this.pos + 4, this.pos + 4 + len);
    this.pos += 4 + len;
    return s;
  }

  /** Records until the end of the frame. */
  records(): StoredRecord[] {
    const out: StoredRecord[] = [];
    while (this.pos < this.end) {
      this.#need(FRAME_HEADER, 'a record header');
      const size = FRAME_HEADER + this.buf.readUInt32LE(this.pos);
      if (size < FRAME_HEADER + MIN_BODY) throw new RangeError(`malformed frame: a record of ${size - FRAME_HEADER} bytes, shorter than any record`);
      this.#need(size, 'a record');
      out.push(decodeRecord(this.buf, this.pos)); // it checks the record's own lengths add up
      this.pos += size;
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
 * Largest frame (type and body) of each operation a connected process sends the owner. A publish
 * carries any number of records, so only the 32-bit length and its own count bound it (see
 * `publishProblem`); the others are small, and a length beyond theirs is not a frame of ours at
 * all (an HTTP request read as one announced half a gigabyte, which the owner then waited for).
 */
const MAX_CLIENT_FRAME: Record<number, number> = {
  [Op.publish]: 0xffff_ffff,
  // req, sub, two str16 names, from, window, concurrency, prefetchBytes: 131,096 bytes at most;
  // the rest is room for trailing fields of later versions.
  [Op.subscribe]: 1024 * 1024,
  // 9 bytes per acknowledgement; clients send at most MAX_ACKS_PER_FRAME per frame.
  [Op.acks]: 16 * 1024 * 1024,
  [Op.leave]: 1024,
  [Op.pause]: 1024,
  [Op.admin]: 1024 * 1024, // req and an str16 operation
};

/** Most acknowledgements a client puts in one frame (9 MB), well within MAX_CLIENT_FRAME. */
export const MAX_ACKS_PER_FRAME = 1_000_000;

const EMPTY_FRAME = 'an empty frame (length 0: it has no operation)';

/** The start of a frame's body `FrameSplitter` hands its check: a publish's req, topic and count. */
const VETTED_PREFIX = 4 + 2 + 0xffff + 4;

/**
 * Why the start of a publish frame cannot be one (none when it can, or while too little of it is
 * here to tell): each of its `count` records takes FRAME_HEADER + MIN_BODY to FRAME_HEADER +
 * MAX_BODY bytes, so its count bounds its length long before the records arrive.
 */
function publishProblem(length: number, prefix: Buffer): string | undefined {
  if (prefix.length < 6) return undefined;
  const topicBytes = prefix.readUInt16LE(4);
  if (prefix.length < 10 + topicBytes) return undefined;
  const count = prefix.readUInt32LE(6 + topicBytes);
  const records = length - 1 - 10 - topicBytes;
  const least = count * (FRAME_HEADER + MIN_BODY);
  const most = count * (FRAME_HEADER + MAX_BODY);
  if (records < least || records > most) return `a publish of ${count} messages announced ${records} bytes of records, where ${count} records take ${least} to ${most}`;
  return undefined;
}

/**
 * Why a frame a process sent the owner cannot be one of ours (none when it can): checked as soon
 * as its header and the start of its body (`prefix`, perhaps not all of it yet) arrive, before
 * the rest is waited for.
 */
export function clientFrameProblem(type: number, length: number, prefix: Buffer): string | undefined {
  const max = MAX_CLIENT_FRAME[type];
  if (max === undefined) return `unknown operation ${type} (is something other than a Switchyard process, such as an HTTP client, connected to it?)`;
  if (length > max) return `a frame of operation ${type} announced ${length} bytes, more than the ${max} such a frame can have`;
  return type === Op.publish ? publishProblem(length, prefix) : undefined;
}

/**
 * Splits a byte stream into frames: feed it chunks, it calls `onFrame(type, reader)` per
 * complete frame (the reader's buffer is not reused, so views into it stay valid). `check`, if
 * given, vets each frame by its type, length and first body bytes as soon as they arrive; `push`
 * throws (a RangeError) on a frame it refuses or that is empty, and the stream is then unusable:
 * close the connection.
 */
export class FrameSplitter {
  /** Received bytes not yet consumed: chunks are only joined once a whole frame is there. */
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** The first frame in `#chunks` was checked with all of its prefix. */
  #headVetted = false;
  readonly #onFrame: (type: number, reader: FrameReader) => void;
  readonly #check: ((type: number, length: number, prefix: Buffer) => string | undefined) | undefined;

  constructor(onFrame: (type: number, reader: FrameReader) => void, check?: (type: number, length: number, prefix: Buffer) => string | undefined) {
    this.#onFrame = onFrame;
    this.#check = check;
  }

  /** Checks the frame at `pos` with what of it is in `buf` so far; true once all of its prefix was. */
  #vet(buf: Buffer, pos: number): boolean {
    const length = buf.readUInt32LE(pos);
    // Length 0 has no type byte: the old splitter took the next frame's first byte for it.
    if (length === 0) throw new RangeError(EMPTY_FRAME);
    const prefixEnd = pos + 4 + Math.min(length, 1 + VETTED_PREFIX);
    const problem = this.#check?.(buf[pos + 4]!, length, buf.subarray(pos + 5, Math.min(buf.length, prefixEnd)));
    if (problem !== undefined) throw new RangeError(problem);
    return buf.length >= prefixEnd;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered < 4) return;
    let head = this.#chunks[0]!;
    if (head.length < Math.min(5, this.#buffered)) head = this.#join();
    const len = head.readUInt32LE(0);
    if (len === 0) throw new RangeError(EMPTY_FRAME); // refused at once: no type byte is coming
    if (this.#buffered < 5) return; // length and type: a frame is never shorter
    if (!this.#headVetted) {
      // Joined only while its prefix is coming in (64 KiB at most), not for the whole frame.
      if (head.length < 4 + Math.min(len, 1 + VETTED_PREFIX) && this.#chunks.length > 1) head = this.#join();
      this.#headVetted = this.#vet(head, 0);
    }
    if (this.#buffered < 4 + len) return; // wait for the rest of a large frame without copying
    const buf = this.#chunks.length === 1 ? head : this.#join();
    this.#chunks = [];
    this.#buffered = 0;
    let pos = 0;
    let vetted = true;
    while (buf.length - pos >= 5) {
      const len = buf.readUInt32LE(pos);
      if (pos > 0) vetted = this.#vet(buf, pos);
      if (buf.length - pos - 4 < len) break;
      this.#onFrame(buf[pos + 4]!, new FrameReader(buf, pos + 5, pos + 4 + len));
      pos += 4 + len;
    }
    this.#headVetted = buf.length - pos >= 5 && vetted;
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
