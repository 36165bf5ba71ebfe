import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { NormalizedMessage } from '../../core/message.ts';
import { FRAME_MAX, headerFrameBytes, publishProblems } from './header-frame.ts';
import { fromDelivery, redeliveryEnvelope, toEnvelope } from './mapping.ts';

// rabbitmq-client's own frame encoder (internal, so not in its typings): the sizes below are what
// it would really write, not a model of it.
const codec = createRequire(import.meta.url)('rabbitmq-client/lib/codec.js') as {
  encodeFrame(frame: { type: number; channelId: number; bodySize: number; fields: object }): Buffer;
};
const HEADER_FRAME = 2;
/** Payload size of the content header frame rabbitmq-client encodes for `envelope` (frame minus 7-byte header and end octet). */
const encoded = (envelope: object): number => codec.encodeFrame({ type: HEADER_FRAME, channelId: 1, bodySize: 0, fields: { ...envelope, deliveryMode: 2 } }).length - 8;

const message = (m: Partial<NormalizedMessage>): NormalizedMessage => ({ id: 'id-1', key: '', payload: new Uint8Array(), headers: {}, timestamp: 1_700_000_000_123, ...m });

describe('rabbitmq header frame size', () => {
  const topic = 'orders.placed.ünïcode';
  const cases: Record<string, NormalizedMessage> = {
    'no headers': message({}),
    'headers, key and multi-byte text': message({ key: 'kunde-ß-7', headers: { trace: 't-1', 'x-unicode': 'zażółć 🚀', empty: '' } }),
    'many small headers': message({ headers: Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`h${i}`, String(i)])) }),
    'an id over 255 bytes': message({ id: 'é'.repeat(200) }),
    'a header named __proto__': message({ headers: JSON.parse('{"__proto__":"p","constructor":"c"}') as Record<string, string> }),
    'a long key': message({ key: 'k'.repeat(100_000) }),
  };

  for (const [name, m] of Object.entries(cases)) {
    it(`is never below what the client encodes, published or redelivered: ${name}`, () => {
      const published = toEnvelope(m, 'ex', topic, false);
      const delivered = { ...fromDelivery({ ...published, routingKey: topic, body: Buffer.alloc(0) } as never), attempt: 999_999 };
      const redelivered = redeliveryEnvelope(published as never, delivered, 'q.retry.1000');
      const estimate = headerFrameBytes(m, Buffer.byteLength(topic));
      const largest = Math.max(encoded(published), encoded(redelivered));
      expect(estimate).toBeGreaterThanOrEqual(largest);
      // Slack only from reserving the longest message-id and digit counts, never per header.
      expect(estimate - largest).toBeLessThan(300);
    });
  }

  it('names each message whose metadata exceeds one frame, with its size and the limit, and passes the rest', () => {
    const many = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [i.toString(36).padStart(3, '0'), '']));
    const batch = [message({ id: 'ok' }), message({ id: 'headers', headers: many }), message({ id: 'key', key: 'k'.repeat(140_000) })];
    const problems = publishProblems('t.frame', batch, FRAME_MAX);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^rabbitmq: publish to "t\.frame", message 1 \(id headers\): .* take \d+ bytes .* more than the 131072 bytes one frame may hold/);
    expect(problems[1]).toMatch(/^rabbitmq: publish to "t\.frame", message 2 \(id key\): .* take 14\d{4} bytes/);
  });

  it('accepts a message right at the limit and refuses one byte more', () => {
    const base = headerFrameBytes(message({ key: 'x' }), 1);
    const fits = message({ key: 'x'.repeat(1 + FRAME_MAX - base) });
    expect(headerFrameBytes(fits, 1)).toBe(FRAME_MAX);
    expect(publishProblems('t', [fits], FRAME_MAX)).toEqual([]);
    expect(publishProblems('t', [{ ...fits, key: `${fits.key}x` }], FRAME_MAX)).toHaveLength(1);
  });

  it('still reports reserved and over-long header names, once per message', () => {
    const problems = publishProblems('t', [message({ headers: { 'X-Switchyard-Key': 'k', ['h'.repeat(256)]: 'v', ok: 'y' } })], FRAME_MAX);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('header "X-Switchyard-Key" uses the prefix "x-switchyard-"');
    expect(problems[1]).toContain('is longer than 255 bytes');
  });
});
