// What the fuzzer found, each kept as a regression test. A finding not fixed yet goes here as
// `it.fails(…)` (CI stays green while it is open and turns red the day it is fixed).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { crc32c } from '../../src/transports/embedded/crc32c.ts';
import { isCorruptLogError } from '../../src/transports/embedded/errors.ts';
import { PartitionLog } from '../../src/transports/embedded/partition-log.ts';
import { encodeRecords, FRAME_HEADER } from '../../src/transports/embedded/record.ts';
import { segmentName } from '../../src/transports/embedded/segment.ts';

const root = mkdtempSync(join(tmpdir(), 'sy-findings-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A closed segment of three records whose last one claims `offset`, with its CRC fixed up. */
function segmentWithOffset(offset: number): string {
  const messages = [0, 1, 2].map((i) => ({ id: `id-${i}`, key: '', payload: Buffer.from(`m${i}`), headers: {}, timestamp: 1_700_000_000_000 }));
  const bytes = encodeRecords(messages, 0);
  const second = FRAME_HEADER + bytes.readUInt32LE(0);
  const third = second + FRAME_HEADER + bytes.readUInt32LE(second);
  bytes.writeDoubleLE(offset, third + FRAME_HEADER);
  bytes.writeUInt32LE(crc32c(bytes, third + FRAME_HEADER, bytes.length), third + 4);
  const dir = join(root, String(offset));
  mkdirSync(dir);
  writeFileSync(join(dir, segmentName(0, 'log')), bytes);
  writeFileSync(join(dir, segmentName(100, 'log')), new Uint8Array(0)); // so the damaged one is closed
  return dir;
}

for (const offset of [2.5, 2 ** 60, Number.NaN]) {
  it(`embedded record reader: a CRC-valid record with offset ${offset} is reported as corrupt, not accepted`, async () => {
    const dir = segmentWithOffset(offset);
    let error: unknown;
    try {
      const log = PartitionLog.open(dir, { fsync: 'never', segmentBytes: 1 << 20, batchWindowMs: 0, verifyOnOpen: true });
      await log.close();
    } catch (e) {
      error = e;
    }
    expect(isCorruptLogError(error), `opened a log whose record 2 claims offset ${offset}`).toBe(true);
  });
}
