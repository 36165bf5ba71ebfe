import { toError } from '../core/errors.ts';
import { consoleLogger } from '../internal/console-logger.ts';
import type { Decider } from './decider.ts';
import type { DomainEvent, EventStore } from './event-store.ts';
import { snapshotDue, type ResolvedSnapshots } from './snapshots.ts';

/** An aggregate's state as loaded. */
export interface LoadedAggregate<State> {
  state: State;
  /** The stream version the state includes; 0 when the stream has no events. */
  version: number;
  /** Version of the latest usable snapshot (the one the load started from, or one it just saved), 0 when none. */
  snapshotVersion: number;
  /** Version of the snapshot the load started from, 0 when none was used. */
  loadedFromSnapshot: number;
  /** Events read from the store (after the snapshot). */
  eventsRead: number;
}

/** Events read per round trip when folding a stream. */
const PAGE = 1_000;

/**
 * Loads one aggregate: the latest snapshot (if any, and if its schema version is current) plus
 * the events after it, read from that stream only. A snapshot of a version the stream does not
 * reach is deleted and the stream folded from its start (`loadedFromSnapshot` is then 0). When
 * `snapshots` are configured and the policy says one is due (for example a stale snapshot was
 * ignored), a fresh one is saved.
 *
 * @example
 * ```ts
 * const { state, version } = await loadAggregate(store, orderDecider, 'order-1');
 * ```
 */
export async function loadAggregate<State, Event extends DomainEvent>(
  store: EventStore<Event>,
  decider: Pick<Decider<State, unknown, Event>, 'initialState' | 'evolve'>,
  streamId: string,
  snapshots?: ResolvedSnapshots<State>,
): Promise<LoadedAggregate<State>> {
  let state = decider.initialState();
  let version = 0;
  let snapshotVersion = 0;
  if (snapshots) {
    const snapshot = await snapshots.store.load(streamId, snapshots.name);
    if (snapshot && snapshot.schemaVersion === snapshots.schemaVersion) {
      state = snapshots.codec.fromBytes(snapshot.state, { topic: `snapshot of "${streamId}"`, messageId: `${snapshots.name}@${snapshot.version}` });
      version = snapshotVersion = snapshot.version;
    }
  }
  let loadedFromSnapshot = snapshotVersion;
  let eventsRead = 0;
  const fold = async (): Promise<void> => {
    for (;;) {
      const page = await store.readStream(streamId, { from: version + 1, limit: PAGE });
      for (const event of page) state = decider.evolve(state, event);
      eventsRead += page.length;
      if (page.length > 0) version = page[page.length - 1]!.version;
      if (page.length < PAGE) break;
    }
  };
  await fold();
  // Nothing after the snapshot: it may be ahead of the stream (events lost in a crash of a store
  // that did not fsync them, or a snapshot store restored from a newer backup). Its state has
  // events the stream lacks, and every append expecting its version would fail with
  // ConcurrencyError: fold the stream from the start instead, and delete the snapshot, so that
  // it is not used once the stream grows past it with other events, and so that a fresh one can
  // replace it (a save never moves a snapshot backwards).
  if (snapshots && loadedFromSnapshot > 0 && eventsRead === 0 && (await store.streamVersion(streamId)) < loadedFromSnapshot) {
    await snapshots.store.delete(streamId, snapshots.name);
    state = decider.initialState();
    version = snapshotVersion = loadedFromSnapshot = 0;
    await fold();
  }
  if (snapshots && snapshotDue(snapshots.policy, version, snapshotVersion) && (await saveDueSnapshot(snapshots, streamId, state, version))) {
    snapshotVersion = version;
  }
  return { state, version, snapshotVersion, loadedFromSnapshot, eventsRead };
}

/**
 * Stores `state` as the snapshot of `streamId` at `version`.
 *
 * @example
 * ```ts
 * await saveSnapshot(resolveSnapshots({ store: memorySnapshotStore() }), 'order-1', state, version);
 * ```
 */
export async function saveSnapshot<State>(snapshots: ResolvedSnapshots<State>, streamId: string, state: State, version: number): Promise<void> {
  await snapshots.store.save({
    streamId,
    name: snapshots.name,
    version,
    schemaVersion: snapshots.schemaVersion,
    contentType: snapshots.codec.contentType,
    state: snapshots.codec.toBytes(state),
    timestamp: Date.now(),
  });
}

const logger = consoleLogger('switchyard eventsourcing');

/**
 * Saves a snapshot the policy asked for, and says whether it did. A failure is reported to
 * `onSaveError` (default: a warning), never thrown: snapshots are an optimisation, and the load
 * or the command it follows — whose events may already be appended — must not fail for it.
 *
 * @example
 * ```ts
 * if (snapshotDue(snapshots.policy, version, snapshotVersion)) await saveDueSnapshot(snapshots, 'order-1', state, version);
 * ```
 */
export async function saveDueSnapshot<State>(snapshots: ResolvedSnapshots<State>, streamId: string, state: State, version: number): Promise<boolean> {
  try {
    await saveSnapshot(snapshots, streamId, state, version);
    return true;
  } catch (thrown) {
    const error = toError(thrown);
    const at = { streamId, name: snapshots.name, version };
    try {
      if (snapshots.onSaveError) snapshots.onSaveError(error, at);
      else logger.warn(`could not save the "${snapshots.name}" snapshot of stream "${streamId}" at version ${version} (loads fold the events instead): ${error.message}`);
    } catch {
      // A throwing report must not fail what succeeded either.
    }
    return false;
  }
}
