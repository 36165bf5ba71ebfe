import { ConfigError, toError } from '../core/errors.ts';
import type { AllPage, AppendWatcher, DomainEvent, EventFilter, EventStorage, EventSubscribeOptions, EventSubscription, RecordedEvent } from './event-store.ts';

/**
 * Waits for "something may have been appended": an in-process append through the storage, the
 * storage's poll interval (for appends by other processes), or `stop()`. A wake-up that comes
 * while nobody waits is remembered, so none is lost between a read and the next wait.
 */
export class AppendSignal implements AppendWatcher {
  #dirty = false;
  #waiter: (() => void) | undefined;
  #stopped = false;
  readonly #unsubscribe: () => void;
  readonly #pollMs: number | undefined;

  constructor(storage: EventStorage) {
    this.#pollMs = storage.pollIntervalMs;
    this.#unsubscribe = storage.onAppend(() => this.#wake());
  }

  /** Forget earlier wake-ups: call right before reading. */
  reset(): void {
    this.#dirty = false;
  }

  /** Resolves at the next wake-up (at once if one came since `reset()`). */
  wait(): Promise<void> {
    if (this.#dirty || this.#stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.#pollMs === undefined ? undefined : setTimeout(() => this.#wake(), this.#pollMs);
      this.#waiter = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe();
    this.#wake();
  }

  #wake(): void {
    this.#dirty = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}

/** Resolves where a subscription or projection starts. */
export async function resolveStart(storage: EventStorage, from: EventSubscribeOptions['from']): Promise<number> {
  if (from === undefined || from === 'start') return 1;
  if (from === 'end') return (await storage.headPosition()) + 1;
  if (!Number.isInteger(from) || from < 0) throw new ConfigError(`subscribe: from must be 'start', 'end' or a global position ≥ 0, got ${JSON.stringify(from)}`);
  return Math.max(1, from);
}

/** The catch-up-then-live loop behind `EventStore.subscribe`: `read` gives decoded pages, `storage` the wake-ups. */
export function startSubscription<E extends DomainEvent>(
  storage: EventStorage,
  options: EventSubscribeOptions,
  read: (from: number, limit: number, filter: EventFilter | undefined) => Promise<AllPage<E>>,
  handler: (event: RecordedEvent<E>) => Promise<void> | void,
): EventSubscription {
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`subscribe: batchSize must be an integer ≥ 1, got ${batchSize}`);
  const signal = new AppendSignal(storage);
  const caughtUp = Promise.withResolvers<void>();
  let position = 0;
  let stopping = false;

  const run = async (): Promise<Error | undefined> => {
    try {
      position = await resolveStart(storage, options.from);
      while (!stopping) {
        signal.reset();
        const page = await read(position, batchSize, options.filter);
        for (const event of page.events) {
          if (stopping) return undefined;
          await handler(event);
          position = event.position + 1;
        }
        if (page.error) throw page.error; // after the events before it
        position = Math.max(position, page.next);
        // A short page is the head only when the read did not stop early (see AllPage.more).
        if (page.events.length < batchSize && !page.more) {
          caughtUp.resolve();
          await signal.wait();
        }
      }
      return undefined;
    } catch (error) {
      return toError(error);
    } finally {
      signal.stop();
      caughtUp.resolve();
    }
  };
  const closed = run();

  const subscription: EventSubscription = {
    caughtUp: caughtUp.promise,
    closed,
    get position() {
      return position;
    },
    async close() {
      stopping = true;
      signal.stop();
      await closed;
    },
    [Symbol.asyncDispose]() {
      return subscription.close();
    },
  };
  return subscription;
}
