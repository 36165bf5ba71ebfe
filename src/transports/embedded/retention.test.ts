import { mkdtempSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { embedded } from './index.ts';

const temp = (): string => mkdtempSync(join(tmpdir(), 'sy-retention-'));
const segmentFiles = (dir: string, topic: string): string[] => readdirSync(join(dir, 'topics', topic, '0')).filter((f) => f.endsWith('.log'));

describe('embedded retention', () => {
  it('deletes the oldest whole segments beyond maxBytes, keeping the newest, and consumers skip to what remains', async () => {
    const dir = temp();
    const bus = embedded({ dir, share: false, segmentBytes: 4096, topics: { logs: { retention: { maxBytes: 16 * 1024 } } } });
    for (let i = 0; i < 400; i += 20) {
      await bus.publish('logs', Array.from({ length: 20 }, (_, j) => ({ id: `l-${i + j}`, payload: Buffer.alloc(200, 7) })));
    }
    const before = segmentFiles(dir, 'logs').length;
    const { deletedSegments } = await bus.maintain();
    expect(deletedSegments).toBeGreaterThan(0);
    expect(segmentFiles(dir, 'logs').length).toBe(before - deletedSegments);
    const [info] = (await bus.inspect()).filter((t) => t.topic === 'logs');
    const p = info!.partitions[0]!;
    expect(p.bytes).toBeGreaterThanOrEqual(16 * 1024);
    expect(p.bytes).toBeLessThan(16 * 1024 + 4096 + 512);
    expect(p.endOffset).toBe(400);
    expect(p.startOffset).toBeGreaterThan(0);
    const inbox = new Inbox();
    await bus.subscribe('logs', { group: 'late', from: 'earliest' }, async (m) => inbox.push(m));
    await inbox.untilCount(400 - p.startOffset, 10_000);
    expect(inbox.messages[0]!.id).toBe(`l-${p.startOffset}`);
    expect(inbox.messages.at(-1)!.id).toBe('l-399');
    await bus.close();
  });

  it('deletes segments whose newest record is older than maxAgeMs, never the active one, and survives reopen', async () => {
    const dir = temp();
    const bus = embedded({ dir, share: false, segmentBytes: 4096, retention: { maxAgeMs: 60_000 } });
    for (let i = 0; i < 200; i += 20) {
      await bus.publish('events', Array.from({ length: 20 }, (_, j) => ({ id: `e-${i + j}`, payload: Buffer.alloc(200, 1) })));
    }
    const segments = segmentFiles(dir, 'events').length;
    expect(segments).toBeGreaterThan(2);
    expect((await bus.maintain()).deletedSegments).toBe(0); // nothing is old yet
    const broker = bus.broker!;
    expect(broker.maintain(Date.now() + 61_000).deletedSegments).toBe(segments - 1);
    expect(segmentFiles(dir, 'events')).toHaveLength(1);
    await bus.close();
    const again = embedded({ dir, share: false });
    const [info] = await again.inspect();
    expect(info!.partitions[0]!.endOffset).toBe(200);
    await again.publish('events', { id: 'e-200', payload: Buffer.from('new') });
    expect((await again.inspect())[0]!.partitions[0]!.endOffset).toBe(201);
    await again.close();
  });

  it('passes over empty closed segments (left by compaction in earlier versions) when deleting by age', async () => {
    const dir = temp();
    const bus = embedded({ dir, share: false, segmentBytes: 4096 });
    for (let i = 0; i < 200; i += 20) {
      await bus.publish('events', Array.from({ length: 20 }, (_, j) => ({ id: `e-${i + j}`, payload: Buffer.alloc(200, 1) })));
    }
    await bus.close();
    const partitionDir = join(dir, 'topics', 'events', '0');
    const segments = segmentFiles(dir, 'events').sort();
    expect(segments.length).toBeGreaterThan(3);
    // What compaction used to leave: the oldest segments rewritten to nothing, with empty indexes.
    for (const name of segments.slice(0, 2)) {
      truncateSync(join(partitionDir, name), 0);
      writeFileSync(join(partitionDir, name.replace('.log', '.index')), '');
    }
    const again = embedded({ dir, share: false, retention: { maxAgeMs: 60_000 } });
    await again.connect();
    expect(again.broker!.maintain(Date.now() + 61_000).deletedSegments).toBe(segments.length - 1);
    expect(segmentFiles(dir, 'events')).toEqual([segments.at(-1)]);
    expect((await again.inspect())[0]!.partitions[0]!.endOffset).toBe(200);
    await again.close();
  });
});
