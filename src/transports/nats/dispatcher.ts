import { KeyedQueue, type KeyedEntry } from '../../internal/keyed-queue.ts';

/** How long a settled entry's key stays busy: ms, or until a promise settles. */
export type KeyHold = number | { until: Promise<unknown> };

/**
 * Runs received messages through a handler with bounded concurrency and per-key exclusivity
 * (messages with one key never overlap and keep stream order), for both NATS modes.
 * `run` settles the message with the broker and resolves to how long its key stays busy
 * afterwards: 0, a number of ms (after a failure, the retry delay: `run` queued the message again
 * first, so later messages of that key cannot overtake it), or until a promise settles.
 */
export class Dispatcher<E extends KeyedEntry> {
  readonly #queue = new KeyedQueue<E>();
  readonly #held = new Set<E>();
  readonly #inflight = new Set<E>();
  readonly #concurrency: number;
  readonly #run: (entry: E) => Promise<KeyHold>;
  readonly #onSettle: () => void;
  #waiters: Array<{ ready: () => boolean; resolve: () => void }> = [];
  #paused = false;
  #stopped = false;

  /** `onSettle` runs after each entry settles (a puller asks for more then). */
  constructor(concurrency: number, run: (entry: E) => Promise<KeyHold>, onSettle: () => void = () => {}) {
    this.#concurrency = concurrency;
    this.#run = run;
    this.#onSettle = onSettle;
  }

  /** Entries received and not yet settled: waiting plus in flight. */
  get held(): number {
    return this.#held.size;
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  /** Every entry received and not settled (for in-progress acks). */
  entries(): IterableIterator<E> {
    return this.#held.values();
  }

  push(entry: E): void {
    this.#held.add(entry);
    this.#queue.push(entry);
    this.pump();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.pump();
  }

  /** No new handler starts after this; waiting entries stay until `takeWaiting()`. */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * Removes and returns the waiting entries whose key has no handler running (unkeyed ones too),
   * in stream order; the others stay held until `takeWaiting()`. After `stop()`, handing back only
   * these keeps a key's order for whoever gets them next: a running handler may still fail, and its
   * message must go back before the later ones of its key.
   */
  takeIdle(): E[] {
    const waiting = this.#queue.drain();
    if (this.#inflight.size === 0) {
      for (const e of waiting) this.#held.delete(e);
      this.notify();
      return waiting;
    }
    const running = new Set<string>();
    for (const e of this.#inflight) if (e.key !== '') running.add(e.key);
    const idle: E[] = [];
    for (const e of waiting) {
      if (running.has(e.key)) this.#queue.push(e); // back into its key's line; stopped, so nothing runs
      else {
        this.#held.delete(e);
        idle.push(e);
      }
    }
    this.notify();
    return idle;
  }

  /** Removes and returns the entries no handler has started on, in stream order. */
  takeWaiting(): E[] {
    const waiting = this.#queue.drain();
    for (const e of waiting) this.#held.delete(e);
    this.notify();
    return waiting;
  }

  /** Resolves once `ready()` holds, re-checked whenever an entry settles. */
  until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ ready, resolve }));
  }

  pump(): void {
    while (!this.#paused && !this.#stopped && this.#inflight.size < this.#concurrency) {
      const entry = this.#queue.take();
      if (!entry) return;
      this.#start(entry);
    }
  }

  #start(entry: E): void {
    this.#inflight.add(entry);
    const settle = (hold: KeyHold): void => {
      this.#inflight.delete(entry);
      this.#held.delete(entry);
      if (this.#stopped || hold === 0) {
        this.#queue.release(entry);
        this.pump();
      } else {
        const release = (): void => {
          this.#queue.release(entry);
          this.pump();
        };
        if (typeof hold === 'number') setTimeout(release, hold).unref();
        else void hold.until.then(release, release);
      }
      this.notify();
      this.pump();
      this.#onSettle();
    };
    void Promise.resolve()
      .then(() => this.#run(entry))
      .then(settle, () => settle(0));
  }

  /** Re-checks `until()` waiters (call after changing state they look at). */
  notify(): void {
    if (this.#waiters.length === 0) return;
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      if (w.ready()) w.resolve();
      else this.#waiters.push(w);
    }
  }
}
