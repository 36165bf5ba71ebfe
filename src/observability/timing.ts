import { COARSE_TICK_MS } from '../internal/coarse-clock.ts';

/**
 * Which deliveries `metrics()` times. Reading the clock costs 40–50 ns on some virtual machines,
 * as much as all the counting of a delivery, so above a rate only a sample is timed.
 */

/** Deliveries per second of one series that are all timed; above that, about this many are. */
export const TIMED_PER_SECOND = 1_000;

/** How often the stride follows the rate, in ms: soon enough that a burst is sampled within it. */
const RETUNE_MS = COARSE_TICK_MS;

/** Deliveries after which `maybeRetune` looks at the real clock even if the coarse one stood still. */
const LOOK_EVERY = 1_024;

/**
 * The shortest window a rate is taken over, when at least LOOK_EVERY deliveries fill it: a burst
 * then gets its stride within about 10 ms instead of RETUNE_MS, during which every delivery is timed.
 */
const MIN_WINDOW_MS = 10;

/** What a `metrics()` observer's `started` returns for a delivery it does not time. */
export const UNTIMED = -1;

/** How often one series' deliveries are timed: every `stride`-th. */
export class Timing {
  stride: number;
  /** Deliveries until the next timed one (a countdown: `%` on a float field costs a libm call). */
  #untilTimed = 1;
  #at = -Infinity;
  #from = 0;
  #lookAgainAt = 0;

  constructor(stride: number) {
    this.stride = stride;
  }

  /** Whether to time this delivery: every `stride`-th is. */
  timeThis(): boolean {
    if (--this.#untilTimed > 0) return false;
    this.#untilTimed = this.stride;
    return true;
  }

  /**
   * Retunes when due: looks at `clock` once RETUNE_MS passed on the coarse clock (`coarse`) or
   * LOOK_EVERY deliveries went by since it last looked — the coarse clock stands still while a
   * burst runs on microtasks alone (an in-memory transport), which would leave the stride as it was.
   */
  maybeRetune(consumed: number, coarse: number, clock: () => number): void {
    if (consumed < this.#lookAgainAt && coarse - this.#at < RETUNE_MS) return;
    this.#lookAgainAt = consumed + LOOK_EVERY;
    this.retune(consumed, clock());
  }

  /**
   * Every 100 ms (by `now`), or after 10 ms that saw at least LOOK_EVERY deliveries: every
   * delivery while the series saw up to TIMED_PER_SECOND a second since the last retune, about
   * that many a second above it. `consumed` is the series' count.
   */
  retune(consumed: number, now: number): void {
    const elapsed = now - this.#at;
    const seen = consumed - this.#from;
    if (elapsed < RETUNE_MS && (elapsed < MIN_WINDOW_MS || seen < LOOK_EVERY)) return;
    const perSecond = (seen * 1_000) / elapsed;
    this.stride = Math.max(1, Math.floor(perSecond / TIMED_PER_SECOND));
    this.#at = now;
    this.#from = consumed;
  }
}
