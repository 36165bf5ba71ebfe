import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Subscription } from '../../core/transport.ts';
import { Inbox } from '../../testing/inbox.ts';
import { isCorruptLogError, type CorruptLogError } from './errors.ts';
import { spawnOwner } from './fixtures/spawn-owner.ts';
import { embedded, type EmbeddedTransport } from './index.ts';

// With verifyOnOpen: false, closed segments are trusted on open, so damage in one is only met
// when a consumer reads it. That used to be a bare RangeError naming no file — thrown from the
// dispatcher, where it ended the process when a handler's completion or a commit's fsync ran it.

/** A directory whose first (closed) segment has a damaged length field in record `damaged`; returns the file and byte. */
async function damagedLog(damaged: number): Promise<{ dir: string; file: string; position: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-trusted-'));
  const bus = embedded({ dir, segmentBytes: 32 * 1024, share: false });
  for (let i = 0; i < 150; i++) await bus.publish('t', { id: `m-${i}`, payload: Buffer.alloc(500, 1) });
  await bus.close();
  const partitionDir = join(dir, 'topics', 't', '0');
  const file = join(partitionDir, readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort()[0]!);
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(4);
  let position = 0;
  for (let i = 0; i < damaged; i++) {
    readSync(fd, b, 0, 4, position);
    position += 8 + b.readUInt32LE(0);
  }
  readSync(fd, b, 0, 1, position + 1);
  b[0] = b[0]! ^ 0x01; // the length grows by 256: the frame swallows part of the next one
  writeSync(fd, b, 0, 1, position + 1);
  closeSync(fd);
  return { dir, file, position };
}

/** Subscribes one handler at a time, so every read after the first runs from a handler's completion. */
async function consume(bus: EmbeddedTransport, inbox: Inbox): Promise<Subscription> {
  return bus.subscribe('t', { group: 'g', from: 'earliest', concurrency: 1 }, async (m) => inbox.push(m));
}

describe('damage in a segment trusted on open', () => {
  it('delivers the records before it, then ends the subscription with a CorruptLogError naming the file and byte', async () => {
    const { dir, file, position } = await damagedLog(20);
    const bus = embedded({ dir, share: false, verifyOnOpen: false });
    const inbox = new Inbox();
    const sub = await consume(bus, inbox);
    const error = await sub.closed;
    expect(isCorruptLogError(error), String(error)).toBe(true);
    expect(error as CorruptLogError).toMatchObject({ file, position, offset: 20 });
    expect(error!.message).toContain(file);
    expect(inbox.messages.map((m) => m.id)).toEqual(Array.from({ length: 20 }, (_, i) => `m-${i}`));
    // A subscriber meeting the damage at once ends the same way, having received nothing.
    const { dir: other, position: first } = await damagedLog(0);
    const bus2 = embedded({ dir: other, share: false, verifyOnOpen: false });
    const none = new Inbox();
    expect(await (await consume(bus2, none)).closed).toMatchObject({ code: 'CORRUPT_LOG', position: first, offset: 0 });
    expect(none.messages).toEqual([]);
    await bus2.close();
    await bus.close();
  });

  // Compaction stopped at a frame running past the segment's end, and rewrote the segment
  // without the records after it.
  it('is reported by compaction, which leaves the segment as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-trusted-'));
    const options = { dir, share: false, segmentBytes: 32 * 1024, topics: { kv: { compact: true } } };
    const bus = embedded(options);
    for (let i = 0; i < 150; i++) await bus.publish('kv', { id: `m-${String(i).padStart(3, '0')}`, key: `k${i % 10}`, payload: Buffer.alloc(500, 1) });
    await bus.close();
    const file = join(dir, 'topics', 'kv', '0', '00000000000000000000.log');
    const fd = openSync(file, 'r+');
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 0);
    const position = 20 * (8 + b.readUInt32LE(0)); // records of equal size
    readSync(fd, b, 0, 1, position + 2);
    b[0] = b[0]! ^ 0x10; // the length grows by 1 MiB: past the end of the segment
    writeSync(fd, b, 0, 1, position + 2);
    closeSync(fd);
    const before = readFileSync(file);

    const again = embedded({ ...options, verifyOnOpen: false });
    const error = await again.maintain().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCorruptLogError(error), String(error)).toBe(true);
    expect(error as CorruptLogError).toMatchObject({ file, position, offset: 20 });
    expect(readFileSync(file).equals(before)).toBe(true);
    await again.close();
  });

  it('ends the subscription of a process connected through the socket the same way', async () => {
    const { dir, file } = await damagedLog(20);
    const owner = await spawnOwner(dir, 1, { verifyOnOpen: false });
    const client = embedded({ dir });
    try {
      await client.connect();
      expect(client.role).toBe('client');
      const inbox = new Inbox();
      const sub = await consume(client, inbox);
      const error = await sub.closed;
      expect(isCorruptLogError(error), String(error)).toBe(true);
      expect(error!.message).toContain(file);
      expect(inbox.messages.map((m) => m.id)).toEqual(Array.from({ length: 20 }, (_, i) => `m-${i}`));
      // The owner is still there: the connection serves other requests.
      await client.publish('other', { payload: Buffer.from('x') });
    } finally {
      await client.close();
      await owner.stop();
    }
  });
});
