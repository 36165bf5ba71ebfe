import { closeSync, mkdtempSync, rmSync, openSync, readdirSync, readSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { isTransportError } from '../../core/errors.ts';
import { isCorruptLogError, type CorruptLogError } from './errors.ts';
import { embedded } from './index.ts';

const temp = (): string => mkdtempSync(join(tmpdir(), 'sy-corrupt-'));

async function fill(dir: string, count: number): Promise<void> {
  const bus = embedded({ dir, segmentBytes: 8 * 1024, share: false });
  for (let i = 0; i < count; i += 20) {
    await bus.publish('orders', Array.from({ length: 20 }, (_, j) => ({ id: `o-${i + j}`, payload: Buffer.alloc(200, 1) })));
  }
  await bus.close();
}

function flip(file: string, position: number): void {
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, position);
  b[0] = b[0]! ^ 0xff;
  writeSync(fd, b, 0, 1, position);
  closeSync(fd);
}

async function readIds(dir: string): Promise<string[]> {
  const bus = embedded({ dir, share: false });
  const inbox = new Inbox();
  await bus.subscribe('orders', { group: `check-${Math.random()}`, from: 'earliest' }, async (m) => inbox.push(m));
  const end = (await bus.inspect()).find((t) => t.topic === 'orders')!.partitions[0]!.endOffset;
  await inbox.untilCount(end, 10_000);
  await bus.close();
  return inbox.messages.map((m) => m.id);
}

describe('embedded log corruption', () => {
  it('refuses to open a closed segment with a flipped byte, naming the file, offset, byte and reason', async () => {
    const dir = temp();
    await fill(dir, 200);
    const partitionDir = join(dir, 'topics', 'orders', '0');
    const segments = readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort();
    expect(segments.length).toBeGreaterThan(3);
    const damaged = join(partitionDir, segments[1]!);
    flip(damaged, 1000); // inside a record of the second (closed) segment
    const bus = embedded({ dir, share: false });
    const error = await bus.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCorruptLogError(error), String(error)).toBe(true);
    const e = error as CorruptLogError;
    expect(e.file).toBe(damaged);
    expect(e.reason).toMatch(/crc/i);
    expect(e.position).toBeLessThanOrEqual(1000);
    expect(e.message).toContain(damaged);
    expect(e.message).toContain(`offset ${e.offset}`);
    await bus.close();

    // Nothing before the damage is lost: cut the segment where the error says and read it all.
    truncateSync(damaged, e.position);
    // Later segments would now follow a gap; move them out of the way for this check.
    for (const later of segments.slice(2)) rmSync(join(partitionDir, later));
    const ids = await readIds(dir);
    expect(ids).toEqual(Array.from({ length: e.offset }, (_, i) => `o-${i}`));
  });

  it('reports damage in the middle of the active segment instead of truncating it as a torn tail', async () => {
    const dir = temp();
    const bus = embedded({ dir, share: false });
    await bus.publish('orders', Array.from({ length: 50 }, (_, i) => ({ id: `o-${i}`, payload: Buffer.alloc(100, 2) })));
    await bus.close();
    const file = join(dir, 'topics', 'orders', '0', readdirSync(join(dir, 'topics', 'orders', '0')).find((f) => f.endsWith('.log'))!);
    const size = statSync(file).size;
    flip(file, Math.floor(size / 2));
    const error = await embedded({ dir, share: false })
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isCorruptLogError(error), String(error)).toBe(true);
    expect(statSync(file).size).toBe(size); // nothing was cut
  });

  // Regression: a frame whose damaged length ran past the end of the file looked like a write cut
  // short, and the acknowledged records after it were cut off silently.
  it('reports a damaged length field in the middle of the active segment, although the frame seems to run past the end', async () => {
    const dir = temp();
    const bus = embedded({ dir, share: false });
    for (let i = 0; i < 50; i++) await bus.publish('orders', { id: `o-${String(i).padStart(2, '0')}`, payload: Buffer.alloc(100, 2) });
    await bus.close();
    const file = join(dir, 'topics', 'orders', '0', '00000000000000000000.log');
    const size = statSync(file).size;
    const frame = size / 50; // records of equal size
    flip(file, 10 * frame + 2); // record 10's length now claims far more than the file holds
    const error = await embedded({ dir, share: false })
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isCorruptLogError(error), String(error)).toBe(true);
    const e = error as CorruptLogError;
    expect(e.position).toBe(10 * frame);
    expect(e.offset).toBe(10);
    expect(e.reason).toContain(`an intact record (offset 11) starts at byte ${11 * frame}: the length field of this record is damaged`);
    expect(statSync(file).size).toBe(size); // nothing was cut
  });

  // Regression: an empty meta.json (its bytes lost in an OS crash with fsync 'never') stopped the
  // broker from opening with a bare "SyntaxError: Unexpected end of JSON input", naming no file.
  it('refuses to open a topic whose settings file is damaged, naming the file and how to write it again', async () => {
    const dir = temp();
    const bus = embedded({ dir, share: false, partitions: 3 });
    await bus.publish('orders', { payload: Buffer.from('x') });
    await bus.close();
    const meta = join(dir, 'topics', 'orders', 'meta.json');
    for (const [contents, problem] of [
      ['', 'it is empty'],
      ['{"name":"orders","parti', 'not the JSON object the broker wrote'],
      ['{"partitions":0}', 'not a whole number ≥ 1'],
    ]) {
      writeFileSync(meta, contents!);
      const error = await embedded({ dir, share: false })
        .connect()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isTransportError(error), String(error)).toBe(true);
      expect((error as Error).message).toContain(meta);
      expect((error as Error).message).toContain(problem);
      expect((error as Error).message).toContain('{"name":"orders","partitions":3}');
    }
  });
});
