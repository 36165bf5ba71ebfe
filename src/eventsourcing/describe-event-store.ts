import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { isConcurrencyError, isConfigError, type ConcurrencyError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import { memory } from '../transports/memory/index.ts';
import { Inbox } from '../testing/inbox.ts';
import type { CheckpointStore } from './checkpoints.ts';
import { commandHandler } from './command-handler.ts';
import type { EventStoreOptions } from './create-event-store.ts';
import { evolveAll, type Decider } from './decider.ts';
import type { DomainEvent, EventStore, RecordedEvent } from './event-store.ts';
import { loadAggregate } from './load-aggregate.ts';
import { ProjectionRunner, type Projection } from './projection.ts';
import { EVENT_HEADERS } from './publish.ts';
import { resolveSnapshots, type SnapshotStore } from './snapshots.ts';
import { defineUpcasters } from './upcasting.ts';

/** What `describeEventStore` needs from a backend: a store, and its snapshot and checkpoint stores. */
export interface EventStoreHarness {
  store: EventStore;
  snapshots: SnapshotStore;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the suite's read models do not use the unit of work
  checkpoints: CheckpointStore<any>;
}

export interface EventStoreSuiteOptions {
  /** Per-case time limit in ms. Default 60,000. */
  timeoutMs?: number;
  /** Cases to skip, each with the reason printed in the test name. */
  skip?: Record<string, string>;
}

type Added = DomainEvent<'Added', { by: number }>;
type Reset = DomainEvent<'Reset', { to: number }>;
type CounterEvent = Added | Reset;
interface CounterState {
  total: number;
  count: number;
  history: number[];
}
type CounterCommand = { type: 'add'; by: number } | { type: 'reset'; to: number };

/** A small decider the suite drives: a counter that remembers every value it had. */
const counter: Decider<CounterState, CounterCommand, CounterEvent> = {
  initialState: () => ({ total: 0, count: 0, history: [] }),
  decide: (command) => (command.type === 'add' ? [{ type: 'Added', data: { by: command.by } }] : [{ type: 'Reset', data: { to: command.to } }]),
  evolve: (state, event) => {
    const total = event.type === 'Added' ? state.total + event.data.by : event.data.to;
    return { total, count: state.count + 1, history: [...state.history, total] };
  },
};

/** A deterministic pseudo-random sequence (mulberry32), so a failing history can be reproduced from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The suite every event store backend runs: appends and optimistic concurrency, reads by
 * stream and by global position, subscriptions, upcasting, publishing, concurrent writers,
 * snapshots and projection rebuilds. A third-party backend runs it too.
 *
 * @param name - shown in the suite title
 * @param factory - makes a fresh harness over the backend's storage; called once or more per
 *   case with the store options that case needs. Stores are closed after each case.
 *
 * @example
 * ```ts
 * import { describeEventStore } from 'switchyard/testing';
 * import { memoryEventStore, memorySnapshotStore, memoryCheckpointStore } from 'switchyard/eventsourcing';
 * describeEventStore('memory', (options) => ({
 *   store: memoryEventStore(options), snapshots: memorySnapshotStore(), checkpoints: memoryCheckpointStore(),
 * }));
 * ```
 */
export function describeEventStore(
  name: string,
  factory: (options: EventStoreOptions) => EventStoreHarness | Promise<EventStoreHarness>,
  suiteOptions: EventStoreSuiteOptions = {},
): void {
  const timeoutMs = suiteOptions.timeoutMs ?? 60_000;
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  let n = 0;
  const open: Array<{ close(): Promise<void> }> = [];
  /** A category no other case (or run) uses: letters and digits only, no dash. */
  const category = (slug: string): string => `${slug}${run}x${++n}`;

  async function harness(options: EventStoreOptions = {}): Promise<EventStoreHarness> {
    const h = await factory(options);
    open.push(h.store);
    return h;
  }

  function test(id: string, title: string, fn: () => Promise<void>): void {
    const reason = suiteOptions.skip?.[id];
    if (reason) it.skip(`${title} — skipped: ${reason}`, fn);
    else it(title, fn, timeoutMs);
  }

  describe(`${name} event store`, () => {
    afterEach(async () => {
      for (const item of open.splice(0).toReversed()) await item.close().catch(() => undefined);
    });

    test('round-trip', 'appends events and reads them back with ids, data, metadata, versions, positions and timestamps', async () => {
      const { store } = await harness();
      const stream = `${category('rt')}-1`;
      const before = Date.now();
      const result = await store.appendToStream(
        stream,
        [
          { type: 'Added', data: { by: 1, note: 'zażółć 🚀' }, metadata: { correlationId: 'c-1', causationId: 'cmd-1', user: 'ann' } },
          { id: 'my-own-id', type: 'Added', data: { by: 2 } },
          { type: 'Reset', data: { to: 0 } },
        ],
        { expectedVersion: 'noStream' },
      );
      expect(result.nextExpectedVersion).toBe(3);
      const events = await store.readStream(stream);
      expect(events.map((e) => [e.type, e.version, e.streamId])).toEqual([
        ['Added', 1, stream],
        ['Added', 2, stream],
        ['Reset', 3, stream],
      ]);
      expect(events[0]!.data).toEqual({ by: 1, note: 'zażółć 🚀' });
      expect(events[0]!.metadata).toEqual({ correlationId: 'c-1', causationId: 'cmd-1', user: 'ann' });
      expect(events[1]!.id).toBe('my-own-id');
      expect(events[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(events[0]!.position).toBeLessThan(events[1]!.position);
      expect(events[1]!.position).toBeLessThan(events[2]!.position);
      expect(result.position).toBe(events[2]!.position);
      expect(events[0]!.timestamp).toBeGreaterThanOrEqual(before - 1_000);
      expect(events[0]!.schemaVersion).toBe(1);
      expect(result.events.map((e) => e.id)).toEqual(events.map((e) => e.id));
      expect(await store.streamVersion(stream)).toBe(3);
      expect(await store.streamVersion(`${stream}-missing`)).toBe(0);
      expect(await store.readStream(`${stream}-missing`)).toEqual([]);
    });

    test('expected-version', "checks 'noStream', 'exists', 'any' and exact versions, naming expected and actual versions on conflict", async () => {
      const { store } = await harness();
      const stream = `${category('ev')}-1`;
      const e = { type: 'Added', data: { by: 1 } };
      const conflict = async (promise: Promise<unknown>): Promise<ConcurrencyError> => {
        const error = await promise.then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(isConcurrencyError(error), `expected a ConcurrencyError, got ${String(error)}`).toBe(true);
        return error as ConcurrencyError;
      };
      const exists = await conflict(store.appendToStream(stream, e, { expectedVersion: 'exists' }));
      expect(exists.expected).toBe('exists');
      expect(exists.actual).toBe(0);
      const wrong = await conflict(store.appendToStream(stream, e, { expectedVersion: 3 }));
      expect(wrong.message).toContain(stream);
      expect([wrong.expected, wrong.actual]).toEqual([3, 0]);
      await store.appendToStream(stream, e, { expectedVersion: 'noStream' });
      const again = await conflict(store.appendToStream(stream, e, { expectedVersion: 'noStream' }));
      expect(again.expected).toBe('noStream');
      expect(again.actual).toBe(1);
      await store.appendToStream(stream, e, { expectedVersion: 'exists' });
      await store.appendToStream(stream, e, { expectedVersion: 2 });
      const stale = await conflict(store.appendToStream(stream, e, { expectedVersion: 2 }));
      expect(stale.expected).toBe(2);
      expect(stale.actual).toBe(3);
      expect(stale.message).toMatch(/expected version 2, found 3/);
      await store.appendToStream(stream, e, { expectedVersion: 'any' });
      await store.appendToStream(stream, e);
      expect(await store.streamVersion(stream)).toBe(5);
      // A failed append writes nothing.
      await conflict(store.appendToStream(stream, [e, e, e], { expectedVersion: 1 }));
      expect((await store.readStream(stream)).length).toBe(5);
      // An empty append only checks.
      expect((await store.appendToStream(stream, [], { expectedVersion: 5 })).nextExpectedVersion).toBe(5);
      await conflict(store.appendToStream(stream, [], { expectedVersion: 4 }));
    });

    test('read-stream', 'reads a stream forwards and backwards, from a version, with a limit, and never returns other streams', async () => {
      const { store } = await harness();
      const cat = category('rs');
      const [a, b] = [`${cat}-a`, `${cat}-b`];
      for (let i = 1; i <= 10; i++) {
        await store.appendToStream(a, { type: 'Added', data: { by: i } });
        await store.appendToStream(b, { type: 'Added', data: { by: -i } });
      }
      const versions = (events: RecordedEvent[]): number[] => events.map((e) => e.version);
      expect(versions(await store.readStream(a))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect((await store.readStream(a)).every((e) => e.streamId === a)).toBe(true);
      expect(versions(await store.readStream(a, { from: 4, limit: 3 }))).toEqual([4, 5, 6]);
      expect(versions(await store.readStream(a, { direction: 'backwards', limit: 3 }))).toEqual([10, 9, 8]);
      expect(versions(await store.readStream(a, { direction: 'backwards', from: 2 }))).toEqual([2, 1]);
      expect(versions(await store.readStream(a, { from: 11 }))).toEqual([]);
      expect((await store.readStream(b, { from: 10 }))[0]!.data).toEqual({ by: -10 });
    });

    test('read-all', 'reads every stream in global-position order, from a position, with a limit and filters', async () => {
      const { store } = await harness();
      const start = (await store.headPosition()) + 1;
      const [x, y] = [category('ra'), category('rb')];
      for (let i = 0; i < 6; i++) {
        await store.appendToStream(`${x}-${i % 2}`, { type: i % 3 === 0 ? 'Reset' : 'Added', data: { i } });
        await store.appendToStream(`${y}-1`, { type: 'Added', data: { i } });
      }
      const all = (await store.readAll({ from: start })).filter((e) => e.streamId.startsWith(x) || e.streamId.startsWith(y));
      expect(all.length).toBe(12);
      expect(all.map((e) => e.position)).toEqual(all.map((e) => e.position).toSorted((p, q) => p - q));
      expect(all.map((e) => (e.data as { i: number }).i)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
      const cat = await store.readAll({ from: start, filter: { category: x } });
      expect(cat.length).toBe(6);
      expect(cat.every((e) => e.streamId.startsWith(`${x}-`))).toBe(true);
      const resets = await store.readAll({ from: start, filter: { category: [x, y], types: ['Reset'] } });
      expect(resets.map((e) => (e.data as { i: number }).i)).toEqual([0, 3]);
      expect((await store.readAll({ from: start, filter: { streamPrefix: `${x}-1` } })).length).toBe(3);
      const page = await store.readAllPage({ from: start, limit: 5 });
      expect(page.events.length).toBe(5);
      expect(page.next).toBe(page.events[4]!.position + 1);
      const rest = await store.readAll({ from: page.next, filter: { category: [x, y] } });
      expect([...page.events, ...rest].map((e) => e.id)).toEqual(all.map((e) => e.id));
      // A filtered page that runs out says where to continue: past the head.
      const head = await store.headPosition();
      const none = await store.readAllPage({ from: start, filter: { category: category('nothing') } });
      expect(none.events).toEqual([]);
      expect(none.next).toBe(head + 1);
    });

    test('subscribe', 'a subscription catches up on stored events, then delivers new ones live, filtered, in order', async () => {
      const { store } = await harness();
      const cat = category('sub');
      const start = (await store.headPosition()) + 1;
      for (let i = 0; i < 5; i++) await store.appendToStream(`${cat}-${i % 2}`, { type: 'Added', data: { i } });
      const got: RecordedEvent[] = [];
      const inbox = new Inbox();
      const sub = store.subscribe({ from: start, filter: { category: cat }, batchSize: 2 }, (event) => {
        got.push(event);
        inbox.notify();
      });
      await sub.caughtUp;
      expect(got.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4]);
      const fromEnd: RecordedEvent[] = [];
      const live = store.subscribe({ from: 'end', filter: { category: cat } }, (event) => void fromEnd.push(event));
      await live.caughtUp;
      for (let i = 5; i < 10; i++) {
        await store.appendToStream(`${cat}-${i % 2}`, { type: 'Added', data: { i } });
        await store.appendToStream(`${category('other')}-1`, { type: 'Added', data: { i } });
      }
      await inbox.until(() => got.length >= 10 && fromEnd.length >= 5, timeoutMs - 5_000, () => `10 + 5 events (got ${got.length} and ${fromEnd.length})`);
      expect(got.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(fromEnd.map((e) => (e.data as { i: number }).i)).toEqual([5, 6, 7, 8, 9]);
      await sub.close();
      await live.close();
      expect(await sub.closed).toBeUndefined();
      // A handler that throws ends its subscription with that error.
      const failing = store.subscribe({ from: start }, () => {
        throw new Error('projection bug');
      });
      expect((await failing.closed)?.message).toBe('projection bug');
    });

    test('selective-filter', 'a subscription and a projection filtering for a rare type reach it behind more than 10,000 other events', async () => {
      const { store, checkpoints } = await harness();
      const cat = category('rare');
      const rare = `Rare${cat}`;
      const start = await store.headPosition();
      // Memory and embedded backends look at 10,000 events per read at most: a reader must not
      // take that short (here empty) page for the head and wait for an append that never comes.
      const filler = Array.from({ length: 500 }, (_, i) => ({ type: 'Added', data: { by: i } }));
      for (let i = 0; i < 21; i++) await store.appendToStream(`${cat}-filler`, filler);
      await store.appendToStream(`${cat}-1`, { type: rare, data: { by: 1 } });
      const got: RecordedEvent[] = [];
      const sub = store.subscribe({ from: start + 1, filter: { types: [rare] } }, (event) => void got.push(event));
      open.push(sub);
      await sub.caughtUp;
      expect(got.map((e) => e.streamId)).toEqual([`${cat}-1`]);
      const inbox = new Inbox();
      const seen: RecordedEvent[] = [];
      const projection: Projection = {
        name: `rare-${cat}`,
        filter: { types: [rare] },
        handle(event) {
          seen.push(event);
          inbox.notify();
        },
      };
      await checkpoints.transaction(async (tx) => {
        await checkpoints.load(projection.name, tx);
        await checkpoints.save(projection.name, start, tx);
      });
      const runner = new ProjectionRunner({ store, projection, checkpoints });
      open.push({ close: () => runner.stop() });
      runner.start();
      await inbox.until(() => seen.length > 0, timeoutMs / 2, () => `the ${rare} event (projection: ${JSON.stringify(seen)})`);
      await runner.waitForHead();
      expect(seen.map((e) => e.streamId)).toEqual([`${cat}-1`]);
    });

    test('invalid-input', 'rejects invalid input with a ConfigError naming every problem, writing nothing', async () => {
      const { store } = await harness();
      const stream = `${category('bad')}-1`;
      const error = await store
        .appendToStream(stream, [{ type: '', data: 1 }, { type: 'Ok', data: 1, metadata: { n: 1 as unknown as string } }], { expectedVersion: -1 })
        .catch((err: unknown) => err);
      expect(isConfigError(error)).toBe(true);
      expect((error as Error).message).toMatch(/expectedVersion/);
      expect((error as Error).message).toMatch(/type must be a non-empty string/);
      expect((error as Error).message).toMatch(/metadata "n" must be a string/);
      expect(isConfigError(await store.appendToStream('', { type: 'A', data: 1 }).catch((err: unknown) => err))).toBe(true);
      expect(isConfigError(await store.readStream(stream, { limit: -1 }).catch((err: unknown) => err))).toBe(true);
      expect(await store.streamVersion(stream)).toBe(0);
      // What one backend cannot keep, none accepts: PostgreSQL refuses U+0000 in text and jsonb,
      // and index entries above ~2.7 kB.
      const long = `${stream}-${'ab'.repeat(600)}`;
      const unstorable = await store
        .appendToStream(long, [{ type: 'A\u0000', data: 1 }, { type: 'Ok', data: 1, metadata: { note: 'x\u0000y' } }])
        .catch((err: unknown) => err);
      expect(isConfigError(unstorable), String(unstorable)).toBe(true);
      expect((unstorable as Error).message).toMatch(/3 problems/);
      expect((unstorable as Error).message).toMatch(/stream id ".*"… is \d+ bytes long; the limit is 1024/);
      expect((unstorable as Error).message).toMatch(/type "A\\u0000" holds U\+0000/);
      expect((unstorable as Error).message).toMatch(/metadata "note": "x\\u0000y" holds U\+0000/);
      expect(isConfigError(await store.readStream(long).catch((err: unknown) => err))).toBe(true);
      expect(isConfigError(await store.appendToStream(`${stream}-\u0000`, { type: 'A', data: 1 }).catch((err: unknown) => err))).toBe(true);
      expect((await store.readAll({ filter: { streamPrefix: stream } })).length).toBe(0); // nothing written
    });

    test('upcasting', 'upcasts old event versions on read and writes new events at the current version', async () => {
      const stream = `${category('up')}-1`;
      const old = await harness();
      await old.store.appendToStream(stream, { type: 'PriceSet', data: { price: 12.5 } });
      const upcasters = defineUpcasters({
        PriceSet: { 1: ({ data }) => ({ type: 'PriceSet', data: { cents: Math.round((data as { price: number }).price * 100) } }) },
      });
      const { store } = await harness({ upcasters });
      await store.appendToStream(stream, { type: 'PriceSet', data: { cents: 99 } });
      const events = await store.readStream(stream);
      // Only meaningful when the two harnesses share storage (durable backends); the memory backend starts empty.
      const [first, second] = events.length === 2 ? events : [undefined, events[0]];
      if (first) {
        expect(first.data).toEqual({ cents: 1250 });
        expect(first.schemaVersion).toBe(1);
      }
      expect(second!.data).toEqual({ cents: 99 });
      expect(second!.schemaVersion).toBe(2);
    });

    test('upcast-rename-filter', 'a type filter matches the type events are read as: a renamed old type is found under its new name', async () => {
      const stream = `${category('ren')}-1`;
      const start = await (await harness()).store.headPosition();
      const old = await harness();
      await old.store.appendToStream(stream, { type: 'NameSet', data: { name: 'Ann' } });
      const upcasters = defineUpcasters({ NameSet: { 1: ({ data }) => ({ type: 'NameChanged', data }) } });
      const { store, checkpoints } = await harness({ upcasters });
      await store.appendToStream(stream, { type: 'NameChanged', data: { name: 'Bo' } });
      // Only the durable backends share storage between harnesses; the memory one has Bo only.
      const expected = (await store.readStream(stream)).map((e) => `${e.type} ${(e.data as { name: string }).name}`);
      expect(expected.at(-1)).toBe('NameChanged Bo');
      expect(expected.every((e) => e.startsWith('NameChanged'))).toBe(true);
      const names = (events: RecordedEvent[]): string[] => events.filter((e) => e.streamId === stream).map((e) => `${e.type} ${(e.data as { name: string }).name}`);
      expect(names(await store.readAll({ from: start + 1, filter: { types: ['NameChanged'] } }))).toEqual(expected);
      expect(names(await store.readAll({ from: start + 1, filter: { types: ['NameSet'] } }))).toEqual([]);
      const got: RecordedEvent[] = [];
      const sub = store.subscribe({ from: start + 1, filter: { types: ['NameChanged'] } }, (event) => void got.push(event));
      open.push(sub);
      await sub.caughtUp;
      expect(names(got)).toEqual(expected);
      const seen: RecordedEvent[] = [];
      const projection: Projection = { name: `names-${stream}`, filter: { types: ['NameChanged'] }, handle: (event) => void seen.push(event) };
      await checkpoints.transaction(async (tx) => {
        await checkpoints.load(projection.name, tx);
        await checkpoints.save(projection.name, start, tx);
      });
      const runner = new ProjectionRunner({ store, projection, checkpoints, batchSize: 1 });
      open.push({ close: () => runner.stop() });
      runner.start();
      await runner.waitForHead();
      expect(names(seen)).toEqual(expected);
    });

    test('publish', 'publishes appended events to a transport: id = event id, key = stream id, headers with type, versions and metadata', async () => {
      const bus = memory();
      open.push(bus);
      const inbox = new Inbox();
      await bus.subscribe('es.events', { group: 'g' }, async (m: Message) => inbox.push(m));
      const { store } = await harness({ publish: { transport: bus, topic: 'es.events' } });
      const stream = `${category('pub')}-1`;
      const result = await store.appendToStream(stream, [
        { type: 'Added', data: { by: 1 }, metadata: { correlationId: 'corr', causationId: 'cause', tenant: 't1' } },
        { type: 'Added', data: { by: 2 } },
      ]);
      await inbox.untilCount(2, timeoutMs - 5_000);
      const [m1, m2] = inbox.messages;
      expect(m1!.id).toBe(result.events[0]!.id);
      expect(m1!.key).toBe(stream);
      expect(JSON.parse(Buffer.from(m1!.payload).toString())).toEqual({ by: 1 });
      expect(m1!.headers[EVENT_HEADERS.type]).toBe('Added');
      expect(m1!.headers[EVENT_HEADERS.version]).toBe('1');
      expect(m2!.headers[EVENT_HEADERS.version]).toBe('2');
      expect(m1!.headers[EVENT_HEADERS.position]).toBe(String(result.events[0]!.position));
      expect(m1!.headers['x-correlation-id']).toBe('corr');
      expect(m1!.headers['x-causation-id']).toBe('cause');
      expect(m1!.headers['x-meta-tenant']).toBe('t1');
    });

    test('concurrent-writers', '50 concurrent writers on one stream: no lost or duplicated versions, conflicts reported, retries converge', async () => {
      const { store } = await harness();
      const stream = `${category('cc')}-1`;
      // Raw writers, no retries: every version is won by exactly one writer.
      const raw = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => store.appendToStream(stream, { type: 'Added', data: { by: i } }, { expectedVersion: 0 })),
      );
      const won = raw.filter((r) => r.status === 'fulfilled');
      expect(won.length).toBe(1);
      for (const r of raw) if (r.status === 'rejected') expect(isConcurrencyError(r.reason), String(r.reason)).toBe(true);
      // Command handlers with retries: all 50 commands land, each exactly once.
      const handler = commandHandler({ store: store as EventStore<CounterEvent>, decider: counter, maxRetries: 200, maxBackoffMs: 5 });
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => handler.handle(stream, { type: 'add', by: 1_000 + i })));
      const events = await store.readStream(stream);
      expect(events.map((e) => e.version)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
      const written = events.slice(1).map((e) => (e.data as { by: number }).by);
      expect(written.toSorted((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => 1_000 + i));
      expect(results.map((r) => r.version).toSorted((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
      expect(results.some((r) => r.attempts > 1), 'some writers had to retry (conflicts were reported)').toBe(true);
      const { state } = await handler.load(stream);
      expect(state.count).toBe(51);
    });

    test('snapshots', 'state from snapshot + tail equals state from full replay, for random histories; a stale snapshot schema is ignored and rebuilt', async () => {
      const { store: anyStore, snapshots: snapshotStore } = await harness();
      const store = anyStore as EventStore<CounterEvent>;
      const cat = category('snap');
      for (let seed = 1; seed <= 12; seed++) {
        const rnd = random(seed);
        const stream = `${cat}-${seed}`;
        const every = 1 + Math.floor(rnd() * 7);
        const handler = commandHandler({ store, decider: counter, snapshots: { store: snapshotStore, policy: { every } } });
        const length = Math.floor(rnd() * 60);
        for (let i = 0; i < length; i++) {
          const command: CounterCommand = rnd() < 0.15 ? { type: 'reset', to: Math.floor(rnd() * 10) } : { type: 'add', by: Math.floor(rnd() * 100) - 30 };
          await handler.handle(`${stream}`, command);
          if (rnd() < 0.05) await handler.snapshot(stream);
        }
        const full = evolveAll(counter, counter.initialState(), await store.readStream(stream));
        const resolved = resolveSnapshots<CounterState>({ store: snapshotStore, policy: { every } });
        const fromSnapshot = await loadAggregate(store, counter, stream, resolved);
        expect(fromSnapshot.state, `seed ${seed}`).toEqual(full);
        expect(fromSnapshot.version).toBe(length);
        if (length >= every) expect(fromSnapshot.loadedFromSnapshot, `seed ${seed} used a snapshot`).toBeGreaterThan(0);
        expect(fromSnapshot.eventsRead).toBe(length - fromSnapshot.loadedFromSnapshot);
      }
      // Schema version 2: the version-1 snapshots are ignored, the state rebuilt and re-snapshotted.
      const stream = `${cat}-1`;
      const v2 = resolveSnapshots<CounterState>({ store: snapshotStore, schemaVersion: 2, policy: { every: 1 } });
      const rebuilt = await loadAggregate(store, counter, stream, v2);
      const version = await store.streamVersion(stream);
      expect(rebuilt.loadedFromSnapshot).toBe(0);
      expect(rebuilt.eventsRead).toBe(version);
      if (version > 0) {
        const saved = await snapshotStore.load(stream, 'default');
        expect(saved?.schemaVersion).toBe(2);
        expect(saved?.version).toBe(version);
        expect((await loadAggregate(store, counter, stream, v2)).eventsRead).toBe(0);
      }
    });

    test('projections', 'several projections from one store run with their own checkpoints; a rebuild from zero equals the live one byte for byte', async () => {
      const { store, checkpoints } = await harness();
      const cat = category('proj');
      const start = await store.headPosition();
      // Read models keyed by stream; JSON.stringify of a sorted copy is the "bytes".
      const model = (): { rows: Map<string, { total: number; events: number; last: number }>; dump(): string } => {
        const rows = new Map<string, { total: number; events: number; last: number }>();
        return { rows, dump: () => JSON.stringify([...rows].toSorted(([p], [q]) => (p < q ? -1 : 1))) };
      };
      const totals = model();
      const counts = new Map<string, number>();
      const totalsProjection: Projection = {
        name: `totals-${cat}`,
        filter: { category: cat },
        handle(event) {
          const row = totals.rows.get(event.streamId) ?? { total: 0, events: 0, last: 0 };
          const data = event.data as { by?: number; to?: number };
          row.total = event.type === 'Reset' ? data.to! : row.total + data.by!;
          row.events++;
          row.last = event.timestamp;
          totals.rows.set(event.streamId, row);
        },
        reset: () => totals.rows.clear(),
      };
      const countsProjection: Projection = {
        name: `counts-${cat}`,
        filter: { category: cat },
        handle: (event) => void counts.set(event.type, (counts.get(event.type) ?? 0) + 1),
        reset: () => counts.clear(),
      };
      // Checkpoints start just before this case's events, so the projections skip older cases' events quickly.
      await checkpoints.transaction(async (tx) => {
        for (const name of [totalsProjection.name, countsProjection.name]) {
          await checkpoints.load(name, tx);
          await checkpoints.save(name, start, tx);
        }
      });
      const totalsRunner = new ProjectionRunner({ store, projection: totalsProjection, checkpoints, batchSize: 7 });
      const countsRunner = new ProjectionRunner({ store, projection: countsProjection, checkpoints });
      open.push({ close: () => totalsRunner.stop() }, { close: () => countsRunner.stop() });
      totalsRunner.start();
      countsRunner.start();
      const rnd = random(7);
      const writes: Array<Promise<unknown>> = [];
      for (let i = 0; i < 120; i++) {
        const stream = `${cat}-${Math.floor(rnd() * 6)}`;
        const event = rnd() < 0.2 ? { type: 'Reset', data: { to: i } } : { type: 'Added', data: { by: Math.floor(rnd() * 50) } };
        writes.push(store.appendToStream(stream, event));
        if (i % 10 === 9) await Promise.all(writes.splice(0));
        if (i === 60) await store.appendToStream(`${category('noise')}-1`, { type: 'Added', data: { by: 1 } });
      }
      await Promise.all(writes);
      await Promise.all([totalsRunner.waitForHead(), countsRunner.waitForHead()]);
      const live = totals.dump();
      const status = await totalsRunner.status();
      expect(status).toMatchObject({ name: totalsProjection.name, state: 'live', lag: 0 });
      expect(status.position).toBe(await store.headPosition());
      expect([...counts.values()].reduce((p, q) => p + q, 0)).toBe(120);
      expect([...totals.rows.values()].reduce((p, row) => p + row.events, 0)).toBe(120);
      // Rebuild from zero: same bytes.
      await totalsRunner.rebuild();
      await totalsRunner.waitForHead();
      expect(totals.dump()).toBe(live);
      // A second runner of the same projection never applies an event twice.
      const twin = new ProjectionRunner({ store, projection: totalsProjection, checkpoints, batchSize: 3 });
      open.push({ close: () => twin.stop() });
      twin.start();
      for (let i = 0; i < 20; i++) await store.appendToStream(`${cat}-${i % 3}`, { type: 'Added', data: { by: 1 } });
      await Promise.all([totalsRunner.waitForHead(), twin.waitForHead()]);
      expect([...totals.rows.values()].reduce((p, row) => p + row.events, 0)).toBe(140);
      await totalsRunner.stop();
      expect((await totalsRunner.status()).state).toBe('stopped');
    });

    test('projection-rebuild-twin', 'a rebuild by one runner while another runner of the projection is live: the live one replays from zero, every event applied once', async () => {
      const { store, checkpoints } = await harness();
      const cat = category('rebuildtwin');
      // One read model shared by both runners (as a table would be): how often each event was applied.
      const applied = new Map<number, number>();
      const projection: Projection = {
        name: `twin-${cat}`,
        filter: { category: cat },
        handle: (event) => void applied.set(event.position, (applied.get(event.position) ?? 0) + 1),
        reset: () => applied.clear(),
      };
      const positions: number[] = [];
      for (let i = 0; i < 30; i++) positions.push((await store.appendToStream(`${cat}-${i % 4}`, { type: 'Added', data: { by: i } })).position);
      const rebuilder = new ProjectionRunner({ store, projection, checkpoints, batchSize: 7 });
      const live = new ProjectionRunner({ store, projection, checkpoints, batchSize: 7 });
      open.push({ close: () => rebuilder.stop() }, { close: () => live.stop() });
      rebuilder.start();
      live.start();
      await Promise.all([rebuilder.waitForHead(), live.waitForHead()]);
      // The rebuilding runner goes away right after resetting (an operator's one-off rebuild, a
      // replica shutting down): the checkpoint is 0, the read model empty, and the live runner
      // — still at the head — is the one left to replay.
      await rebuilder.rebuild();
      await rebuilder.stop();
      expect(applied.size).toBe(0);
      positions.push((await store.appendToStream(`${cat}-9`, { type: 'Added', data: { by: 99 } })).position);
      await live.waitForPosition(positions.at(-1)!);
      expect(applied.get(positions.at(-1)!)).toBe(1);
      expect([...applied.keys()].toSorted((p, q) => p - q)).toEqual(positions);
      expect([...applied.values()].every((n) => n === 1)).toBe(true);
    });
  });
}
