/**
 * A clock that costs nothing to read: milliseconds as of a timer's last tick. Reading the real
 * clock costs 40–50 ns on some virtual machines — per message, that is a noticeable share of the
 * router's path. For leases, TTLs and "has 100 ms passed" a tick's precision is plenty.
 */

/** Tick interval of the coarse clock, in ms. */
export const COARSE_TICK_MS = 100;

let coarse = Date.now();
let ticking: NodeJS.Timeout | undefined;

/** Starts the ticking timer (once per process; unref'd, so it keeps no process alive). */
export function startCoarseClock(): void {
  ticking ??= setInterval(() => {
    coarse = Date.now();
  }, COARSE_TICK_MS).unref();
}

/** Milliseconds since the epoch as of the last tick (at most COARSE_TICK_MS behind `Date.now()`). */
export function coarseMs(): number {
  return coarse;
}
