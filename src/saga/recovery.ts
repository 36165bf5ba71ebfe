import { toError } from '../core/errors.ts';
import type { SagaLogger } from './orchestrator.ts';
import type { Lease, SagaRecord, SagaStore } from './saga-store.ts';

/** What the recovery loop needs from its orchestrator. */
export interface RecoveryLoopOptions {
  store: SagaStore;
  lease: Lease;
  /** Saga names the orchestrator can run. */
  sagas: readonly string[];
  /** Between scans, in ms; 0 scans only on start. */
  intervalMs: number;
  maxActive: number;
  /** Ids being driven now (never claimed again). */
  active(): string[];
  /** Starts driving a claimed instance. */
  drive(record: SagaRecord, recovered: boolean): void;
  /** A lease could not be renewed: someone else owns the instance now. */
  lost(id: string): void;
  logger: SagaLogger;
}

/**
 * Finds the instances an orchestrator should drive — its own unfinished ones after a restart,
 * those whose owner's lease ran out, those a retry command released — and keeps the leases of
 * the ones it drives alive while their steps run.
 */
export class RecoveryLoop {
  readonly #o: RecoveryLoopOptions;
  #scanTimer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  /** No more scans: the orchestrator is closing. Leases are still renewed until `stop()`. */
  #scanStopped = false;
  #stopped = false;

  constructor(options: RecoveryLoopOptions) {
    this.#o = options;
  }

  /** Claims and drives every unfinished instance it can, then scans and renews on timers. */
  async start(): Promise<void> {
    while ((await this.scan()) > 0 && this.#o.active().length < this.#o.maxActive);
    if (this.#scanStopped) return;
    if (this.#o.intervalMs > 0) {
      this.#scanTimer = setInterval(() => void this.#guard(() => this.scan()), this.#o.intervalMs);
      this.#scanTimer.unref();
    }
    this.heartbeat();
  }

  /** Starts renewing the leases of driven instances every third of the lease time. Idempotent. */
  heartbeat(): void {
    if (this.#renewTimer || this.#stopped) return;
    this.#renewTimer = setInterval(() => void this.#guard(() => this.renew()), Math.max(10, Math.floor(this.#o.lease.ms / 3)));
    this.#renewTimer.unref();
  }

  /** One claim round; returns how many instances it started driving. */
  scan(): Promise<number> {
    const next = this.#running.then(async () => {
      if (this.#scanStopped) return 0;
      const room = this.#o.maxActive - this.#o.active().length;
      if (room <= 0) return 0;
      const claimed = await this.#o.store.claim(this.#o.lease, Math.min(room, 100), { sagas: this.#o.sagas, exclude: this.#o.active() });
      for (const record of claimed) this.#o.drive(record, true);
      return claimed.length;
    });
    this.#running = next.catch(() => undefined);
    return next;
  }

  /** Extends the leases of the instances being driven; reports the ones lost. */
  async renew(): Promise<void> {
    const ids = this.#o.active();
    if (ids.length === 0) return;
    const held = new Set(await this.#o.store.renew(ids, this.#o.lease));
    for (const id of ids) if (!held.has(id)) this.#o.lost(id);
  }

  /**
   * Takes no more instances, but keeps renewing the leases of those still driven: a closing
   * orchestrator lets its running steps finish, and a lease running out meanwhile would hand the
   * instance to another orchestrator, which would run the same step at the same time.
   */
  async stopScanning(): Promise<void> {
    this.#scanStopped = true;
    clearInterval(this.#scanTimer);
    await this.#running;
  }

  /** Stops scanning and renewing. */
  async stop(): Promise<void> {
    await this.stopScanning();
    this.#stopped = true;
    clearInterval(this.#renewTimer);
  }

  async #guard(work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.#o.logger.warn(`saga recovery: ${toError(error).message}`);
    }
  }
}
