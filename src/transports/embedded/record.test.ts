import { describe, expect, it } from 'vitest';
import type { NormalizedMessage } from '../../core/message.ts';
import { checkFrame, decodeRecord, encodeRecords, FRAME_HEADER, recycleFrames } from './record.ts';

const message = (id: string, key: string, headers: Record<string, string>, size: number): NormalizedMessage => ({
  id,
  key,
  payload: Buffer.alloc(size, size & 0xff),
  headers,
  timestamp: 1_700_000_000_000 + size,
});

/** The body size the format defines, from exact UTF-8 lengths. */
function expectedBody(m: NormalizedMessage): number {
  let size = 8 + 8 + 1 + 2 + Buffer.byteLength(m.id) + 4 + Buffer.byteLength(m.key) + 2 + 4 + m.payload.length;
  for (const [name, value] of Object.entries(m.headers)) size += 2 + Buffer.byteLength(name) + 4 + Buffer.byteLength(value);
  return size;
}

describe('record framing', () => {
  it('frames strings of every kind at their exact UTF-8 length and reads them back', () => {
    const messages = [
      message('0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b', '', {}, 256),
      message('short', 'k', { a: 'b' }, 0),
      message('zażółć gęślą jaźń — a longer id with ünïcödé', 'ключ-длиннее-шестнадцати-символов', { 'content-type': 'application/json', 'zaż': 'ółć' }, 17),
      message('emoji 🚀🚀🚀 beyond the basic plane, long enough', '🔑', { '🏷️ name': 'value with 😀 and more than sixteen chars' }, 4096),
      message('x'.repeat(300), 'y'.repeat(70_000), { ['h'.repeat(100)]: 'v'.repeat(1000) }, 1),
    ];
    const buf = encodeRecords(messages, 42);
    expect(buf.length).toBe(messages.reduce((n, m) => n + FRAME_HEADER + expectedBody(m), 0));
    let pos = 0;
    messages.forEach((m, i) => {
      const check = checkFrame(buf, pos, buf.length);
      expect(check.ok).toBe(true);
      expect(decodeRecord(buf, pos)).toEqual({ offset: 42 + i, timestamp: m.timestamp, id: m.id, key: m.key, headers: m.headers, payload: Buffer.from(m.payload) });
      pos = (check as { end: number }).end;
    });
    expect(pos).toBe(buf.length);
  });

  it('frames a large batch into the memory of one recycled after it was written, and nothing else', () => {
    const batch = (n: number): NormalizedMessage[] => Array.from({ length: 300 }, (_, i) => message(`id-${n}-${i}`, '', {}, 1000));
    const first = encodeRecords(batch(1), 0);
    recycleFrames(first);
    const second = encodeRecords(batch(2), 300);
    expect(second.buffer).toBe(first.buffer);
    expect(decodeRecord(second, 0).id).toBe('id-2-0');
    // Memory encodeRecords did not allocate (a caller's, or a pool other buffers share) is left alone.
    const foreign = Buffer.allocUnsafeSlow(second.length);
    recycleFrames(foreign);
    recycleFrames(encodeRecords([message('small', '', {}, 10)], 0));
    expect(encodeRecords(batch(3), 600).buffer).not.toBe(foreign.buffer);
  });

  it('refuses an id or header name longer than its 16-bit length field, as it always did', () => {
    expect(() => encodeRecords([message('i'.repeat(70_000), '', {}, 1)], 0)).toThrow(RangeError);
    expect(() => encodeRecords([message('id', '', { ['n'.repeat(70_000)]: 'v' }, 1)], 0)).toThrow(RangeError);
  });
});
