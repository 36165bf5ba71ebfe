import type { ReturnedMessage } from 'rabbitmq-client';
import { wireId } from './mapping.ts';

/** Waits one turn of the event loop: rabbitmq-client emits `basic.return` a tick after the confirm that follows it. */
export const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Counts `basic.return`s per message id, so a confirmed publish can tell it was unroutable. */
export class Returns {
  readonly #counts = new Map<string, number>();

  add(msg: ReturnedMessage): void {
    // The whole id: `message-id` holds only a shortened form of ids over 255 bytes.
    const id = wireId(msg) ?? '';
    this.#counts.set(id, (this.#counts.get(id) ?? 0) + 1);
  }

  /** True (and forgets it) if a publish of `id` came back. */
  take(id: string): boolean {
    const n = this.#counts.get(id) ?? 0;
    if (n === 0) return false;
    if (n === 1) this.#counts.delete(id);
    else this.#counts.set(id, n - 1);
    return true;
  }
}
