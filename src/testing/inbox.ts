import type { Message } from '../core/message.ts';

/**
 * Collects what a handler received and lets a test await "N messages arrived" as an event
 * instead of sleeping. Waits fail with a message that says what was expected and what came.
 */
export class Inbox {
  readonly messages: Message[] = [];
  readonly #ids = new Set<string>();
  readonly #waiters: Array<{ done: () => boolean; resolve: () => void }> = [];

  push(message: Message): void {
    this.messages.push(message);
    this.#ids.add(message.id);
    this.notify();
  }

  /** Re-checks waiters; call after changing state a waiter looks at. */
  notify(): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!;
      if (waiter.done()) {
        this.#waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** Resolves once `done()` holds, re-checked on every push; rejects after `timeoutMs`. */
  until(done: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`));
      }, timeoutMs);
      const waiter = {
        done,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Resolves once at least `count` messages arrived. */
  untilCount(count: number, timeoutMs: number): Promise<void> {
    return this.until(
      () => this.messages.length >= count,
      timeoutMs,
      () => `${count} messages (got ${this.messages.length})`,
    );
  }

  /** Distinct message ids received (a live, read-only view: cheap to call in `until` predicates). */
  ids(): ReadonlySet<string> {
    return this.#ids;
  }

  /** How many distinct ids arrived. */
  get distinct(): number {
    return this.#ids.size;
  }
}
