import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { embedded } from './index.ts';

// Regression: opening a directory read segments 4 MiB at a time and sized a read for a whole frame
// only from a header already in memory. A record over 4 MiB at the start of a segment looked cut
// short: in the active segment a torn tail, truncated — a resolved publish of one 5 MiB message
// was gone after a restart — and in a closed one a CorruptLogError that stopped the directory opening.

const MiB = 1024 * 1024;

describe('embedded log with records larger than its 4 MiB read chunk', () => {
  it('keeps a resolved publish of one 5 MiB message across a restart (it was cut off as a torn tail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-large-'));
    let bus = embedded({ dir, share: false });
    await bus.publish('blobs', [{ id: 'only', payload: Buffer.alloc(5 * MiB, 9) }]);
    await bus.close();
    bus = embedded({ dir, share: false });
    const inbox = new Inbox();
    await bus.subscribe('blobs', { group: 'reader', from: 'earliest' }, async (m) => inbox.push(m));
    expect(bus.broker!.recovery).toEqual([]);
    expect((await bus.inspect())[0]!.partitions[0]!.endOffset).toBe(1);
    await inbox.untilCount(1, 10_000);
    expect(inbox.messages[0]!.payload.length).toBe(5 * MiB);
    await bus.close();
  });

  for (const verifyOnOpen of [true, false]) {
    it(`keeps them across a restart, first in a segment or not, in closed and active segments (verifyOnOpen: ${verifyOnOpen})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sy-large-'));
      const options = { dir, share: false, segmentBytes: 8 * MiB, verifyOnOpen };
      // 5 MiB first in segment 0 (closed by the next publish), 6 MiB after 3 MiB of small records
      // in segment 1 (one publish: one segment; closed too), and 9 MiB alone in the active segment.
      const published = [
        [{ id: 'first-in-closed', payload: Buffer.alloc(5 * MiB, 1) }],
        [...Array.from({ length: 3 }, (_, i) => ({ id: `small-${i}`, payload: Buffer.alloc(MiB - 100, 2) })), { id: 'after-small', payload: Buffer.alloc(6 * MiB, 3) }],
        [{ id: 'alone-in-active', payload: Buffer.alloc(9 * MiB, 4) }],
      ];
      let bus = embedded(options);
      for (const batch of published) await bus.publish('blobs', batch);
      await bus.close();

      bus = embedded(options);
      await bus.connect();
      expect(bus.broker!.recovery).toEqual([]); // nothing taken for a torn tail
      const inbox = new Inbox();
      await bus.subscribe('blobs', { group: 'reader', from: 'earliest' }, async (m) => inbox.push(m));
      await inbox.untilCount(6, 20_000);
      const expected = published.flat();
      expect(inbox.messages.map((m) => m.id)).toEqual(expected.map((m) => m.id));
      for (const [i, m] of inbox.messages.entries()) expect(Buffer.from(m.payload).equals(expected[i]!.payload)).toBe(true);
      await bus.close();
    });
  }
});
