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

  /** Kills the worker, keeps it down for `downMs`, then starts a new one. Resolves once it is back. */
  async crashAndRestart(downMs: number): Promise<Crash> {
    let back!: () => void;
    this.#up = new Promise((resolve) => (back = resolve));
    const dead = this.#orchestrator;
    const inFlight = (await this.#store.list({ status: UNFINISHED_STATUSES, limit: 100_000 })).filter((r) => r.owner === dead.owner).map((r) => r.id);
    this.#severed?.();
    // The dead worker's leftovers: drives stopped by the cut store end; nothing is released.
    await dead.close().catch(() => undefined);
    const crash: Crash = { at: Date.now(), inFlight };
    this.crashes.push(crash);
    await new Promise((resolve) => setTimeout(resolve, downMs));
    this.#orchestrator = this.#incarnation();
    await this.#orchestrator.start();
    back();
    return crash;
  }

  close(): Promise<void> {
    return this.#orchestrator.close();
  }

  /** A new orchestrator whose store access can be cut, as a process's would be by its death. */
  #incarnation(): SagaOrchestrator {
    let cut = false;
    this.#severed = () => void (cut = true);
    const store = this.#store;
    const severable = new Proxy(store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (cut) return Promise.reject(new Error('worker crashed: its saga store connection is gone'));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return this.#create(severable);
  }
}
