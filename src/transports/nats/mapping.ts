import { headers as natsHeaders, type Match, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import { newMessageId } from '../../core/id.ts';
import { isValidTimestamp, type Message, type NormalizedMessage } from '../../core/message.ts';
import { REPUBLISHED_AT_HEADER } from '../../core/replay.ts';

/**
 * How a Switchyard message rides on NATS. The payload is the NATS payload, untouched. Headers:
 *
 * - `Nats-Msg-Id: <topic>:<id>` — JetStream drops a re-publish of the same value within the stream's
 *   duplicate window. It is scoped by topic because one stream holds many topics (see streams.ts):
 *   a message forwarded with its id to another topic (dead letters, the bridge) must not be dropped.
 *   A message deliberately published again under its id (header `x-republished-at`: a replayed or
 *   moved dead letter) is scoped by that time too — `<topic>:<id>:republished-at:<time>` — and its
 *   id travels in `Sy-Id`.
 * - `Sy-Key: <key>` when the key is not empty; `Sy-Time: <ms since epoch>`.
 * - A key or id a header value cannot carry exactly (CR/LF, leading or trailing whitespace, which
 *   the client rejects or trims) rides JSON-encoded in those same places: `Sy-Key: " k "`,
 *   `Nats-Msg-Id: <topic>:"a\r\nb"`. So does one starting with `"`, so that reading back is never
 *   ambiguous and two ids never share a `Nats-Msg-Id`.
 * - Application headers as NATS headers, names and values exactly as given. The few a NATS header
 *   cannot carry exactly (names outside printable ASCII or with ":", values with CR/LF or
 *   surrounding spaces, names starting with `Nats-` or `Sy-`) travel JSON-encoded in `Sy-Headers`.
 *
 * On the way in every `Nats-*` and `Sy-*` header is removed from `Message.headers`. A message from a
 * plain NATS publisher gets its id from `Nats-Msg-Id` (or, lacking that, `<stream>:<sequence>` in
 * JetStream and a fresh id in core mode), an empty key and the stream's timestamp (or the arrival time).
 */
export const WIRE = Object.freeze({
  id: 'Nats-Msg-Id',
  ownId: 'Sy-Id',
  key: 'Sy-Key',
  time: 'Sy-Time',
  extra: 'Sy-Headers',
  error: 'Sy-Error',
});

const WIRE_LOWER = Object.freeze({
  id: WIRE.id.toLowerCase(),
  ownId: WIRE.ownId.toLowerCase(),
  key: WIRE.key.toLowerCase(),
  time: WIRE.time.toLowerCase(),
  extra: WIRE.extra.toLowerCase(),
});

const SAFE_NAME = /^[!-9;-~]+$/; // printable ASCII except ":"
const RESERVED = /^(nats-|sy-)/i;

const CR_OR_LF = /[\r\n]/;
const QUOTE = 34; // '"'

/** Whether an application header can ride as a plain NATS header and come back identical. */
export function isPlainHeader(name: string, value: string): boolean {
  return SAFE_NAME.test(name) && !RESERVED.test(name) && !CR_OR_LF.test(value) && value.trim() === value;
}

/**
 * A key or id as it goes into a header value: as is when a header carries it exactly, else as a
 * JSON string. One starting with `"` is encoded too, so that `fromWireValue` can tell the two
 * apart and no two values encode alike (the id is JetStream's de-duplication key).
 */
export function toWireValue(value: string): string {
  return value.charCodeAt(0) === QUOTE || CR_OR_LF.test(value) || value.trim() !== value ? JSON.stringify(value) : value;
}

/** The key or id `toWireValue` encoded. */
export function fromWireValue(value: string): string {
  if (value.charCodeAt(0) !== QUOTE) return value;
  try {
    const parsed = JSON.parse(value) as unknown;
    return typeof parsed === 'string' ? parsed : value;
  } catch {
    return value; // not ours (a foreign publisher's value that starts with a quote): as it came
  }
}

/**
 * Sets a header on a plain object. Plain assignment would call the `__proto__` setter instead
 * (dropping the header, or worse); every other name, `constructor` and `toString` included,
 * becomes an own property by assignment, which keeps the common case fast.
 */
function setHeader(headers: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(headers, name, { value, writable: true, enumerable: true, configurable: true });
  else headers[name] = value;
}

/** The header lines (name, value) for a message: internal headers first, then the application's. */
export function toWireHeaders(topic: string, m: Pick<NormalizedMessage, 'id' | 'key' | 'headers' | 'timestamp'>): Array<[string, string]> {
  const republishedAt = m.headers[REPUBLISHED_AT_HEADER];
  const id = toWireValue(m.id);
  const out: Array<[string, string]> =
    republishedAt === undefined
      ? [[WIRE.id, `${topic}:${id}`]]
      : [[WIRE.id, `${topic}:${id}:republished-at:${toWireValue(republishedAt)}`], [WIRE.ownId, id]];
  if (m.key !== '') out.push([WIRE.key, toWireValue(m.key)]);
  out.push([WIRE.time, String(m.timestamp)]);
  let extra: Record<string, string> | undefined;
  for (const [name, value] of Object.entries(m.headers)) {
    if (isPlainHeader(name, value)) out.push([name, value]);
    else setHeader((extra ??= {}), name, value);
  }
  if (extra) out.push([WIRE.extra, JSON.stringify(extra)]);
  return out;
}

/** What the wire headers say about a message; `undefined` fields were absent. */
export interface WireFields {
  id?: string;
  key?: string;
  timestamp?: number;
  headers: Record<string, string>;
}

/**
 * The time a `Sy-Time` value gives, as `publish` would accept it again; undefined for one that is no
 * time (empty, zero, negative, beyond a `Date`), so the message gets the stream's or the arrival
 * time instead. Another producer's fraction of a millisecond is cut off: the rest is its time.
 * So every received timestamp can be published again as it is (a dead letter, a bridge route).
 */
function timestampOf(value: string): number | undefined {
  const ms = Math.floor(Number(value));
  return isValidTimestamp(ms) ? ms : undefined;
}

/** Reads the header lines of a received message on `subject` back into its fields. */
export function fromWireHeaders(subject: string, lines: Iterable<readonly [string, string]>): WireFields {
  const fields: WireFields = { headers: {} };
  let extra: string | undefined;
  for (const [name, value] of lines) {
    // Our own names as we write them first (the common case), then any spelling of a reserved one.
    let lower = name === WIRE.id ? WIRE_LOWER.id : name === WIRE.time ? WIRE_LOWER.time : name === WIRE.key ? WIRE_LOWER.key : undefined;
    if (lower === undefined) {
      if (!RESERVED.test(name)) {
        setHeader(fields.headers, name, Object.hasOwn(fields.headers, name) ? `${fields.headers[name]},${value}` : value);
        continue;
      }
      lower = name.toLowerCase();
    }
    if (lower === WIRE_LOWER.id) {
      const scoped = value.length > subject.length && value.charCodeAt(subject.length) === 58 /* ":" */ && value.startsWith(subject);
      // A foreign publisher's Nats-Msg-Id (not scoped by the subject) is the id as it is.
      fields.id ??= scoped ? fromWireValue(value.slice(subject.length + 1)) : value;
    } else if (lower === WIRE_LOWER.ownId) fields.id = fromWireValue(value);
    else if (lower === WIRE_LOWER.key) fields.key = fromWireValue(value);
    else if (lower === WIRE_LOWER.time) fields.timestamp = timestampOf(value) ?? fields.timestamp; else if (lower === WIRE_LOWER.extra) extra = value;
  }
  if (extra !== undefined) {
    try {
      const parsed = JSON.parse(extra) as unknown;
      if (typeof parsed === 'object' && parsed !== null) {
        for (const [name, value] of Object.entries(parsed)) if (typeof value === 'string') setHeader(fields.headers, name, value);
      }
    } catch {
      fields.headers[WIRE.extra] = extra; // not ours: keep it visible rather than lose it
    }
  }
  return fields;
}

/** Header lines as NATS client headers. */
export function natsHeadersOf(lines: ReadonlyArray<readonly [string, string]>): MsgHdrs {
  const h = natsHeaders();
  for (const [name, value] of lines) h.append(name, value);
  return h;
}

/**
 * Header lines as NATS headers whose wire bytes are built in one go; the client's header map is
 * only built if something reads the headers (the client's publish only asks for `encode()`).
 * `encode()` returns exactly what `natsHeadersOf(lines).encode()` would.
 */
class EncodedHeaders implements MsgHdrs {
  readonly #lines: ReadonlyArray<readonly [string, string]>;
  readonly #bytes: Uint8Array;
  #map: MsgHdrs | undefined;

  constructor(lines: ReadonlyArray<readonly [string, string]>, bytes: Uint8Array) {
    this.#lines = lines;
    this.#bytes = bytes;
  }

  get #h(): MsgHdrs {
    return (this.#map ??= natsHeadersOf(this.#lines));
  }

  /** The header block as sent. */
  encode(): Uint8Array {
    return this.#map ? (this.#map as MsgHdrs & { encode(): Uint8Array }).encode() : this.#bytes;
  }

  toString(): string {
    return this.#h.toString();
  }

  get hasError(): boolean {
    return this.#h.hasError;
  }

  get status(): string {
    return this.#h.status;
  }

  get code(): number {
    return this.#h.code;
  }

  get description(): string {
    return this.#h.description;
  }

  get(k: string, match?: Match): string {
    return this.#h.get(k, match);
  }

  set(k: string, v: string, match?: Match): void {
    this.#h.set(k, v, match);
  }

  append(k: string, v: string, match?: Match): void {
    this.#h.append(k, v, match);
  }

  has(k: string, match?: Match): boolean {
    return this.#h.has(k, match);
  }

  keys(): string[] {
    return this.#h.keys();
  }

  values(k: string, match?: Match): string[] {
    return this.#h.values(k, match);
  }

  delete(k: string, match?: Match): void {
    this.#h.delete(k, match);
  }

  last(k: string, match?: Match): string {
    return this.#h.last(k, match);
  }

  [Symbol.iterator](): Iterator<[string, string[]]> {
    return this.#h[Symbol.iterator]();
  }
}

/**
 * NATS headers for header lines plus their wire size, built without the client's per-line header
 * map. The size is `headerBytes(lines)`. Lines the client would reject or alter (a value with CR/LF
 * or surrounding whitespace, an invalid or repeated name) go through `natsHeadersOf`, which
 * rejects or normalizes them exactly as before.
 */
export function encodeHeaders(lines: ReadonlyArray<readonly [string, string]>): { headers: MsgHdrs; size: number } {
  if (lines.length === 0) return { headers: natsHeadersOf(lines), size: headerBytes(lines) };
  let text = 'NATS/1.0';
  for (let i = 0; i < lines.length; i++) {
    const [name, value] = lines[i]!;
    if (!SAFE_NAME.test(name) || CR_OR_LF.test(value) || value.trim() !== value || repeated(lines, i)) {
      return { headers: natsHeadersOf(lines), size: headerBytes(lines) };
    }
    text += `\r\n${name}: ${value}`;
  }
  const bytes = Buffer.from(`${text}\r\n\r\n`, 'utf8');
  return { headers: new EncodedHeaders(lines, bytes), size: bytes.length };
}

function repeated(lines: ReadonlyArray<readonly [string, string]>, i: number): boolean {
  const name = lines[i]![0];
  for (let j = 0; j < i; j++) if (lines[j]![0] === name) return true;
  return false;
}

function linesOf(h: MsgHdrs | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!h) return out;
  for (const name of h.keys()) for (const value of h.values(name)) out.push([name, value]);
  return out;
}

const textDecoder = new TextDecoder();

/**
 * The header lines of a header block (`NATS/1.0…\r\n\r\n`) exactly as reading the client's
 * `msg.headers` and listing names and their values gives them: names as sent, values trimmed,
 * repeated names grouped in first-seen order. Undefined when the client would reject the block
 * (it then throws the same error as before when the caller falls back to `msg.headers`).
 */
export function parseHeaderBlock(block: Uint8Array): Array<[string, string]> | undefined {
  const text = textDecoder.decode(block);
  const out: Array<[string, string]> = [];
  let grouped = false;
  let start = text.indexOf('\r\n');
  if (start < 0) return out;
  for (start += 2; start < text.length; ) {
    let end = text.indexOf('\r\n', start);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':', start);
    if (colon > -1 && colon < end) {
      const name = text.slice(start, colon);
      const value = text.slice(colon + 1, end).trim();
      if ((name !== '' && !SAFE_NAME.test(name)) || CR_OR_LF.test(value)) return undefined;
      if (!grouped) for (const [n] of out) if (n === name) grouped = true;
      out.push([name, value]);
    }
    start = end + 2;
  }
  if (!grouped) return out;
  // Group repeated names where their first occurrence is, keeping each name's values in order.
  const names: string[] = [];
  const values = new Map<string, string[]>();
  for (const [name, value] of out) {
    const list = values.get(name);
    if (list) list.push(value);
    else {
      names.push(name);
      values.set(name, [value]);
    }
  }
  return names.flatMap((name) => values.get(name)!.map((value): [string, string] => [name, value]));
}

/** The header lines of a received message; reads its raw header bytes when the client keeps them. */
function wireLinesOf(m: Msg): Array<[string, string]> {
  // The client's Msg keeps the header length (`_msg.hdr`, -1 without headers) and the raw bytes
  // (`_rdata`); parsing those directly skips building its header map. Anything unexpected: the
  // public `headers` getter.
  const raw = m as unknown as { _headers?: unknown; _msg?: { hdr?: unknown }; _rdata?: unknown };
  const hdr = raw._msg?.hdr;
  if (raw._headers === undefined && typeof hdr === 'number' && raw._rdata instanceof Uint8Array) {
    if (hdr < 0) return [];
    const lines = parseHeaderBlock(raw._rdata.subarray(0, hdr));
    if (lines) return lines;
  }
  return linesOf(m.headers);
}

/** Approximate bytes the header block takes on the wire (for the max_payload check). */
export function headerBytes(lines: ReadonlyArray<readonly [string, string]>): number {
  let n = 12; // "NATS/1.0\r\n" + final "\r\n"
  for (const [name, value] of lines) n += Buffer.byteLength(name) + Buffer.byteLength(value) + 4;
  return n;
}

/** What the ack subject (`$JS.ACK.…`) of a JetStream delivery says about it. */
export interface DeliveryInfo {
  stream: string;
  consumer: string;
  /** 1 on first delivery. */
  deliveryCount: number;
  streamSequence: number;
  deliverySequence: number;
  /** When the message was stored, in ns since epoch. */
  timestampNanos: bigint;
  /** Messages left for the consumer after this one. */
  pending: number;
}

/**
 * Parses a JetStream ack subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`
 * (servers before 2.10) or the longer form with domain and account hash first. Undefined when `reply`
 * is not one (then the message is a status, not a delivery).
 */
export function parseAckSubject(reply: string | undefined): DeliveryInfo | undefined {
  if (!reply || !reply.startsWith('$JS.ACK.')) return undefined;
  const t = reply.split('.');
  if (t.length === 9) t.splice(2, 0, '_', '');
  if (t.length < 11) return undefined;
  const n = (i: number): number => Number.parseInt(t[i]!, 10);
  let ts: bigint;
  try {
    ts = BigInt(t[9]!);
  } catch {
    return undefined;
  }
  return {
    stream: t[4]!,
    consumer: t[5]!,
    deliveryCount: n(6),
    streamSequence: n(7),
    deliverySequence: n(8),
    timestampNanos: ts,
    pending: n(10),
  };
}

/** A JetStream delivery → the Message a handler sees. */
export function fromJetStream(m: Msg, info: DeliveryInfo): Message {
  const f = fromWireHeaders(m.subject, wireLinesOf(m));
  return {
    topic: m.subject,
    id: f.id ?? `${info.stream}:${info.streamSequence}`,
    key: f.key ?? '',
    payload: m.data,
    headers: f.headers,
    timestamp: f.timestamp ?? Number(info.timestampNanos / 1_000_000n),
    attempt: info.deliveryCount,
    offset: String(info.streamSequence),
  };
}

/** A message read from a stream by sequence (the stream's get-message API) → the Message its handler saw, delivery count aside. */
export function fromStored(m: { subject: string; seq: number; header: MsgHdrs; data: Uint8Array; time: Date }, stream: string, attempt: number): Message {
  const f = fromWireHeaders(m.subject, linesOf(m.header));
  return {
    topic: m.subject,
    id: f.id ?? `${stream}:${m.seq}`,
    key: f.key ?? '',
    payload: m.data,
    headers: f.headers,
    timestamp: f.timestamp ?? m.time.getTime(),
    attempt,
    offset: String(m.seq),
  };
}

/** A core NATS message → the Message a handler sees (always attempt 1: core mode never redelivers). */
export function fromCoreMsg(m: Msg, receivedAt?: number): Message {
  const f = fromWireHeaders(m.subject, wireLinesOf(m));
  // The arrival time only when the headers lack the id or the time (a plain NATS publisher).
  if ((f.id === undefined || f.timestamp === undefined) && receivedAt === undefined) receivedAt = Date.now();
  return {
    topic: m.subject,
    id: f.id ?? newMessageId(receivedAt!),
    key: f.key ?? '',
    payload: m.data,
    headers: f.headers,
    timestamp: f.timestamp ?? receivedAt!,
    attempt: 1,
  };
}
