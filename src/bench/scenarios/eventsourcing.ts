import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { embeddedEventStore } from '../../eventsourcing/embedded-event-store.ts';
import { embeddedSnapshotStore } from '../../eventsourcing/embedded-snapshot-store.ts';
import { memoryEventStore } from '../../eventsourcing/memory-event-store.ts';
import { postgresEventStore } from '../../eventsourcing/postgres-event-store.ts';
import { postgresSnapshotStore } from '../../eventsourcing/postgres-snapshot-store.ts';
import { loadAggregate } from '../../eventsourcing/load-aggregate.ts';
import { resolveSnapshots, memorySnapshotStore, type SnapshotStore } from '../../eventsourcing/snapshots.ts';
import type { Decider } from '../../eventsourcing/decider.ts';
import type { DomainEvent, EventStore } from '../../eventsourcing/event-store.ts';
import { timed } from '../stats.ts';
import type { BenchCase, Sample, Scenario } from '../types.ts';

type Moved = DomainEvent<'Moved', { by: number; note: string }>;
const position: Decider<{ at: number; moves: number }, never, Moved> = {
  initialState: () => ({ at: 0, moves: 0 }),
  decide: () => [],
  evolve: (state, event) => ({ at: state.at + event.data.by, moves: state.moves + 1 }),
};
const AGGREGATE_EVENTS = 10_000;
const event = (i: number): Moved => ({ type: 'Moved', data: { by: (i % 7) - 3, note: 'x'.repeat(64) } });

let run = 0;

/** Appends `count` single-event appends with expected versions, from `writers` concurrent writers on their own streams. */
async function appendSingles(store: EventStore, count: number, writers: number): Promise<Sample> {
  const prefix = `bench${process.pid}x${++run}`;
  return timed(async () => {
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let v = 0; v < count / writers; v++) await store.appendToStream(`${prefix}-${w}`, event(v), { expectedVersion: v });
      }),
    );
    return count;
  });
}

async function appendBatches(store: EventStore, count: number, batch: number): Promise<Sample> {
  const stream = `bench${process.pid}x${++run}-1`;
  const events = Array.from({ length: batch }, (_, i) => event(i));
  return timed(async () => {
    for (let v = 0; v < count; v += batch) await store.appendToStream(stream, events, { expectedVersion: v });
    return count;
  });
}

/** Writes one aggregate of 10,000 events (and, for the snapshot case, a snapshot 100 events before its end). */
async function prepareAggregate(store: EventStore, snapshots: SnapshotStore | undefined): Promise<string> {
  const stream = `agg${process.pid}x${++run}-1`;
  for (let v = 0; v < AGGREGATE_EVENTS; v += 500) {
    await store.appendToStream(stream, Array.from({ length: 500 }, (_, i) => event(v + i)), { expectedVersion: v });
  }
  if (snapshots) {
    const tail = await store.readStream(stream, { from: 1, limit: AGGREGATE_EVENTS - 100 });
    let state = position.initialState();
    for (const e of tail) state = position.evolve(state, e as Moved & typeof e);
    const resolved = resolveSnapshots({ store: snapshots, policy: 'onDemand' });
    await snapshots.save({
      streamId: stream, name: resolved.name, version: AGGREGATE_EVENTS - 100, schemaVersion: 1,
      contentType: resolved.codec.contentType, state: resolved.codec.toBytes(state), timestamp: Date.now(),
    });
  }
  return stream;
}

function loadCase(label: string, store: EventStore, snapshots: SnapshotStore | undefined, loads: number): BenchCase {
  let stream: Promise<string> | undefined;
  const resolved = snapshots && resolveSnapshots<{ at: number; moves: number }>({ store: snapshots, policy: 'onDemand' });
  return {
    name: `${label}: load one aggregate of 10,000 events, ${snapshots ? 'from a snapshot + 100 events' : 'no snapshot (full replay)'}`,
    unit: 'loads/s',
    ours: {
      name: label,
      run: async () => {
        stream ??= prepareAggregate(store, snapshots);
        const id = await stream;
        return timed(async () => {
          for (let i = 0; i < loads; i++) {
            const loaded = await loadAggregate(store as EventStore<Moved>, position, id, resolved);
            if (loaded.state.moves !== AGGREGATE_EVENTS) throw new Error(`loaded ${loaded.state.moves} moves`);
          }
          return loads;
        });
      },
    },
  };
}

/**
 * Event sourcing: append throughput (single events with expected versions, batches) and the
 * time to load one aggregate of 10,000 events with and without a snapshot (1 / loads/s = ms
 * per load), on the memory and embedded stores and — when it is reachable — PostgreSQL, against a raw `pg`
 * single-row INSERT transaction as the floor of a durable append.
 */
export const eventsourcingScenario: Scenario = {
  name: 'eventsourcing',
  title: 'Event sourcing: appends and aggregate loads (memory, embedded, PostgreSQL)',
  async cases(ctx) {
    const quick = ctx.quick;
    const memStore = memoryEventStore();
    const cases: BenchCase[] = [
      { name: 'memory: append 1 event per call, expected version', unit: 'events/s', ours: { name: 'memory', run: () => appendSingles(memStore, quick ? 20_000 : 100_000, 1) } },
      { name: 'memory: append batches of 100 events', unit: 'events/s', ours: { name: 'memory', run: () => appendBatches(memStore, quick ? 50_000 : 200_000, 100) } },
      loadCase('memory', memStore, undefined, quick ? 20 : 50),
      loadCase('memory', memStore, memorySnapshotStore(), quick ? 200 : 1_000),
    ];

    // Embedded: the broker's log on local disk, default fsync 'batch' (group commit).
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-es-'));
    const embStore = embeddedEventStore({ dir: join(dir, 'events') });
    const embSingles = quick ? 500 : 2_000;
    cases.push(
      { name: 'embedded: append 1 event per call, 1 writer (fsync per append)', unit: 'events/s', ours: { name: 'embedded', run: () => appendSingles(embStore, embSingles, 1) } },
      { name: 'embedded: append 1 event per call, 8 writers on 8 streams (group commit)', unit: 'events/s', ours: { name: 'embedded', run: () => appendSingles(embStore, embSingles * 4, 8) } },
      { name: 'embedded: append batches of 100 events', unit: 'events/s', ours: { name: 'embedded', run: () => appendBatches(embStore, quick ? 20_000 : 100_000, 100) } },
      loadCase('embedded', embStore, undefined, quick ? 10 : 30),
      loadCase('embedded', embStore, embeddedSnapshotStore({ dir: join(dir, 'snapshots') }), quick ? 100 : 500),
    );
    cases[cases.length - 1]!.close = async () => {
      await embStore.close();
      rmSync(dir, { recursive: true, force: true });
    };

    const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    try {
      await pool.query('SELECT 1');
    } catch (error) {
      ctx.skip(`PostgreSQL event store: PostgreSQL is not reachable at ${url} (${(error as Error).message}); run: npm run services`);
      await pool.end().catch(() => undefined);
      return cases;
    }
    const schema = `es_bench_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    const store = postgresEventStore({ pool, schema });
    const snapshots = postgresSnapshotStore({ pool, schema });
    await store.migrate();
    await pool.query(`CREATE TABLE "${schema}".raw_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL, data bytea NOT NULL)`);
    const singles = quick ? 500 : 2_000;
    const rawInsert: BenchCase['baseline'] = {
      name: 'pg: BEGIN; INSERT one row; COMMIT',
      run: async () => {
        const payload = Buffer.from(JSON.stringify(event(1).data));
        return timed(async () => {
          const client = await pool.connect();
          try {
            for (let i = 0; i < singles; i++) {
              await client.query('BEGIN');
              await client.query(`INSERT INTO "${schema}".raw_events (stream_id, data) VALUES ($1, $2)`, ['raw-1', payload]);
              await client.query('COMMIT');
            }
          } finally {
            client.release();
          }
          return singles;
        });
      },
    };
    cases.push(
      { name: 'postgres: append 1 event per call, expected version, 1 writer', unit: 'events/s', ours: { name: 'postgres', run: () => appendSingles(store, singles, 1) }, baseline: rawInsert },
      { name: 'postgres: append 1 event per call, 8 writers on 8 streams', unit: 'events/s', ours: { name: 'postgres', run: () => appendSingles(store, singles * 2, 8) } },
      { name: 'postgres: append batches of 100 events', unit: 'events/s', ours: { name: 'postgres', run: () => appendBatches(store, quick ? 10_000 : 50_000, 100) } },
      loadCase('postgres', store, undefined, quick ? 5 : 10),
      loadCase('postgres', store, snapshots, quick ? 50 : 200),
    );
    const last = cases[cases.length - 1]!;
    last.close = async () => {
      await store.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await pool.end();
    };
    return cases;
  },
};
