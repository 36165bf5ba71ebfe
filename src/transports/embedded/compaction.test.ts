import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../core/message.ts';
import { Inbox } from '../../testing/inbox.ts';
import { embedded, tombstone } from './index.ts';

const temp = (): string => mkdtempSync(join(tmpdir(), 'sy-compact-'));

async function readAll(bus: ReturnType<typeof embedded>, topic: string): Promise<Message[]> {
  const inbox = new Inbox();
  const sub = await bus.subscribe(topic, { group: `read-${Math.random()}`, from: 'earliest' }, async (m) => inbox.push(m));
  const info = (await bus.inspect()).find((t) => t.topic === topic)!;
  await inbox.until(
    () => inbox.messages.some((m) => Number(m.offset) === info.partitions[0]!.endOffset - 1),
    10_000,
    () => 'the last record',
  );
  await sub.close();
  return inbox.messages;
}

describe('embedded compaction', () => {
  it('keeps only the latest record per key in closed segments, removes tombstoned keys, and keeps offsets', async () => {
    const dir = temp();
    const bus = embedded({ dir, share: false, segmentBytes: 4096, tombstoneRetentionMs: 0, topics: { 'customers.state': { compact: true } } });
    for (let v = 0; v < 20; v++) {
      await bus.publish(
        'customers.state',
        Array.from({ length: 10 }, (_, k) => ({ key: `c${k}`, payload: Buffer.from(JSON.stringify({ v, pad: 'x'.repeat(100) })) })),
      );
    }
    await bus.publish('customers.state', tombstone('c3'));
    await bus.publish('customers.state', Array.from({ length: 30 }, (_, i) => ({ key: `filler-${i}`, payload: Buffer.alloc(150, 1) })));
    const partitionDir = join(dir, 'topics', 'customers.state', '0');
    const sizeBefore = readdirSync(partitionDir).filter((f) => f.endsWith('.log')).reduce((n, f) => n + statSync(join(partitionDir, f)).size, 0);

    const { compactedSegments } = await bus.maintain();
    expect(compactedSegments).toBeGreaterThan(0);
    const sizeAfter = readdirSync(partitionDir).filter((f) => f.endsWith('.log')).reduce((n, f) => n + statSync(join(partitionDir, f)).size, 0);
    expect(sizeAfter).toBeLessThan(sizeBefore / 2);

    const check = (messages: Message[]): void => {
      const latest = new Map<string, Message>();
      for (const m of messages) latest.set(m.key, m);
      expect(messages.filter((m) => m.key === 'c0')).toHaveLength(1); // superseded versions are gone
      for (let k = 0; k < 10; k++) {
        if (k === 3) continue;
        expect(JSON.parse(Buffer.from(latest.get(`c${k}`)!.payload).toString()).v).toBe(19);
      }
      expect(latest.has('c3')).toBe(false); // tombstone (past its retention) and the key are gone
      const offsets = messages.map((m) => Number(m.offset));
      expect(offsets.at(-1)).toBe(20 * 10 + 1 + 30 - 1); // offsets are kept, with gaps
      expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
    };
    check(await readAll(bus, 'customers.state'));
    await bus.close();

    // The compacted files reopen cleanly (CRCs intact) and read the same.
    const again = embedded({ dir, share: false });
    check(await readAll(again, 'customers.state'));
    await again.publish('customers.state', { key: 'c0', payload: Buffer.from(JSON.stringify({ v: 20 })) });
    await again.close();
  });

  it('lets a group that committed before compaction continue past the gaps', async () => {
    const dir = temp();
    const bus = embedded({ dir, share: false, segmentBytes: 2048, tombstoneRetentionMs: 0, topics: { kv: { compact: true } } });
    const first = new Inbox();
    const sub = await bus.subscribe('kv', { group: 'g', from: 'earliest' }, async (m) => first.push(m));
    await bus.publish('kv', Array.from({ length: 10 }, (_, i) => ({ key: 'same', payload: Buffer.alloc(100, i) })));
    await first.untilCount(10, 10_000);
    await sub.close();
    await bus.publish('kv', Array.from({ length: 60 }, (_, i) => ({ key: i % 2 ? 'a' : 'b', payload: Buffer.alloc(100, i) })));
    await bus.maintain();
    const rest = new Inbox();
    await bus.subscribe('kv', { group: 'g' }, async (m) => rest.push(m));
    await rest.until(() => rest.messages.some((m) => m.offset === '69'), 10_000, () => 'offset 69');
    expect(rest.messages.every((m) => Number(m.offset) >= 10)).toBe(true);
    await bus.close();
  });
});
