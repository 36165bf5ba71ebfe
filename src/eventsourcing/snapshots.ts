import type { Codec } from '../core/codec.ts';
import { ConfigError } from '../core/errors.ts';
import { json } from '../codecs/json.ts';

/** A stored snapshot: a stream's state at one version, encoded. */
export interface Snapshot {
  streamId: string;
  /** Which model the state belongs to (several deciders may fold one stream). */
  name: string;
  /** The stream version the state includes (events 1..version). */
  version: number;
  /** Version of the state's shape; a snapshot with another one is ignored on load and rebuilt. */
  schemaVersion: number;
  contentType: string;
  state: Uint8Array;
  /** Milliseconds since epoch when it was taken. */
  timestamp: number;
}

/**
 * Where snapshots live: one per (stream, name), the latest replacing older ones. Memory and
 * PostgreSQL backends ship; an implementation only has to keep `save` from moving a snapshot
 * backwards (a lower version must not replace a higher one).
 */
export interface SnapshotStore {
  load(streamId: string, name: string): Promise<Snapshot | undefined>;
  save(snapshot: Snapshot): Promise<void>;
  /** Removes a stream's snapshots (all names when `name` is absent). */
  delete(streamId: string, name?: string): Promise<void>;
}

/**
 * When to take a snapshot: every N events since the last snapshot, or only when asked
 * (`commandHandler(...).snapshot(id)`).
 */
export type SnapshotPolicy = { every: number } | 'onDemand';

/** How an aggregate is snapshotted. */
export interface SnapshotOptions<State> {
  store: SnapshotStore;
  /** Name of the model. Default `default`. */
  name?: string;
  /** Bump when the state's shape changes: older snapshots are then ignored and rebuilt. Default 1. */
  schemaVersion?: number;
  /** Default `json()`; use a codec that round-trips your state (Maps, Dates…). */
  codec?: Codec<State>;
  /** Default `{ every: 100 }`. */
  policy?: SnapshotPolicy;
  /**
   * Called when a snapshot the policy asked for cannot be saved (the store is down, the state
   * cannot be encoded). Such a save never fails the load or command it follows — the events are
   * the truth, and a command whose events were appended must not look failed, or its caller
   * would run it again. Default: a warning on stderr. `snapshot(id)`, asked for explicitly, throws instead.
   */
  onSaveError?: (error: Error, snapshot: { streamId: string; name: string; version: number }) => void;
}

/** Snapshot options with defaults applied. */
export interface ResolvedSnapshots<State> {
  store: SnapshotStore;
  name: string;
  schemaVersion: number;
  codec: Codec<State>;
  policy: SnapshotPolicy;
  /** See `SnapshotOptions.onSaveError`. Absent: a warning on stderr. */
  onSaveError?: SnapshotOptions<State>['onSaveError'];
}

/**
 * Applies the defaults to snapshot options (name `default`, schema version 1, `json()`, every 100 events), reporting every problem at once.
 *
 * @example
 * ```ts
 * const snapshots = resolveSnapshots<Order>({ store: memorySnapshotStore(), schemaVersion: 2 });
 * const { state } = await loadAggregate(store, orderDecider, 'order-1', snapshots);
 * ```
 */
export function resolveSnapshots<State>(options: SnapshotOptions<State>): ResolvedSnapshots<State> {
  const problems: string[] = [];
  const policy = options.policy ?? { every: 100 };
  if (policy !== 'onDemand' && !(Number.isInteger(policy?.every) && policy.every >= 1)) {
    problems.push(`snapshots: policy must be 'onDemand' or { every: N } with an integer N ≥ 1, got ${JSON.stringify(policy)}`);
  }
  const schemaVersion = options.schemaVersion ?? 1;
  if (!Number.isInteger(schemaVersion)) problems.push(`snapshots: schemaVersion must be an integer, got ${schemaVersion}`);
  if (!options.store || typeof options.store.load !== 'function') problems.push('snapshots: store must be a SnapshotStore (memorySnapshotStore(), postgresSnapshotStore(...))');
  if (options.onSaveError !== undefined && typeof options.onSaveError !== 'function') problems.push('snapshots: onSaveError must be a function');
  ConfigError.throwIfAny(problems);
  const resolved: ResolvedSnapshots<State> = { store: options.store, name: options.name ?? 'default', schemaVersion, codec: options.codec ?? (json() as Codec<State>), policy };
  if (options.onSaveError) resolved.onSaveError = options.onSaveError;
  return resolved;
}

/**
 * True when the policy wants a snapshot at `version`, given the last one at `snapshotVersion`.
 *
 * @example
 * ```ts
 * snapshotDue({ every: 100 }, 250, 100); // true
 * ```
 */
export function snapshotDue(policy: SnapshotPolicy, version: number, snapshotVersion: number): boolean {
  return policy !== 'onDemand' && version - snapshotVersion >= policy.every;
}

/**
 * Snapshots in process memory (tests, examples).
 *
 * @example
 * ```ts
 * const handler = commandHandler({ store, decider, snapshots: { store: memorySnapshotStore(), policy: { every: 50 } } });
 * ```
 */
export function memorySnapshotStore(): SnapshotStore {
  const snapshots = new Map<string, Snapshot>();
  const keyOf = (streamId: string, name: string): string => `${name}\u0000${streamId}`;
  return {
    async load(streamId, name) {
      const found = snapshots.get(keyOf(streamId, name));
      return found && { ...found };
    },
    async save(snapshot) {
      const key = keyOf(snapshot.streamId, snapshot.name);
      const existing = snapshots.get(key);
      // A rebuilt snapshot (new schema) replaces any; otherwise never move backwards.
      if (existing && existing.schemaVersion === snapshot.schemaVersion && existing.version > snapshot.version) return;
      snapshots.set(key, { ...snapshot });
    },
    async delete(streamId, name) {
      if (name !== undefined) snapshots.delete(keyOf(streamId, name));
      else for (const key of snapshots.keys()) if (key.endsWith(`\u0000${streamId}`)) snapshots.delete(key);
    },
  };
}
