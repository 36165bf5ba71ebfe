import { describe, expect, it } from 'vitest';
import type { NormalizedMessage } from '../../core/message.ts';
import { FrameSplitter, Op, publishFrame, type FrameReader } from './wire-protocol.ts';

const message = (i: number, size: number): NormalizedMessage => ({
  id: `id-${i}`,
  key: i % 2 ? `k-${i}-ł` : '',
  payload: Buffer.alloc(size, i & 0xff),
  headers: { 'content-type': 'text/plain', n: String(i) },
  timestamp: 1_700_000_000_000 + i,
});

function collect(): { splitter: FrameSplitter; frames: Array<{ type: number; topic: string; ids: string[]; sizes: number[] }> } {
  const frames: Array<{ type: number; topic: string; ids: string[]; sizes: number[] }> = [];
  const splitter = new FrameSplitter((type: number, r: FrameReader) => {
    r.u32();
    const topic = r.str16();
    r.u32();
    const records = r.records();
    frames.push({ type, topic, ids: records.map((x) => x.id), sizes: records.map((x) => x.payload.length) });
  });
  return { splitter, frames };
}

describe('wire protocol framing', () => {
  it('reassembles frames split at every byte, and splits many frames arriving in one chunk', () => {
    const a = publishFrame(1, 'orders.placed', [message(1, 10), message(2, 0)]);
    const b = publishFrame(2, 'zażółć', [message(3, 300)]);
    const bytewise = collect();
    for (const byte of Buffer.concat([a, b])) bytewise.splitter.push(Buffer.of(byte));
    const together = collect();
    together.splitter.push(Buffer.concat([a, b, a]));
    for (const { frames } of [bytewise, together]) {
      expect(frames[0]).toEqual({ type: Op.publish, topic: 'orders.placed', ids: ['id-1', 'id-2'], sizes: [10, 0] });
      expect(frames[1]).toEqual({ type: Op.publish, topic: 'zażółć', ids: ['id-3'], sizes: [300] });
    }
    expect(together.frames).toHaveLength(3);
  });

  it('carries a large frame arriving in many chunks without losing bytes', () => {
    const big = publishFrame(7, 't', [message(9, 5 * 1024 * 1024)]);
    const { splitter, frames } = collect();
    for (let i = 0; i < big.length; i += 65_536) splitter.push(big.subarray(i, i + 65_536));
    expect(frames).toEqual([{ type: Op.publish, topic: 't', ids: ['id-9'], sizes: [5 * 1024 * 1024] }]);
  });
});
