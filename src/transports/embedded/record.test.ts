import { describe, expect, it } from 'vitest';
import { isConfigError, type ConfigError } from '../../core/errors.ts';
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

  it('refuses, with a ConfigError naming the message and the limit, what its 16-bit fields cannot hold — and takes anything up to them', () => {
    const refusal = (messages: NormalizedMessage[]): ConfigError => {
      try {
        encodeRecords(messages, 0);
      } catch (error) {
        expect(isConfigError(error), String(error)).toBe(true);
        return error as ConfigError;
      }
      throw new Error('expected a ConfigError');
    };
    // Ids and header names are measured in UTF-8 bytes: 'ż' takes 2, '€' 3.
    expect(refusal([message('i'.repeat(65_536), '', {}, 1)]).problems).toEqual([expect.stringMatching(/^message "i{64}…": its id is 65536 bytes .* at most 65535 bytes/)]);
    expect(refusal([message('€'.repeat(21_846), '', {}, 1)]).message).toContain('its id is 65538 bytes');
    expect(refusal([message('ok-id', '', { ['ż'.repeat(32_768)]: 'v' }, 1)]).message).toMatch(/^message "ok-id": header name "ż{64}…" is 65536 bytes/);
    const many = Object.fromEntries(Array.from({ length: 65_536 }, (_, i) => [`h${i}`, '']));
    expect(refusal([message('many', '', many, 1)]).message).toMatch(/^message "many": it has 65536 headers; .* at most 65535/);
    // Every message of a batch that does not fit is named, and only those.
    const batch = refusal([message('fine', '', {}, 1), message('a'.repeat(70_000), '', {}, 1), message('too-many', '', many, 1)]);
    expect(batch.problems).toHaveLength(2);

    const limits = [
      message('i'.repeat(65_535), '', {}, 1),
      message('€'.repeat(21_845), '', { ['ż'.repeat(32_767) + 'n']: 'v' }, 1),
      message('max-headers', '', Object.fromEntries(Array.from({ length: 65_535 }, (_, i) => [`h${i}`, ''])), 1),
    ];
    const buf = encodeRecords(limits, 7);
    let pos = 0;
    for (const m of limits) {
      expect(decodeRecord(buf, pos)).toMatchObject({ id: m.id, headers: m.headers });
      pos = (checkFrame(buf, pos, buf.length) as { end: number }).end;
    }
    expect(pos).toBe(buf.length);
  });
});
