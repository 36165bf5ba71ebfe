import { COARSE_TICK_MS } from '../internal/coarse-clock.ts';

/**
 * Which deliveries `metrics()` times. Reading the clock costs 40–50 ns on some virtual machines,
 * as much as all the counting of a delivery, so above a rate only a sample is timed.
 */

/** Deliveries per second of one series that are all timed; above that, about this many are. */
export const TIMED_PER_SECOND = 1_000;

/** How often the stride follows the rate, in ms: soon enough that a burst is sampled within it. */
export const RETUNE_MS = COARSE_TICK_MS;

/** What a `metrics()` observer's `started` returns for a delivery it does not time. */
export const UNTIMED = -1;

/** How often one series' deliveries are timed: every `stride`-th. */
export class Timing {
  stride: number;
  #at = -Infinity;
  #from = 0;

  constructor(stride: number) {
    this.stride = stride;
  }

  /**
   * Every 100 ms (by `now`): every delivery while the series saw up to TIMED_PER_SECOND a second
   * since the last retune, about that many a second above it. `consumed` is the series' count.
   */
  retune(consumed: number, now: number): void {
    const elapsed = now - this.#at;
    if (elapsed < RETUNE_MS) return;
    const perSecond = ((consumed - this.#from) * 1_000) / elapsed;
    this.stride = Math.max(1, Math.floor(perSecond / TIMED_PER_SECOND));
    this.#at = now;
    this.#from = consumed;
  }
}
