import { headers as natsHeaders, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import { newMessageId } from '../../core/id.ts';
import type { Message, NormalizedMessage } from '../../core/message.ts';

/**
 * How a Switchyard message rides on NATS. The payload is the NATS payload, untouched. Headers:
 *
 * - `Nats-Msg-Id: <topic>:<id>` — JetStream drops a re-publish of the same value within the stream's
 *   duplicate window. It is scoped by topic because one stream holds many topics (see streams.ts):
 *   a message forwarded with its id to another topic (dead letters, the bridge) must not be dropped.
 * - `Sy-Key: <key>` when the key is not empty; `Sy-Time: <ms since epoch>`.
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
  key: 'Sy-Key',
  time: 'Sy-Time',
  extra: 'Sy-Headers',
  error: 'Sy-Error',
});

const SAFE_NAME = /^[!-9;-~]+$/; // printable ASCII except ":"
const RESERVED = /^(nats-|sy-)/i;

/** Whether an application header can ride as a plain NATS header and come back identical. */
export function isPlainHeader(name: string, value: string): boolean {
  return SAFE_NAME.test(name) && !RESERVED.test(name) && !/[\r\n]/.test(value) && value.trim() === value;
}

/** The header lines (name, value) for a message: internal headers first, then the application's. */
export function toWireHeaders(topic: string, m: Pick<NormalizedMessage, 'id' | 'key' | 'headers' | 'timestamp'>): Array<[string, string]> {
  const out: Array<[string, string]> = [[WIRE.id, `${topic}:${m.id}`]];
  if (m.key !== '') out.push([WIRE.key, m.key]);
  out.push([WIRE.time, String(m.timestamp)]);
  let extra: Record<string, string> | undefined;
  for (const [name, value] of Object.entries(m.headers)) {
    if (isPlainHeader(name, value)) out.push([name, value]);
    else (extra ??= {})[name] = value;
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

/** Reads the header lines of a received message on `subject` back into its fields. */
export function fromWireHeaders(subject: string, lines: Iterable<readonly [string, string]>): WireFields {
  const fields: WireFields = { headers: {} };
  let extra: string | undefined;
  for (const [name, value] of lines) {
    if (!RESERVED.test(name)) {
      fields.headers[name] = name in fields.headers ? `${fields.headers[name]},${value}` : value;
      continue;
    }
    const lower = name.toLowerCase();
    if (lower === WIRE.id.toLowerCase()) fields.id = value.startsWith(`${subject}:`) ? value.slice(subject.length + 1) : value;
    else if (lower === WIRE.key.toLowerCase()) fields.key = value;
    else if (lower === WIRE.time.toLowerCase()) {
      const ms = Number(value);
      if (Number.isFinite(ms)) fields.timestamp = ms;
    } else if (lower === WIRE.extra.toLowerCase()) extra = value;
  }
  if (extra !== undefined) {
    try {
      const parsed = JSON.parse(extra) as unknown;
      if (typeof parsed === 'object' && parsed !== null) {
        for (const [name, value] of Object.entries(parsed)) if (typeof value === 'string') fields.headers[name] = value;
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

function linesOf(h: MsgHdrs | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!h) return out;
  for (const name of h.keys()) for (const value of h.values(name)) out.push([name, value]);
  return out;
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
  const f = fromWireHeaders(m.subject, linesOf(m.headers));
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

/** A core NATS message → the Message a handler sees (always attempt 1: core mode never redelivers). */
export function fromCoreMsg(m: Msg, receivedAt: number = Date.now()): Message {
  const f = fromWireHeaders(m.subject, linesOf(m.headers));
  return {
    topic: m.subject,
    id: f.id ?? newMessageId(receivedAt),
    key: f.key ?? '',
    payload: m.data,
    headers: f.headers,
    timestamp: f.timestamp ?? receivedAt,
    attempt: 1,
  };
}
