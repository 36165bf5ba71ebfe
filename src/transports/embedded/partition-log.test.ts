import { appendFileSync, mkdtempSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NormalizedMessage } from '../../core/message.ts';
import { PartitionLog, type PartitionLogOptions } from './partition-log.ts';
import { encodeRecords } from './record.ts';

const options: PartitionLogOptions = { fsync: 'batch', segmentBytes: 4096, batchWindowMs: 0, verifyOnOpen: true };

function messages(from: number, count: number, size = 100): NormalizedMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `m-${from + i}`,
    key: `k${(from + i) % 5}`,
    payload: Buffer.alloc(size, (from + i) & 0xff),
    headers: { n: String(from + i), 'zaż': 'ółć' },
    timestamp: 1_700_000_000_000 + from + i,
  }));
}

async function append(log: PartitionLog, batch: NormalizedMessage[]): Promise<void> {
  await log.append(encodeRecords(batch, log.reserve(batch.length)), batch.length);
}

function readAll(log: PartitionLog, from = 0): number[] {
  const offsets: number[] = [];
  let offset = from;
  let hint;
  for (;;) {
    const { records, hint: next } = log.read(offset, 100, 64 * 1024, hint);
    if (records.length === 0) return offsets;
    for (const r of records) offsets.push(r.offset);
    offset = records[records.length - 1]!.offset + 1;
    hint = next;
  }
}

const temp = (): string => mkdtempSync(join(tmpdir(), 'sy-plog-'));

describe('PartitionLog', () => {
  it('rolls segments by size and reads every record back, from any offset, through the sparse index', async () => {
    const dir = temp();
    const log = PartitionLog.open(dir, options);
    for (let i = 0; i < 500; i += 50) await append(log, messages(i, 50));
    expect(log.segments.length).toBeGreaterThan(5);
    expect(log.endOffset).toBe(500);
    expect(readAll(log)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    for (const start of [0, 1, 37, 199, 250, 499]) expect(readAll(log, start)[0]).toBe(start);
    const { records } = log.read(321, 1, 1 << 20);
    expect(records[0]!.id).toBe('m-321');
    expect(records[0]!.headers).toEqual({ n: '321', 'zaż': 'ółć' });
    expect(Buffer.from(records[0]!.payload).equals(Buffer.alloc(100, 321 & 0xff))).toBe(true);
    await log.close();
  });

  it('reopens with the same contents, rebuilding missing index files', async () => {
    const dir = temp();
    const log = PartitionLog.open(dir, options);
    for (let i = 0; i < 300; i += 30) await append(log, messages(i, 30));
    await log.close();
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.index')).slice(0, 2)) unlinkSync(join(dir, f));
    let end = 300;
    for (const verifyOnOpen of [true, false]) {
      const again = PartitionLog.open(dir, { ...options, verifyOnOpen });
      expect(again.endOffset).toBe(end);
      expect(readAll(again, 123)).toEqual(Array.from({ length: end - 123 }, (_, i) => 123 + i));
      await append(again, messages(end, 1));
      end++;
      await again.close();
    }
  });

  it('truncates a torn tail on open, keeps every complete record, and accepts new writes', async () => {
    const dir = temp();
    const log = PartitionLog.open(dir, { ...options, segmentBytes: 1 << 20 });
    await append(log, messages(0, 10));
    await log.close();
    const segment = join(dir, readdirSync(dir).find((f) => f.endsWith('.log'))!);
    const size = statSync(segment).size;
    const next = encodeRecords(messages(10, 1), 10);
    appendFileSync(segment, next.subarray(0, next.length - 7)); // a write cut short by a crash
    const again = PartitionLog.open(dir, options);
    expect(again.recovery).toEqual([{ file: segment, truncatedAt: size, droppedBytes: next.length - 7, reason: expect.stringContaining('remain') }]);
    expect(statSync(segment).size).toBe(size);
    expect(again.endOffset).toBe(10);
    await append(again, messages(10, 2));
    expect(readAll(again)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    await again.close();
  });

  it("resolves appends in every fsync mode, and 'always' writes each call on its own", async () => {
    for (const fsync of ['always', 'batch', 'never'] as const) {
      const log = PartitionLog.open(temp(), { ...options, fsync, segmentBytes: 1 << 20 });
      await Promise.all(Array.from({ length: 20 }, (_, i) => append(log, messages(i * 3, 3))));
      expect(log.endOffset).toBe(60);
      expect(readAll(log)).toHaveLength(60);
      await log.close();
    }
  });

  it('starts a large group commit at once, writes the next while it syncs, and shows readers only what is synced', async () => {
    for (const fsync of ['always', 'batch'] as const) {
      const log = PartitionLog.open(temp(), { ...options, fsync, segmentBytes: 4 << 20 });
      const first = append(log, messages(0, 3, 100_000)); // no commit in flight: written and syncing at once
      const second = append(log, messages(3, 3, 100_000)); // waits for the next commit
      expect(log.nextOffset).toBe(3);
      await first;
      // The second commit was written before the first one's publishers woke up; it is not synced yet.
      expect(log.nextOffset).toBe(6);
      expect(log.endOffset).toBe(3);
      expect(readAll(log)).toEqual([0, 1, 2]);
      await second;
      expect(readAll(log)).toEqual([0, 1, 2, 3, 4, 5]);
      await log.close();
    }
  });

  it('gives small appends of one turn of the event loop one group commit', async () => {
    const log = PartitionLog.open(temp(), { ...options, segmentBytes: 1 << 20 });
    const appends = Array.from({ length: 8 }, (_, i) => append(log, messages(i, 1)));
    expect(log.nextOffset).toBe(0); // nothing written yet: the commit waits for the turn to end
    await Promise.all(appends);
    expect(readAll(log)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await log.close();
  });
});
