import { cpSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { PartitionLog } from '../transports/embedded/partition-log.ts';
import { encodeRecords } from '../transports/embedded/record.ts';
import { memoryCheckpointStore } from './checkpoints.ts';
import { embeddedEventStore } from './embedded-event-store.ts';
import type { RecordedEvent } from './event-store.ts';
import { ProjectionRunner } from './projection.ts';

const root = mkdtempSync(join(tmpdir(), 'switchyard-es-torn-'));
let n = 0;
const dir = (): string => join(root, `store-${++n}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The store's one segment file (its log lives in `<dir>/events`). */
function segmentFile(at: string): string {
  const files = readdirSync(join(at, 'events')).filter((f) => f.endsWith('.log'));
  expect(files).toHaveLength(1);
  return join(at, 'events', files[0]!);
}

const summary = (events: readonly RecordedEvent[]): Array<[string, string, number, number]> => events.map((e) => [e.streamId, e.type, e.version, e.position]);

/**
 * A store with `order-1` at version 1 (A) and `order-2` at version 1 (X), then one 3-event append
 * to `order-1` (B, C, D), closed. Returns the segment file's size before and after that append:
 * a power cut or OS crash in the middle of its write leaves the file anywhere between the two.
 */
async function storeWithThreeEventAppend(at: string): Promise<{ file: string; before: number; after: number }> {
  const store = embeddedEventStore({ dir: at });
  await store.appendToStream('order-1', { type: 'A', data: 1 }, { expectedVersion: 'noStream' });
  await store.appendToStream('order-2', { type: 'X', data: 0 }, { expectedVersion: 'noStream' });
  await store.close();
  const file = segmentFile(at);
  const before = statSync(file).size;
  const again = embeddedEventStore({ dir: at });
  await again.appendToStream('order-1', [{ type: 'B', data: 2 }, { type: 'C', data: 3 }, { type: 'D', data: 4 }], { expectedVersion: 1 });
  await again.close();
  return { file, before, after: statSync(file).size };
}

describe('embedded event store: an append cut short by a crash', () => {
  let warnings: MockInstance<typeof process.emitWarning>;
  beforeEach(() => {
    // Captured, not printed: the sweep below reopens hundreds of damaged stores.
    warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  });
  afterEach(() => warnings.mockRestore());

  it('leaves out the whole append when its last event is torn: reads, version, head and the next append agree', async () => {
    const at = dir();
    const { file, before, after } = await storeWithThreeEventAppend(at);
    truncateSync(file, after - Math.floor((after - before) / 6)); // half-way through the last event

    const store = embeddedEventStore({ dir: at });
    expect(await store.streamVersion('order-1')).toBe(1);
    expect(summary(await store.readStream('order-1'))).toEqual([['order-1', 'A', 1, 1]]);
    expect(summary(await store.readStream('order-1', { direction: 'backwards' }))).toEqual([['order-1', 'A', 1, 1]]);
    expect(summary(await store.readAll())).toEqual([['order-1', 'A', 1, 1], ['order-2', 'X', 1, 2]]);
    expect(await store.headPosition()).toBe(2);
    expect(warnings).toHaveBeenCalledTimes(1);
    expect(String(warnings.mock.calls[0]![0])).toMatch(/2 of the 3 events of an append to stream "order-1" \(positions 3–4\).*crash.*left out whole/);

    // The stream is at version 1: an append expecting it lands, after the left-out positions.
    const next = await store.appendToStream('order-1', [{ type: 'E', data: 5 }, { type: 'F', data: 6 }], { expectedVersion: 1 });
    expect(next.nextExpectedVersion).toBe(3);
    expect(next.position).toBe(6);
    const expected = [['order-1', 'A', 1, 1], ['order-1', 'E', 2, 5], ['order-1', 'F', 3, 6]];
    expect(summary(await store.readStream('order-1'))).toEqual(expected);
    await store.close();

    // The left-out records are now in the middle of the log; the next open leaves them out too.
    const reopened = embeddedEventStore({ dir: at });
    expect(summary(await reopened.readStream('order-1'))).toEqual(expected);
    expect(summary(await reopened.readAll())).toEqual([expected[0], ['order-2', 'X', 1, 2], expected[1], expected[2]]);
    expect(summary(await reopened.readAll({ from: 3 }))).toEqual([expected[1], expected[2]]);
    expect(await reopened.headPosition()).toBe(6);
    await reopened.appendToStream('order-1', { type: 'G', data: 7 }, { expectedVersion: 3 });
    await reopened.close();
  });

  it('shows an append whole or not at all wherever the write was cut, frame boundaries included', async () => {
    const pristine = dir();
    const { file, before, after } = await storeWithThreeEventAppend(pristine);
    const relative = file.slice(pristine.length);
    for (let cut = before; cut <= after; cut++) {
      const at = dir();
      cpSync(pristine, at, { recursive: true });
      truncateSync(at + relative, cut);
      const store = embeddedEventStore({ dir: at });
      const types = (await store.readStream('order-1')).map((e) => e.type);
      expect(types, `cut at byte ${cut} of ${before}–${after}`).toEqual(cut === after ? ['A', 'B', 'C', 'D'] : ['A']);
      expect(await store.streamVersion('order-1')).toBe(types.length);
      expect((await store.readAll()).map((e) => e.type)).toEqual([...types.slice(0, 1), 'X', ...types.slice(1)]);
      await store.appendToStream('order-1', { type: 'Z', data: 0 }, { expectedVersion: types.length });
      await store.close();
      rmSync(at, { recursive: true, force: true });
    }
  });

  it('subscriptions and projections never see the left-out events and follow later appends', async () => {
    const at = dir();
    const { file, before, after } = await storeWithThreeEventAppend(at);
    truncateSync(file, before + Math.floor(((after - before) * 2) / 3) + 1); // inside the third event

    const store = embeddedEventStore({ dir: at });
    const seen: RecordedEvent[] = [];
    const subscription = store.subscribe({ from: 'start' }, (event) => void seen.push(event));
    await subscription.caughtUp;
    expect(summary(seen)).toEqual([['order-1', 'A', 1, 1], ['order-2', 'X', 1, 2]]);

    const projected: RecordedEvent[] = [];
    const runner = new ProjectionRunner({ store, projection: { name: 'all', handle: (event) => void projected.push(event) }, checkpoints: memoryCheckpointStore() });
    runner.start();
    await runner.waitForHead();
    expect(summary(projected)).toEqual(summary(seen));

    await store.appendToStream('order-1', { type: 'E', data: 5 }, { expectedVersion: 1 });
    await runner.waitForHead();
    expect(summary(projected)).toEqual([['order-1', 'A', 1, 1], ['order-2', 'X', 1, 2], ['order-1', 'E', 2, 5]]);
    await runner.stop();
    await subscription.close();
    expect(summary(seen)).toEqual(summary(projected));
    await store.close();
  });

  it('opens a store written before appends were marked and reads it as before, a multi-event append included', async () => {
    // The envelope as stores wrote it until now: [type, schemaVersion, version, contentType, metadata].
    const at = dir();
    const log = PartitionLog.open(join(at, 'events'), { fsync: 'batch', segmentBytes: 64 * 1024 * 1024, batchWindowMs: 0, verifyOnOpen: false });
    const legacy = (id: string, stream: string, type: string, version: number): Parameters<typeof encodeRecords>[0][number] => ({
      id,
      key: stream,
      payload: new TextEncoder().encode(JSON.stringify(version)),
      timestamp: 1_700_000_000_000 + version,
      headers: { 'es-event': JSON.stringify([type, 1, version, 'application/json', { correlationId: 'c-1' }]) },
    });
    const batches = [
      [legacy('e1', 'order-1', 'A', 1), legacy('e2', 'order-1', 'B', 2), legacy('e3', 'order-1', 'C', 3)],
      [legacy('e4', 'order-2', 'X', 1)],
    ];
    for (const records of batches) await log.append(encodeRecords(records, log.reserve(records.length)), records.length);
    await log.close();

    const store = embeddedEventStore({ dir: at });
    expect(warnings).not.toHaveBeenCalled();
    const events = await store.readAll();
    expect(summary(events)).toEqual([['order-1', 'A', 1, 1], ['order-1', 'B', 2, 2], ['order-1', 'C', 3, 3], ['order-2', 'X', 1, 4]]);
    expect(events.map((e) => [e.id, e.data, e.metadata, e.timestamp])).toEqual([
      ['e1', 1, { correlationId: 'c-1' }, 1_700_000_000_001],
      ['e2', 2, { correlationId: 'c-1' }, 1_700_000_000_002],
      ['e3', 3, { correlationId: 'c-1' }, 1_700_000_000_003],
      ['e4', 1, { correlationId: 'c-1' }, 1_700_000_000_001],
    ]);
    expect(await store.streamVersion('order-1')).toBe(3);
    expect(await store.headPosition()).toBe(4);
    await store.appendToStream('order-1', [{ type: 'D', data: 4 }, { type: 'E', data: 5 }], { expectedVersion: 3 });
    await store.close();

    const reopened = embeddedEventStore({ dir: at });
    expect(summary(await reopened.readStream('order-1'))).toEqual([
      ['order-1', 'A', 1, 1], ['order-1', 'B', 2, 2], ['order-1', 'C', 3, 3], ['order-1', 'D', 4, 5], ['order-1', 'E', 5, 6],
    ]);
    await reopened.close();
  });
});
