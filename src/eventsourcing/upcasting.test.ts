import { describe, expect, it } from 'vitest';
import { DecodeError, isConfigError } from '../core/errors.ts';
import { createEventStore } from './create-event-store.ts';
import { MemoryEventStorage } from './memory-event-store.ts';
import { memoryCheckpointStore } from './checkpoints.ts';
import { ProjectionRunner } from './projection.ts';
import { defineUpcasters } from './upcasting.ts';

describe('upcasting', () => {
  const upcasters = defineUpcasters({
    NameSet: {
      1: ({ data }) => ({ type: 'NameSet', data: { full: (data as { name: string }).name } }),
      2: ({ data }) => ({ type: 'Renamed', data }),
    },
    Renamed: { 3: ({ data }) => ({ type: 'Renamed', data: { ...(data as object), v: 4 } }) },
  });

  it('chains upcasters from the stored version to the current one, following renames', () => {
    expect(upcasters.currentVersion('NameSet')).toBe(3);
    expect(upcasters.currentVersion('Renamed')).toBe(4);
    expect(upcasters.currentVersion('Other')).toBe(1);
    expect(upcasters.upcast('NameSet', 1, { name: 'Ann' })).toEqual({ type: 'Renamed', data: { full: 'Ann', v: 4 } });
    expect(upcasters.upcast('NameSet', 2, { full: 'Bo' })).toEqual({ type: 'Renamed', data: { full: 'Bo', v: 4 } });
    expect(upcasters.upcast('Renamed', 4, { full: 'Cy', v: 4 })).toEqual({ type: 'Renamed', data: { full: 'Cy', v: 4 } });
  });

  it('applies on read without rewriting what is stored', async () => {
    const storage = new MemoryEventStorage();
    await createEventStore(storage).appendToStream('person-1', { type: 'NameSet', data: { name: 'Ann' } });
    const store = createEventStore(storage, { upcasters });
    const [event] = await store.readStream('person-1');
    expect(event).toMatchObject({ type: 'Renamed', data: { full: 'Ann', v: 4 }, schemaVersion: 1 });
    const [raw] = (await storage.readAll(1, 10, undefined)).events;
    expect(JSON.parse(Buffer.from(raw!.data).toString())).toEqual({ name: 'Ann' });
  });

  it('filters by the type events are read as, on every global read path: readAll, readAllPage, subscribe, projections', async () => {
    const storage = new MemoryEventStorage();
    const legacy = createEventStore(storage);
    for (const name of ['Ann', 'Bo', 'Cy']) {
      await legacy.appendToStream(`person-${name}`, { type: 'NameSet', data: { name } });
      await legacy.appendToStream(`person-${name}`, { type: 'Noise', data: {} });
    }
    const store = createEventStore(storage, { upcasters });
    await store.appendToStream('person-Di', { type: 'Renamed', data: { full: 'Di', v: 4 } });
    const names = (events: readonly { type: string; data: unknown }[]): string[] => events.map((e) => `${e.type} ${(e.data as { full: string }).full}`);
    const all = ['Renamed Ann', 'Renamed Bo', 'Renamed Cy', 'Renamed Di'];
    expect(names(await store.readAll({ filter: { types: ['Renamed'] } }))).toEqual(all);
    expect(await store.readAll({ filter: { types: ['NameSet'] } })).toEqual([]); // nothing reads as NameSet any more
    // A page short of its limit only because events were dropped after upcasting says there may be more.
    const page = await store.readAllPage({ limit: 2, filter: { types: ['NameSet'] } });
    expect({ events: page.events, next: page.next, more: page.more }).toEqual({ events: [], next: 4, more: true });
    const got: { type: string; data: unknown }[] = [];
    const sub = store.subscribe({ filter: { types: ['Renamed'] }, batchSize: 2 }, (event) => void got.push(event));
    await sub.caughtUp;
    await sub.close();
    expect(names(got)).toEqual(all);
    const seen: { type: string; data: unknown }[] = [];
    const runner = new ProjectionRunner({
      store,
      checkpoints: memoryCheckpointStore(),
      batchSize: 2,
      projection: { name: 'names', filter: { types: ['Renamed'] }, handle: (event) => void seen.push(event) },
    });
    runner.start();
    await runner.waitForHead();
    await runner.stop();
    expect(names(seen)).toEqual(all);
  });

  it('an upcaster that throws on an event names that event: stream, id, version, position, type and schema version', async () => {
    const storage = new MemoryEventStorage();
    const legacy = createEventStore(storage);
    await legacy.appendToStream('person-1', { type: 'NameSet', data: { name: 'Ann' } });
    await legacy.appendToStream('person-2', { type: 'NameSet', data: null }); // data v1's upcaster does not expect
    const store = createEventStore(storage, { upcasters });
    const [bad] = await legacy.readStream('person-2');
    const failure = await store.readStream('person-2').then(() => undefined, (error: unknown) => error as Error);
    expect(failure).toBeInstanceOf(DecodeError);
    expect(failure!.message).toContain(`message ${bad!.id} on "person-2"`);
    expect(failure!.message).toMatch(/upcasters of NameSet from schema version 1 threw: .*null.*\(stream version 1, global position 2\)/);
    expect(failure!.cause).toBeInstanceOf(TypeError);
    // A global read stops right before it, the events before it delivered.
    const page = await store.readAllPage({ from: 1 });
    expect(page.events.map((e) => e.streamId)).toEqual(['person-1']);
    expect(page.next).toBe(2);
    expect(page.error?.message).toBe(failure!.message);
  });

  it('reports every bad definition at once', () => {
    const error = (() => {
      try {
        defineUpcasters({ A: { 0: ({ type, data }) => ({ type, data }) }, B: { 1: 'nope' as never } });
      } catch (e) {
        return e;
      }
    })();
    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toMatch(/2 problems/);
  });
});
