/**
 * Where projections keep their place: the global position of the last event applied, written
 * in the same unit of work as the read model (one PostgreSQL transaction for
 * `postgresCheckpointStore`), so a crash can never separate "applied" from "recorded".
 */
export interface CheckpointStore<Tx = unknown> {
  /**
   * True when `transaction` is atomic (a crash rolls back both the read-model writes and the
   * checkpoint). Projections then apply a batch per transaction; otherwise one event at a time.
   */
  readonly transactional: boolean;
  /** Runs `work` in one unit of work; rolls it back when `work` throws. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * The checkpoint inside a unit of work, locked until it ends where the backend can lock, so
   * two runners of one projection never apply the same event. 0 when none.
   */
  load(name: string, tx: Tx): Promise<number>;
  save(name: string, position: number, tx: Tx): Promise<void>;
  /** The checkpoint outside any unit of work (status, start). 0 when none. */
  get(name: string): Promise<number>;
}

/**
 * Checkpoints in process memory, for read models kept in memory (both vanish together when the
 * process ends, so they stay consistent). Units of work run one at a time.
 *
 * @example
 * ```ts
 * const runner = new ProjectionRunner({ store, projection: orderSummaries, checkpoints: memoryCheckpointStore() });
 * ```
 */
export function memoryCheckpointStore(): CheckpointStore<undefined> {
  const positions = new Map<string, number>();
  let tail: Promise<unknown> = Promise.resolve();
  return {
    transactional: false,
    transaction<T>(work: (tx: undefined) => Promise<T>): Promise<T> {
      const run = tail.then(() => work(undefined));
      tail = run.catch(() => undefined);
      return run;
    },
    async load(name) {
      return positions.get(name) ?? 0;
    },
    async save(name, position) {
      positions.set(name, position);
    },
    async get(name) {
      return positions.get(name) ?? 0;
    },
  };
}
