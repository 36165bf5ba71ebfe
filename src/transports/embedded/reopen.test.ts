import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { embedded } from './index.ts';

// Regression: while a transport closed, another one of the same process opening the directory
// found the lock naming its own pid, took it for a dead owner's and took over; two brokers then
// wrote the same segment files (offsets repeated: the next open failed with CorruptLogError), and
// the first broker's release deleted the second one's lock.

const payload = Buffer.alloc(1024, 7);

describe('reopening a data directory in the process that is closing it', () => {
  it('waits for the closing broker to release the directory, then owns it alone', async () => {
    // The close is caught at successive turns of the event loop: the first broker is still
    // syncing a large commit, which keeps it open for several turns after the close began.
    for (const turns of [0, 1, 2, 4, 8, 16]) {
      const dir = mkdtempSync(join(tmpdir(), 'sy-reopen-'));
      const a = embedded({ dir, fsync: 'always', share: false });
      await a.publish('t', { id: 'first', payload });
      const aBroker = a.broker!;
      // Straight to the broker: the transport's close does not wait for it before releasing.
      const syncing = aBroker.publish('t', Array.from({ length: 2000 }, (_, i) => ({ id: `a-${i}`, key: '', headers: {}, payload, timestamp: Date.now() })));
      const closing = a.close();
      for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));

      const b = embedded({ dir, fsync: 'always', share: false });
      await b.connect();
      expect(b.role).toBe('owner');
      if (b.broker !== aBroker) {
        // A broker of its own: only once the first one was closed.
        await expect(aBroker.publish('t', [{ id: 'late', key: '', headers: {}, payload, timestamp: Date.now() }])).rejects.toThrow(/closed/);
      }
      await syncing;
      await closing;
      await b.publish('t', Array.from({ length: 5 }, (_, i) => ({ id: `b-${i}`, payload })));
      // The first transport's close left the lock of the broker that owns the directory now.
      expect(Number.parseInt(readFileSync(join(dir, 'owner.lock'), 'utf8'), 10)).toBe(process.pid);
      await b.close();
      expect(existsSync(join(dir, 'owner.lock'))).toBe(false);

      const c = embedded({ dir, share: false });
      const inbox = new Inbox();
      await c.subscribe('t', { group: 'check', from: 'earliest' }, async (m) => inbox.push(m));
      await inbox.untilCount(2006, 10_000);
      expect(inbox.messages.map((m) => Number(m.offset))).toEqual(Array.from({ length: 2006 }, (_, i) => i));
      expect(inbox.messages.at(-1)!.id).toBe('b-4');
      await c.close();
    }
  });
});
