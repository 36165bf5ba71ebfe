// The worker that drives fulfillment sagas, and how the demo crashes it. A crash here is what a
// `kill -9` of the worker's process does to the rest of the system: its in-memory state is gone,
// it writes nothing more (its connection to the saga store is cut mid-step), and its leases stay
// on the instances it was driving until they run out. The restarted worker — a new orchestrator
// with a new owner id — claims those instances once their leases end and resumes them from the
// saga store, re-running an interrupted step with the same idempotency key.
import { SagaOrchestrator, UNFINISHED_STATUSES, type SagaStore } from 'switchyard/saga';

/** What one crash left behind. */
export interface Crash {
  at: number;
  /** Sagas the crashed worker was driving: the restarted one must finish them. */
  inFlight: string[];
}

export class FulfillmentWorker {
  readonly crashes: Crash[] = [];
  readonly #store: SagaStore;
  readonly #create: (store: SagaStore) => SagaOrchestrator;
  #orchestrator: SagaOrchestrator;
  #up: Promise<void> = Promise.resolve();
  #severed: (() => void) | undefined;
  #back: (() => void) | undefined;
  /** Set while a crash waits for the worker's next saga write. */
  #killAtNextWrite: (() => void) | undefined;

  /** `create` builds an orchestrator over the store it is given (every orchestrator of the worker gets a fresh, uncut one). */
  constructor(store: SagaStore, create: (store: SagaStore) => SagaOrchestrator) {
    this.#store = store;
    this.#create = create;
    this.#orchestrator = this.#incarnation();
  }

  /** The saga events topic (the same for every incarnation). */
  get topic(): string {
    return this.#orchestrator.topic;
  }

  start(): Promise<void> {
    return this.#orchestrator.start();
  }

  /** The running orchestrator; while the worker is down, waits until it is back (requests queue up meanwhile). */
  async orchestrator(): Promise<SagaOrchestrator> {
    await this.#up;
    return this.#orchestrator;
  }

  /**
   * Kills the worker, keeps it down for `downMs`, then starts a new one. Resolves once it is back.
   * A `kill -9` lands at any instant, but one between two sagas shows nothing, so the kill lands
   * on the worker's next saga store write (within `waitMs`; an idle worker is killed when that
   * runs out): a saga is then cut off mid-run, its progress unsaved.
   */
  async crashAndRestart(downMs: number, waitMs = 1_000): Promise<Crash> {
    const dead = this.#orchestrator;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#killAtNextWrite = undefined;
        this.#kill();
        resolve();
      }, waitMs);
      this.#killAtNextWrite = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    // What the dead worker still held, read through the store itself (its own access is cut).
    const inFlight = (await this.#store.list({ status: UNFINISHED_STATUSES, limit: 100_000 })).filter((r) => r.owner === dead.owner).map((r) => r.id);
    // The dead worker's leftovers: drives stopped by the cut store end; nothing is released.
    await dead.close().catch(() => undefined);
    const crash: Crash = { at: Date.now(), inFlight };
    this.crashes.push(crash);
    await new Promise((resolve) => setTimeout(resolve, downMs));
    this.#orchestrator = this.#incarnation();
    await this.#orchestrator.start();
    this.#back?.();
    return crash;
  }

  /** The moment of death: store access cut, and requests wait for the next incarnation. */
  #kill(): void {
    this.#up = new Promise((resolve) => (this.#back = resolve));
    this.#severed?.();
  }

  close(): Promise<void> {
    return this.#orchestrator.close();
  }

  /** A new orchestrator whose store access can be cut, as a process's would be by its death. */
  #incarnation(): SagaOrchestrator {
    let cut = false;
    this.#severed = () => void (cut = true);
    const store = this.#store;
    // A crash armed by crashAndRestart() lands on the next write of a saga's progress.
    const killIfArmed = (property: string | symbol): void => {
      const armed = this.#killAtNextWrite;
      if (property !== 'update' || !armed) return;
      this.#killAtNextWrite = undefined;
      this.#kill();
      armed();
    };
    const severable = new Proxy(store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (!cut) killIfArmed(property);
          if (cut) return Promise.reject(new Error('worker crashed: its saga store connection is gone'));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return this.#create(severable);
  }
}
