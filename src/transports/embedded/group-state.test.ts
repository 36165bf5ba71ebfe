import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { embedded } from './index.ts';

describe('embedded consumer groups', () => {
  it('keep their committed positions across a restart of the broker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-groups-'));
    const bus = embedded({ dir, share: false, partitions: 2 });
    const first = new Inbox();
    const sub = await bus.subscribe('orders', { group: 'billing', concurrency: 4 }, async (m) => first.push(m));
    await bus.publish('orders', Array.from({ length: 40 }, (_, i) => ({ id: `o-${i}`, key: `k${i % 8}`, payload: Buffer.from('x') })));
    await first.untilCount(40, 10_000);
    await sub.close();
    // Published while the group has no member: it waits for the group.
    await bus.publish('orders', Array.from({ length: 10 }, (_, i) => ({ id: `later-${i}`, key: `k${i}`, payload: Buffer.from('y') })));
    await bus.close();

    const again = embedded({ dir, share: false });
    const lag = (await again.inspect())[0]!.groups.find((g) => g.group === 'billing')!.lag;
    expect(lag).toBe(10);
    const second = new Inbox();
    await again.subscribe('orders', { group: 'billing' }, async (m) => second.push(m));
    await second.untilCount(10, 10_000);
    expect([...second.ids()].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `later-${i}`).sort());
    await again.close();
  });

  it('redelivers failed messages after redeliveryDelayMs with attempt + 1, without blocking other keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-groups-'));
    const bus = embedded({ dir, share: false, redeliveryDelayMs: 50 });
    const inbox = new Inbox();
    const firstSeen = new Map<string, number>();
    await bus.subscribe('jobs', { group: 'w', concurrency: 2 }, async (m) => {
      if (!firstSeen.has(m.id)) firstSeen.set(m.id, Date.now());
      inbox.push(m);
      if (m.id === 'flaky' && m.attempt < 2) throw new Error('try again');
    });
    await bus.publish('jobs', [
      { id: 'flaky', key: 'a', payload: Buffer.from('1') },
      { id: 'other', key: 'b', payload: Buffer.from('2') },
    ]);
    await inbox.until(() => inbox.messages.some((m) => m.id === 'flaky' && m.attempt === 2), 10_000, () => 'attempt 2');
    const retry = inbox.messages.find((m) => m.id === 'flaky' && m.attempt === 2)!;
    expect(retry.timestamp).toBe(inbox.messages.find((m) => m.id === 'flaky')!.timestamp);
    expect(inbox.messages.findIndex((m) => m.id === 'other')).toBeLessThan(inbox.messages.indexOf(retry));
    await bus.close();
  });

  // Regression: a failed message went back to its group on a timer (the next turn of the event
  // loop), so a subscription of the group opened meanwhile got the messages behind it first; the
  // committed position then stopped below the failed ones while later ones were acknowledged, and
  // a restart handed those out a second time (a DLQ replay pass replayed 50 letters twice).
  it('gives the messages a closing subscription failed to the next subscription of its group first, in order, before those behind them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-groups-'));
    const bus = embedded({ dir, share: false, fsync: 'never' });
    await bus.publish('jobs', Array.from({ length: 6 }, (_, i) => ({ id: `m-${i}`, payload: Buffer.from(String(i)) })));
    const held = new Inbox();
    const release = Promise.withResolvers<void>();
    const first = await bus.subscribe('jobs', { group: 'g', from: 'earliest', concurrency: 2 }, async (m) => {
      held.push(m);
      await release.promise;
      throw new Error('not handled here: handed back');
    });
    await held.untilCount(2, 10_000);
    first.pause();
    release.resolve();
    await first.close();
    const order: string[] = [];
    const second = new Inbox();
    await bus.subscribe('jobs', { group: 'g', from: 'earliest' }, async (m) => {
      order.push(`${m.id}#${m.attempt}`);
      second.push(m);
    });
    await second.untilCount(6, 10_000);
    expect(order).toEqual(['m-0#2', 'm-1#2', 'm-2#1', 'm-3#1', 'm-4#1', 'm-5#1']);
    await bus.close();
  });

  // Regression: read-ahead was bounded by count alone. Records waiting behind a busy key were read
  // 2,000 at a time whatever their size — 2,000 records of 1 MiB held 2 GiB per partition.
  it('reads ahead a bounded number of bytes while a key is busy, then delivers everything in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-groups-'));
    const bus = embedded({ dir, share: false, fsync: 'never' });
    const MiB = 1024 * 1024;
    for (let i = 0; i < 12; i++) await bus.publish('blobs', Array.from({ length: 8 }, (_, j) => ({ id: `b-${i * 8 + j}`, key: 'one', payload: Buffer.alloc(MiB / 2, j) })));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const inbox = new Inbox();
    await bus.subscribe('blobs', { group: 'g', from: 'earliest', concurrency: 4 }, async (m) => {
      inbox.push(m);
      await held; // the key stays busy: the other three slots make the group read further ahead
    });
    await inbox.untilCount(1, 10_000);
    const gp = bus.broker!.topics.get('blobs')!.groups.get('g')!.partitions[0]!;
    let bytes = 0;
    for (const r of gp.records.values()) bytes += r.payload.length;
    expect(bytes).toBeLessThanOrEqual(16 * MiB + MiB); // the limit plus the last read (at most 1 MiB)
    expect(gp.records.size).toBeLessThan(96);
    release();
    await inbox.untilCount(96, 20_000);
    expect(inbox.messages.map((m) => m.id)).toEqual(Array.from({ length: 96 }, (_, i) => `b-${i}`));
    await bus.close();
  });
});
