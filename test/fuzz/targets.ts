// The fuzz targets: every decoder that reads bytes from outside — the codecs, decryption and
// signature checks, the embedded log's record reader and the bridge's config parser. Each target
// generates an input from a seeded Rng (random bytes, or a valid input mutated) and checks the
// outcome: a value, or a Switchyard error with a clear message. Anything else is a finding.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobufjs from 'protobufjs';
import { z } from 'zod';
import { parseBridgeConfig } from '../../src/bridge/parse-config.ts';
import { json } from '../../src/codecs/json.ts';
import { protobuf } from '../../src/codecs/protobuf.ts';
import { raw, text } from '../../src/codecs/raw.ts';
import type { Message, OutgoingMessage } from '../../src/core/message.ts';
import { encrypted } from '../../src/security/encrypted.ts';
import { sign, verifier } from '../../src/security/signing.ts';
import { crc32c } from '../../src/transports/embedded/crc32c.ts';
import { isCorruptLogError } from '../../src/transports/embedded/errors.ts';
import { PartitionLog } from '../../src/transports/embedded/partition-log.ts';
import { encodeRecords, FRAME_HEADER } from '../../src/transports/embedded/record.ts';
import { segmentName } from '../../src/transports/embedded/segment.ts';
import { hex, mutate, type Rng } from './prng.ts';

/** A wrong outcome: the report says what the decoder did and what it should have done. */
export class Finding extends Error {}

export interface Target<I = unknown> {
  readonly name: string;
  generate(rng: Rng): I;
  /** The input, for a failure report. */
  describe(input: I): string;
  /** Runs the decoder on `input`; throws a Finding when the outcome is wrong. */
  check(input: I): void | Promise<void>;
  /** Releases what the target holds (temporary directories). */
  dispose?(): void;
}

const encoder = new TextEncoder();
const at = { topic: 'fuzz.in', id: 'fuzz-1' };

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}${'code' in error ? ` [${String((error as { code: unknown }).code)}]` : ''}: ${error.message}`;
  return `a non-Error ${typeof error}: ${String(error)}`;
}

/** The thrown value must be a Switchyard error with one of `codes` and a message matching `clear`. */
function expectSwitchyardError(error: unknown, codes: readonly string[], clear: RegExp): void {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (!(error instanceof Error) || typeof code !== 'string' || !codes.includes(code)) {
    throw new Finding(`threw ${describeError(error)} instead of a Switchyard error with code ${codes.join(' or ')}`);
  }
  if (!clear.test(error.message)) throw new Finding(`unclear error message: ${JSON.stringify(error.message)}`);
}

// ── JSON ────────────────────────────────────────────────────────────────────────────────────

function randomJsonValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 4 ? 5 : 7)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 1e308, -1e-308, 2 ** 53 + 1, rng.int(1_000_000)]);
    case 3:
      return rng.pick(['', 'o-1', 'zażółć 🚀', '\u0000', '\u2028', 'x'.repeat(rng.int(300))]);
    case 4:
      return rng.pick(['__proto__', 'constructor', 'toString']);
    case 5:
      return Array.from({ length: rng.int(5) }, () => randomJsonValue(rng, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: rng.int(5) }, () => [rng.pick(['orderId', 'total', 'items', 'sku', 'qty', '__proto__', 'a']), randomJsonValue(rng, depth + 1)]));
  }
}

const JSON_SEEDS = [
  '{"orderId":"o-1","total":42.5,"items":[{"sku":"a","qty":1}]}',
  '[1,2,3,{"a":[true,false,null]}]',
  '"\\ud800\\udc00 \\u0000"',
  '{"__proto__":{"polluted":true},"constructor":{"prototype":{}}}',
  '1e400',
  '-0',
];

function jsonInput(rng: Rng): Uint8Array {
  const r = rng.next();
  if (r < 0.2) return rng.bytes(rng.length(4096));
  if (r < 0.3) {
    // Deep nesting: recursion limits must surface as a DecodeError, not a crash.
    const depth = 1 + rng.int(200_000);
    return encoder.encode(rng.chance(0.5) ? '['.repeat(depth) + ']'.repeat(rng.chance(0.5) ? depth : 0) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
  }
  const valid = rng.chance(0.5) ? rng.pick(JSON_SEEDS) : JSON.stringify(randomJsonValue(rng));
  const bytes = encoder.encode(valid);
  return rng.chance(0.2) ? bytes : mutate(rng, bytes, encoder.encode(rng.pick(JSON_SEEDS)));
}

const jsonCodec = json();
const Order = z.object({ orderId: z.string().min(1), total: z.number().positive(), items: z.array(z.object({ sku: z.string(), qty: z.number().int() })) });
const orderCodec = json(Order);

const jsonTarget: Target<Uint8Array> = {
  name: 'json codec',
  generate: jsonInput,
  describe: (input) => hex(input),
  check(input) {
    try {
      jsonCodec.decode({ ...at, payload: input });
    } catch (error) {
      expectSwitchyardError(error, ['DECODE'], /^cannot decode message fuzz-1 on "fuzz\.in": (empty payload|malformed JSON)/);
    }
  },
};

const jsonSchemaTarget: Target<Uint8Array> = {
  name: 'json codec with a zod schema',
  generate: (rng) => (rng.chance(0.4) ? encoder.encode(JSON.stringify({ orderId: rng.pick(['o-1', '', 7]), total: rng.pick([1, -1, '3', 0.5]), items: rng.chance(0.5) ? [{ sku: 'a', qty: rng.pick([1, 1.5, '2']) }] : randomJsonValue(rng) })) : jsonInput(rng)),
  describe: (input) => hex(input),
  check(input) {
    let value: unknown;
    try {
      value = orderCodec.decode({ ...at, payload: input });
    } catch (error) {
      expectSwitchyardError(error, ['DECODE', 'VALIDATION'], /^(cannot decode message fuzz-1 on "fuzz\.in": |message fuzz-1 on "fuzz\.in" failed validation: .+)/);
      return;
    }
    const checked = Order.safeParse(value);
    if (!checked.success) throw new Finding(`decoded a value its schema rejects: ${JSON.stringify(value)}`);
  },
};

// ── raw and text ────────────────────────────────────────────────────────────────────────────

const rawText: Target<Uint8Array> = {
  name: 'raw and text codecs',
  generate: (rng) => (rng.chance(0.5) ? rng.bytes(rng.length(4096)) : mutate(rng, encoder.encode('zażółć gęślą jaźń 🚀 \u{10ffff}'))),
  describe: (input) => hex(input),
  check(input) {
    const same = raw().decode({ ...at, payload: input });
    if (same !== input) throw new Finding('raw() did not hand back the bytes it was given');
    try {
      const decoded = text().decode({ ...at, payload: input });
      if (!Buffer.from(encoder.encode(decoded)).equals(Buffer.from(input))) throw new Finding('text() decoded to a string that does not encode back to the same bytes');
    } catch (error) {
      if (error instanceof Finding) throw error;
      expectSwitchyardError(error, ['DECODE'], /payload is not valid UTF-8/);
    }
  },
};

// ── protobuf ────────────────────────────────────────────────────────────────────────────────

const protoRoot = protobufjs.parse(`
  syntax = "proto3";
  package fuzz;
  message Order {
    string order_id = 1; int64 total_cents = 2; repeated string items = 3; Status status = 4;
    Customer customer = 5; map<string, int32> quantities = 6; bytes blob = 7; double ratio = 8;
    sint64 delta = 9; repeated int32 packed = 10; fixed32 flags = 11; bool gift = 12;
    oneof contact { string email = 13; string phone = 14; }
  }
  message Customer { string id = 1; Customer referrer = 2; }
  enum Status { NEW = 0; PAID = 1; }
`).root;
const OrderType = protoRoot.lookupType('fuzz.Order');
const orderProto = protobuf<Record<string, unknown>>(OrderType);
const PROTO_SEEDS = [
  { orderId: 'o-1', totalCents: '9007199254740993', items: ['a', 'b'], status: 'PAID', customer: { id: 'c', referrer: { id: 'r' } }, quantities: { a: 1, b: -2 }, blob: Buffer.from([0, 255]), ratio: 0.5, delta: '-5', packed: [1, 2, 300], flags: 7, gift: true, email: 'a@b' },
  { orderId: '', items: [], packed: [-1] },
  { phone: '+48 600 000 000', quantities: {} },
].map((v) => OrderType.encode(OrderType.fromObject(v)).finish());

const protobufTarget: Target<Uint8Array> = {
  name: 'protobuf codec',
  generate: (rng) => (rng.chance(0.3) ? rng.bytes(rng.length(2048)) : mutate(rng, rng.pick(PROTO_SEEDS), rng.pick(PROTO_SEEDS))),
  describe: (input) => hex(input),
  check(input) {
    try {
      orderProto.decode({ ...at, payload: input });
    } catch (error) {
      expectSwitchyardError(error, ['DECODE'], /^cannot decode message fuzz-1 on "fuzz\.in": malformed fuzz\.Order protobuf: /);
    }
  },
};

// ── decryption ──────────────────────────────────────────────────────────────────────────────

// Fixed keys and clocks, so a run's inputs depend on its seed alone (except the random IVs the
// codec draws, which is what it must do).
const k1 = Buffer.alloc(32, 1);
const k2 = Buffer.alloc(32, 2);
const secretCodec = encrypted(json(), { keyring: { current: 'k2', keys: { k1, k2 } }, bindHeaders: ['x-tenant'] });
const oldCodec = encrypted(json(), { keyring: { current: 'k1', keys: { k1 } }, bindHeaders: ['x-tenant'] });
// Sealed for the topic and id every input is decoded as (`at`): both are bound into the tag.
const SEALED = [
  secretCodec.encode({ orderId: 'o-1', total: 42 }, { ...at, headers: { 'x-tenant': 'acme' } }),
  oldCodec.encode([1, 2, 3], { ...at, headers: { 'x-tenant': 'globex' } }),
  secretCodec.encode('', { ...at, headers: { 'x-tenant': '' } }),
];
const ENC_HEADERS = ['x-switchyard-enc-key', 'x-switchyard-enc-content-type', 'x-switchyard-enc-headers', 'x-switchyard-enc-topic', 'x-tenant'];

interface HeaderedInput {
  payload: Uint8Array;
  headers: Record<string, string>;
  /** The untouched original when the input was derived from one (then only it may be accepted). */
  original?: OutgoingMessage;
}

function mutateHeaders(rng: Rng, headers: Record<string, string>, names: readonly string[]): Record<string, string> {
  const out = { ...headers };
  const name = rng.pick(names);
  const r = rng.next();
  if (r < 0.25) delete out[name];
  else if (r < 0.5) out[name] = rng.pick(['k1', 'k2', 'k9', '', 'x-tenant', 'x-tenant,x-other', 'application/json', '__proto__', 'hasOwnProperty']);
  else out[name] = Buffer.from(mutate(rng, encoder.encode(out[name] ?? ''))).toString('latin1');
  return out;
}

function sameMessage(a: { payload: Uint8Array; headers?: Record<string, string> }, b: { payload: Uint8Array; headers?: Record<string, string> }, names: readonly string[]): boolean {
  return Buffer.from(a.payload).equals(Buffer.from(b.payload)) && names.every((n) => a.headers?.[n] === b.headers?.[n]);
}

const decryption: Target<HeaderedInput> = {
  name: 'decryption (encrypted codec)',
  generate(rng) {
    const original = rng.pick(SEALED);
    const r = rng.next();
    if (r < 0.15) return { payload: rng.bytes(rng.length(512)), headers: rng.chance(0.5) ? { ...original.headers! } : mutateHeaders(rng, original.headers!, ENC_HEADERS) };
    if (r < 0.55) return { payload: mutate(rng, original.payload), headers: { ...original.headers! }, original };
    if (r < 0.9) return { payload: original.payload, headers: mutateHeaders(rng, original.headers!, ENC_HEADERS), original };
    return { payload: original.payload, headers: { ...original.headers! }, original };
  },
  describe: (input) => `payload ${hex(input.payload)}, headers ${JSON.stringify(input.headers)}`,
  check(input) {
    let value: unknown;
    try {
      value = secretCodec.decode({ ...at, ...input });
    } catch (error) {
      expectSwitchyardError(error, ['DECODE'], /^cannot decode message fuzz-1 on "fuzz\.in": decryption failed: .+/);
      if (input.original && sameMessage(input, input.original, ENC_HEADERS)) throw new Finding(`rejected an untouched encrypted message: ${(error as Error).message}`);
      return;
    }
    if (!input.original || !sameMessage(input, input.original, ENC_HEADERS)) throw new Finding(`accepted an altered or forged message, decoding it to ${JSON.stringify(value)}`);
  },
};

// ── signature verification ──────────────────────────────────────────────────────────────────

const hmacSecret = Buffer.alloc(32, 3);
// PKCS#8 DER of an Ed25519 private key is a fixed 16-byte prefix and the 32-byte seed.
const edPrivate = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 4)]), format: 'der', type: 'pkcs8' });
const ed = { privateKey: edPrivate, publicKey: createPublicKey(edPrivate) };
const fixedClock = (): number => 1_700_000_000_000;
const check = verifier({ keys: { h1: hmacSecret, e1: ed.publicKey }, headers: ['x-tenant'] });
const SIGNED: Message[] = [
  sign({ keyId: 'h1', key: hmacSecret, headers: ['content-type', 'x-tenant'], now: fixedClock })('orders.placed', { id: 'm-1', key: 'c-1', payload: encoder.encode('{"total":1}'), headers: { 'content-type': 'application/json', 'x-tenant': 'acme' } }),
  sign({ keyId: 'e1', key: ed.privateKey, headers: ['x-tenant'], now: fixedClock })('orders.placed', { id: 'm-2', payload: new Uint8Array(0), headers: { 'x-tenant': '' } }),
].map((m) => ({ topic: 'orders.placed', key: '', timestamp: 0, attempt: 1, ...m }) as Message);
const SIG_HEADERS = ['x-switchyard-sig', 'x-switchyard-sig-key', 'x-switchyard-sig-alg', 'x-switchyard-sig-at', 'x-switchyard-sig-headers', 'x-tenant', 'content-type'];

interface SignedInput {
  message: Message;
  original: Message;
}

const verification: Target<SignedInput> = {
  name: 'signature verification',
  generate(rng) {
    const original = rng.pick(SIGNED);
    const message: Message = { ...original, headers: { ...original.headers } };
    const edits = rng.int(3); // 0: untouched
    for (let i = 0; i < edits; i++) {
      const field = rng.int(5);
      if (field === 0) message.payload = mutate(rng, message.payload);
      else if (field === 1) message.id = rng.pick(['m-1', 'm-2', 'm-3', '']);
      else if (field === 2) message.key = rng.pick(['', 'c-1', 'c-2']);
      else if (field === 3) message.topic = rng.pick(['orders.placed', 'orders.placed2', 'orders']);
      else message.headers = mutateHeaders(rng, message.headers, SIG_HEADERS);
    }
    return { message, original };
  },
  describe: ({ message }) => JSON.stringify({ ...message, payload: hex(message.payload) }),
  check({ message, original }) {
    const covered = original.headers['x-switchyard-sig-headers']!.split(',').filter(Boolean);
    const untouched =
      message.topic === original.topic &&
      message.id === original.id &&
      message.key === original.key &&
      sameMessage(message, original, [...SIG_HEADERS.filter((n) => n.startsWith('x-switchyard-sig')), ...covered]);
    try {
      check(message);
    } catch (error) {
      expectSwitchyardError(error, ['PERMANENT'], /^message .* on ".*" failed signature verification: .+/);
      if (untouched) throw new Finding(`rejected an untouched signed message: ${(error as Error).message}`);
      return;
    }
    if (!untouched) throw new Finding('accepted a message whose signed content was altered');
  },
};

// ── the embedded log's record reader ────────────────────────────────────────────────────────

interface SegmentInput {
  bytes: Uint8Array;
  /** The damaged segment is followed by another one (so it is a closed segment, not a torn tail). */
  closed: boolean;
}

function validSegment(rng: Rng): { bytes: Buffer; frames: number[] } {
  const count = 1 + rng.int(8);
  const messages = Array.from({ length: count }, (_, i) => ({
    id: `id-${i}`,
    key: rng.chance(0.5) ? '' : `k-${rng.int(3)}`,
    payload: rng.bytes(rng.length(300)),
    headers: (rng.chance(0.5) ? {} : { 'content-type': 'application/json', [`h${i}`]: 'v'.repeat(rng.int(20)) }) as Record<string, string>,
    timestamp: 1_700_000_000_000 + i,
  }));
  const bytes = encodeRecords(messages, 0);
  const frames: number[] = [];
  for (let pos = 0; pos < bytes.length; pos += FRAME_HEADER + bytes.readUInt32LE(pos)) frames.push(pos);
  return { bytes, frames };
}

let logRoot: string | undefined;
let logSeq = 0;

const logReader: Target<SegmentInput> = {
  name: 'embedded log record reader',
  generate(rng) {
    const closed = rng.chance(0.3);
    const r = rng.next();
    if (r < 0.2) return { bytes: rng.bytes(rng.length(4096)), closed };
    const { bytes, frames } = validSegment(rng);
    if (r < 0.6) return { bytes: mutate(rng, bytes), closed };
    // Damage inside one frame's body and fix its CRC, so the record decoder itself is exercised.
    const damaged = Buffer.from(bytes);
    const frame = rng.pick(frames);
    const end = frame + FRAME_HEADER + damaged.readUInt32LE(frame);
    for (let i = 1 + rng.int(4); i > 0; i--) {
      const p = frame + FRAME_HEADER + rng.int(end - frame - FRAME_HEADER);
      damaged[p] = rng.chance(0.5) ? rng.int(256) : rng.pick([0, 0xff, 0x7f, 0x80]);
    }
    damaged.writeUInt32LE(crc32c(damaged, frame + FRAME_HEADER, end), frame + 4);
    return { bytes: damaged, closed };
  },
  describe: (input) => `${input.closed ? 'closed' : 'last'} segment ${hex(input.bytes)}`,
  async check(input) {
    logRoot ??= mkdtempSync(join(tmpdir(), 'sy-fuzz-log-'));
    const dir = join(logRoot, String(logSeq++));
    mkdirSync(dir);
    const file = join(dir, segmentName(0, 'log'));
    writeFileSync(file, input.bytes);
    if (input.closed) writeFileSync(join(dir, segmentName(1_000_000, 'log')), new Uint8Array(0));
    const options = { fsync: 'never' as const, segmentBytes: 1 << 20, batchWindowMs: 0, verifyOnOpen: true };
    try {
      let log: PartitionLog;
      try {
        log = PartitionLog.open(dir, options);
      } catch (error) {
        if (!isCorruptLogError(error)) throw new Finding(`opening threw ${describeError(error)} instead of a CorruptLogError`);
        if (error.file !== file || !Number.isInteger(error.position) || error.position < 0 || error.position > input.bytes.length) {
          throw new Finding(`CorruptLogError names ${error.file} at byte ${error.position} (file has ${input.bytes.length} bytes)`);
        }
        if (!/^corrupt log segment .* at byte \d+ \(record offset [^)]+\): (crc-mismatch|bad-length|bad-body|truncated): /.test(error.message)) throw new Finding(`unclear CorruptLogError: ${error.message}`);
        return;
      }
      try {
        // Whatever opened must read back cleanly, offsets strictly increasing.
        let offset = 0;
        let last = -1;
        for (let reads = 0; ; reads++) {
          if (reads > 10_000) throw new Finding('reading the log does not end');
          const { records } = log.read(offset, 100, 1 << 24);
          if (records.length === 0) break;
          for (const r of records) {
            if (!Number.isSafeInteger(r.offset)) throw new Finding(`read a record with offset ${r.offset}`);
            if (r.offset <= last) throw new Finding(`read a record with offset ${r.offset} after ${last}`);
            last = r.offset;
          }
          offset = last + 1;
        }
      } catch (error) {
        if (error instanceof Finding) throw error;
        throw new Finding(`reading the opened log threw ${describeError(error)}`);
      } finally {
        await log.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  dispose() {
    if (logRoot) rmSync(logRoot, { recursive: true, force: true });
  },
};

// ── the bridge's config parser ──────────────────────────────────────────────────────────────

const BRIDGE_SEEDS = [
  `transports:
  local: { type: embedded, dir: ./data }
  cloud: { type: memory }
routes:
  - name: orders-out
    from: { transport: local, topic: orders.placed, group: bridge, start: earliest }
    to: { transport: cloud, topic: orders.copied, headers: { x-src: "\${HOST}" } }
    filter: { key: { prefix: "c-" }, json: { total: { gte: 10 } } }
    format: { in: json, out: json }
    retry: { attempts: 3, initialDelayMs: 10 }
    deadLetter: { maxAttempts: 3 }
`,
  '{"transports":{"a":{"type":"memory"}},"routes":[{"name":"r","from":{"transport":"a","topic":"x"},"to":{"transport":"a","topic":"y"}}]}',
  // An alias bomb: must be refused, not expanded.
  'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n',
  'transports: !!js/function "function(){}"\nroutes: [ { name: "\\u0000" } ]\n',
];
const YAML_TOKENS = ['transports:', 'routes:', '- ', '  ', '\n', '{', '}', '[', ']', ':', ',', '&a ', '*a', '!!str ', '"', "'", '${X}', '#', '|', '>', '---', '...', 'type: memory', 'name: r', 'topic: t', '? ', '%YAML 1.2'];

const bridgeConfig: Target<Uint8Array> = {
  name: 'bridge config parser',
  generate(rng) {
    const r = rng.next();
    if (r < 0.2) return rng.bytes(rng.length(2048));
    if (r < 0.45) return encoder.encode(Array.from({ length: rng.length(200) }, () => rng.pick(YAML_TOKENS)).join(''));
    const seeds = BRIDGE_SEEDS.map((s) => encoder.encode(s));
    return mutate(rng, rng.pick(seeds), rng.pick(seeds));
  },
  describe: (input) => JSON.stringify(Buffer.from(input).toString('latin1')),
  check(input) {
    let result: ReturnType<typeof parseBridgeConfig>;
    try {
      result = parseBridgeConfig(rngText(input), { env: { HOST: 'h' } });
    } catch (error) {
      expectSwitchyardError(error, ['CONFIG'], /.+/);
      return;
    }
    if (result.ok) return;
    if (!Array.isArray(result.problems) || result.problems.length === 0 || result.problems.some((p) => typeof p !== 'string' || p === '')) {
      throw new Finding(`a failed parse must list its problems, got ${JSON.stringify(result)}`);
    }
  },
};

/** Half the inputs go in as bytes (exercising the UTF-8 check), half as text. */
function rngText(input: Uint8Array): string | Uint8Array {
  return input.length % 2 === 0 ? input : Buffer.from(input).toString('utf8');
}

/** Every target, in the order they run. */
export const targets: readonly Target<never>[] = [jsonTarget, jsonSchemaTarget, rawText, protobufTarget, decryption, verification, logReader, bridgeConfig] as unknown as Target<never>[];
