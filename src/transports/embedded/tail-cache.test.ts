import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NormalizedMessage } from '../../core/message.ts';
import { PartitionLog, type PartitionLogOptions } from './partition-log.ts';
import { encodeRecords, type StoredRecord } from './record.ts';
import { TailCache } from './tail-cache.ts';

const options: PartitionLogOptions = { fsync: 'batch', segmentBytes: 1024 * 1024, batchWindowMs: 0, verifyOnOpen: true };

function messages(from: number, count: number, size: number): NormalizedMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `m-${from + i}`,
    key: `k${(from + i) % 7}`,
    payload: Buffer.alloc(size, (from + i) & 0xff),
    headers: { n: String(from + i) },
    timestamp: 1_700_000_000_000 + from + i,
  }));
}

/** Every record from `from`, read the way the broker does: `maxRecords`/`maxBytes` at a time, following hints. */
function readFrom(log: PartitionLog, from: number, maxRecords: number, maxBytes: number): StoredRecord[] {
  const all: StoredRecord[] = [];
  let offset = from;
  let hint;
  for (;;) {
    const { records, hint: next } = log.read(offset, maxRecords, maxBytes, hint);
    if (records.length === 0) return all;
    all.push(...records);
    offset = records[records.length - 1]!.offset + 1;
    hint = next;
  }
}

const plain = (records: StoredRecord[]): unknown[] => records.map((r) => ({ ...r, payload: Buffer.from(r.payload).toString('hex') }));

describe('TailCache', () => {
  it('keeps the two newest blocks of contiguous frames and forgets everything at a gap or an oversized batch', () => {
    const cache = new TailCache(100);
    const chunk = (n: number): Buffer => Buffer.alloc(n, n);
    cache.add(0, chunk(40));
    cache.add(40, chunk(40));
    expect(cache.has(0)).toBe(true);
    cache.add(80, chunk(40)); // second block
    cache.add(120, chunk(40));
    cache.add(160, chunk(40)); // third block: the first goes
    expect([cache.has(0), cache.has(80), cache.has(160), cache.has(200)]).toEqual([false, true, true, false]);
    const seen: number[] = [];
    cache.visit(120, (bytes, from, to) => (seen.push(...bytes.subarray(from, to)), true));
    expect(seen).toEqual([...chunk(40), ...chunk(40)].map(() => 40));
    cache.add(300, chunk(10)); // not where the last one ended
    expect([cache.has(160), cache.has(300)]).toEqual([false, true]);
    cache.add(310, chunk(60)); // more than half a block: not copied, nothing before it kept
    expect([cache.has(300), cache.has(310)]).toEqual([false, false]);
    cache.add(370, chunk(10));
    expect(cache.has(370)).toBe(true);
  });

  it('a segment read served from the tail gives exactly the records a read of the file gives, with any limits and starting points', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-tail-'));
    try {
      const log = PartitionLog.open(dir, options);
      let n = 0;
      // Small batches (kept in the tail) and a few large ones (not copied), interleaved.
      for (const [count, size] of [[3, 50], [1, 700], [40, 200], [2, 30_000], [25, 90], [1, 10], [60, 100], [30, 100], [50, 60]] as const) {
        const batch = messages(n, count, size);
        await log.append(encodeRecords(batch, log.reserve(count)), count);
        n += count;
      }
      const starts = [[0, 1000, 1024 * 1024], [0, 7, 1024], [44, 3, 500], [100, 1000, 64], [n - 5, 2, 1024 * 1024]] as const;
      const cached = starts.map(([from, maxRecords, maxBytes]) => plain(readFrom(log, from, maxRecords, maxBytes)));
      await log.close();
      const reopened = PartitionLog.open(dir, options); // nothing kept in memory: every read goes to the file
      starts.forEach(([from, maxRecords, maxBytes], i) => {
        const fromFile = plain(readFrom(reopened, from, maxRecords, maxBytes));
        expect(fromFile.length).toBe(n - from);
        expect(cached[i]).toEqual(fromFile);
      });
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
