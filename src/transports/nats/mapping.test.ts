import { MsgHdrsImpl } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import {
  encodeHeaders,
  fromWireHeaders,
  fromWireValue,
  headerBytes,
  isPlainHeader,
  natsHeadersOf,
  parseAckSubject,
  parseHeaderBlock,
  toWireHeaders,
  toWireValue,
  WIRE,
} from './mapping.ts';

/** What the client's own header map makes of a header block: names and their values in order. */
function clientLines(block: string): Array<[string, string]> {
  const h = MsgHdrsImpl.decode(new TextEncoder().encode(block));
  return h.keys().flatMap((name) => h.values(name).map((value): [string, string] => [name, value]));
}

const base = { id: 'id-1', key: 'k-1', timestamp: 1_700_000_000_123, headers: {} as Record<string, string> };

describe('NATS header mapping', () => {
  it('writes the id scoped by topic, the key, the time, then the application headers', () => {
    expect(toWireHeaders('orders.placed', { ...base, headers: { 'x-trace': 't' } })).toEqual([
      [WIRE.id, 'orders.placed:id-1'],
      [WIRE.key, 'k-1'],
      [WIRE.time, '1700000000123'],
      ['x-trace', 't'],
    ]);
  });

  it('scopes the dedup id of a deliberate re-publish (x-republished-at) by its time, and reads the id back from Sy-Id', () => {
    const headers = { 'x-republished-at': '2026-11-24T23:00:00.000Z' };
    const lines = toWireHeaders('orders.placed', { ...base, headers });
    expect(lines.slice(0, 2)).toEqual([
      [WIRE.id, 'orders.placed:id-1:republished-at:2026-11-24T23:00:00.000Z'],
      [WIRE.ownId, 'id-1'],
    ]);
    expect(fromWireHeaders('orders.placed', lines)).toEqual({ id: 'id-1', key: 'k-1', timestamp: base.timestamp, headers });
    // Whichever comes first on the wire, Sy-Id names the message.
    expect(fromWireHeaders('orders.placed', [lines[1]!, lines[0]!]).id).toBe('id-1');
  });

  it('leaves out an empty key', () => {
    expect(toWireHeaders('t', { ...base, key: '' }).map(([k]) => k)).toEqual([WIRE.id, WIRE.time]);
  });

  it('reads back exactly what it wrote, internal headers removed', () => {
    const headers = { 'x-a': '1', 'X-Case': 'Kept', 'x-empty': '', 'x-unicode': 'gęślą 🚀' };
    const lines = toWireHeaders('a.b', { ...base, headers });
    expect(fromWireHeaders('a.b', lines)).toEqual({ id: 'id-1', key: 'k-1', timestamp: base.timestamp, headers });
  });

  it('reads only a Sy-Time that publish would accept again: none for no time, whole milliseconds of a fraction', () => {
    const time = (value: string): number | undefined => fromWireHeaders('a.b', [[WIRE.id, 'a.b:i'], [WIRE.time, value]]).timestamp;
    // Another producer's "not set" or garbage: absent, so the stream's or the arrival time is used.
    for (const value of ['0', '-5', '', '-0.5', '8640000000000001', 'NaN', 'Infinity']) expect(time(value), JSON.stringify(value)).toBeUndefined();
    expect(time('1700000000123.9')).toBe(1_700_000_000_123);
    expect(time('1700000000123')).toBe(1_700_000_000_123);
    expect(time('1')).toBe(1);
  });

  it('carries headers a NATS header line cannot hold in one JSON header, and restores them', () => {
    const headers = { 'bad name': 'v', 'x:y': 'v', multi: 'a\r\nb', padded: ' p ', 'Nats-Msg-Id': 'mine', 'sy-key': 'mine too', ok: 'fine' };
    const lines = toWireHeaders('a.b', { ...base, headers });
    expect(lines.filter(([k]) => k === WIRE.extra)).toHaveLength(1);
    expect(lines.some(([k]) => k === 'ok')).toBe(true);
    expect(fromWireHeaders('a.b', lines).headers).toEqual(headers);
  });

  it('tells which headers ride as plain NATS headers', () => {
    expect(isPlainHeader('x-trace', 'abc def')).toBe(true);
    expect(isPlainHeader('x-trace', '')).toBe(true);
    expect(isPlainHeader('with space', 'v')).toBe(false);
    expect(isPlainHeader('x', 'line\nbreak')).toBe(false);
    expect(isPlainHeader('x', ' lead')).toBe(false);
    expect(isPlainHeader('NATS-Expected-Stream', 'v')).toBe(false);
  });

  it('takes a foreign Nats-Msg-Id as the id, and keeps a malformed Sy-Headers visible', () => {
    const f = fromWireHeaders('a.b', [
      ['Nats-Msg-Id', 'foreign-7'],
      [WIRE.extra, '{not json'],
    ]);
    expect(f.id).toBe('foreign-7');
    expect(f.key).toBeUndefined();
    expect(f.headers).toEqual({ [WIRE.extra]: '{not json' });
  });

  it('joins repeated foreign headers with commas', () => {
    expect(fromWireHeaders('s', [['x', '1'], ['x', '2']]).headers).toEqual({ x: '1,2' });
  });

  it('carries keys and ids a header value cannot hold (CR/LF, surrounding spaces) JSON-encoded, and reads them back exactly', () => {
    for (const value of ['a\r\nNats-Msg-Id: evil', ' k ', '\tlead', 'trail\n', '"quoted"', '"', '\u00a0nbsp']) {
      const lines = toWireHeaders('a.b', { ...base, id: value, key: value });
      for (const [, v] of lines) expect(isPlainHeader('x', v)).toBe(true); // every line is a valid header line
      expect(fromWireHeaders('a.b', lines)).toMatchObject({ id: value, key: value });
      // Through the client's own encoder and parser too.
      const block = Buffer.from((natsHeadersOf(lines) as MsgHdrsImpl).encode()).toString();
      expect(fromWireHeaders('a.b', clientLines(block))).toMatchObject({ id: value, key: value });
    }
    // Ordinary values ride as they are; a re-publish keeps its exact id in Sy-Id.
    expect(toWireValue('order-42')).toBe('order-42');
    const republished = toWireHeaders('a.b', { ...base, id: ' x ', headers: { 'x-republished-at': 't' } });
    expect(fromWireHeaders('a.b', republished).id).toBe(' x ');
  });

  it('never gives two ids the same Nats-Msg-Id', () => {
    const ids = ['x\r\ny', '"x\\r\\ny"', '"x"', 'x', ' x', 'x '];
    const dedup = ids.map((id) => toWireHeaders('t', { ...base, id }).find(([k]) => k === WIRE.id)![1]);
    expect(new Set(dedup).size).toBe(ids.length);
  });

  it('reads a foreign value starting with a quote that is not JSON as it came', () => {
    expect(fromWireValue('"unterminated')).toBe('"unterminated');
    expect(fromWireValue('"1"')).toBe('1');
    expect(fromWireHeaders('a.b', [[WIRE.key, '"not json']]).key).toBe('"not json');
  });

  it('round-trips headers named like Object.prototype members as own properties of a plain object', () => {
    // JSON.parse makes `__proto__` an own property, as a caller's parsed headers would have it.
    const headers = JSON.parse('{"constructor":"c","toString":"t","hasOwnProperty":"h","__proto__":"p","plain":"x","Sy-x":"y"}') as Record<string, string>;
    const read = fromWireHeaders('a.b', toWireHeaders('a.b', { ...base, headers })).headers;
    expect(Object.keys(read).sort()).toEqual(Object.keys(headers).sort());
    expect(Object.getOwnPropertyDescriptor(read, '__proto__')?.value).toBe('p');
    expect(read['constructor']).toBe('c');
    expect(read['toString']).toBe('t');
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
    // Through Sy-Headers (a name a NATS header cannot carry) and repeated foreign lines too.
    const odd = JSON.parse('{"__proto__":"p\\r\\nq","constructor":" c "}') as Record<string, string>;
    const viaJson = fromWireHeaders('a.b', toWireHeaders('a.b', { ...base, headers: odd })).headers;
    expect(Object.getOwnPropertyDescriptor(viaJson, '__proto__')?.value).toBe('p\r\nq');
    expect(viaJson['constructor']).toBe(' c ');
    expect(fromWireHeaders('s', [['toString', '1'], ['toString', '2']]).headers).toEqual({ toString: '1,2' });
  });
});

describe('NATS header blocks', () => {
  it('encodes header lines byte for byte as the client does, and sizes them as headerBytes', () => {
    const cases: Array<Array<[string, string]>> = [
      toWireHeaders('orders.placed', { id: 'id-1', key: 'k-1', timestamp: 1, headers: { 'x-a': '1', 'X-Case': 'Kept', 'x-empty': '', 'x-u': 'gęślą 🚀' } }),
      toWireHeaders('t', { id: 'i', key: '', timestamp: 2, headers: { 'bad name': 'v', padded: ' p ' } }),
      [['Nats-Msg-Id', 't: spaced id '], ['Sy-Time', '3']], // trimmed by the client: falls back
      [['a', '1'], ['a', '2'], ['b', '3']], // repeated name: falls back
    ];
    for (const lines of cases) {
      const { headers, size } = encodeHeaders(lines);
      const expected = Buffer.from((natsHeadersOf(lines) as MsgHdrsImpl).encode());
      expect(Buffer.from((headers as unknown as MsgHdrsImpl).encode())).toEqual(expected);
      expect(size).toBe(headerBytes(lines));
      expect(headers.keys()).toEqual(natsHeadersOf(lines).keys());
      expect(size).toBeGreaterThan(0);
    }
    expect(() => encodeHeaders([['Sy-Key', 'a\r\nb']])).toThrow(); // as the client rejects it
  });

  it('reads header blocks exactly as the client does', () => {
    const blocks = [
      'NATS/1.0\r\nNats-Msg-Id: a.b:id-1\r\nSy-Time: 5\r\nx-a:  spaced  \r\n\r\n',
      'NATS/1.0\r\nx: 1\r\ny: 2\r\nx: 3\r\nno colon\r\n:empty name\r\n\r\n',
      'NATS/1.0 503\r\n\r\n',
      'NATS/1.0',
      '',
      'NATS/1.0\r\nu: gęślą 🚀\r\nv: a:b:c\r\n\r\n',
    ];
    for (const block of blocks) expect(parseHeaderBlock(new TextEncoder().encode(block))).toEqual(clientLines(block));
    // Blocks the client rejects are left to it (so it throws as before).
    expect(parseHeaderBlock(new TextEncoder().encode('NATS/1.0\r\nbad name: v\r\n\r\n'))).toBeUndefined();
    expect(parseHeaderBlock(new TextEncoder().encode('NATS/1.0\r\nx: a\nb\r\n\r\n'))).toBeUndefined();
  });
});

describe('JetStream ack subjects', () => {
  it('parses the short form of 2.9 servers', () => {
    expect(parseAckSubject('$JS.ACK.SY_orders.billing_1.3.42.57.1700000000123456789.9')).toEqual({
      stream: 'SY_orders',
      consumer: 'billing_1',
      deliveryCount: 3,
      streamSequence: 42,
      deliverySequence: 57,
      timestampNanos: 1_700_000_000_123_456_789n,
      pending: 9,
    });
  });

  it('parses the long form with domain and account hash', () => {
    const info = parseAckSubject('$JS.ACK.hub.ACCHASH.S.C.1.2.3.1700000000000000000.0.rand');
    expect(info).toMatchObject({ stream: 'S', consumer: 'C', deliveryCount: 1, streamSequence: 2, deliverySequence: 3, pending: 0 });
  });

  it('returns undefined for anything else (status messages, inboxes)', () => {
    expect(parseAckSubject(undefined)).toBeUndefined();
    expect(parseAckSubject('_INBOX.abc')).toBeUndefined();
    expect(parseAckSubject('$JS.ACK.too.short')).toBeUndefined();
  });
});
