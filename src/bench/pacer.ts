/** Time as the pacer sees it; tests pass a fake one. */
export interface PacerClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PacerClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** How many messages a fixed-rate schedule has due `elapsedMs` after it started. */
export function dueBy(elapsedMs: number, ratePerSecond: number): number {
  return Math.max(0, Math.floor((elapsedMs * ratePerSecond) / 1_000));
}

export interface PaceOptions {
  /** Messages per second. */
  rate: number;
  /** Messages in all. */
  total: number;
  /** Wake-up interval, ms. Default 1. */
  tickMs?: number;
  clock?: PacerClock;
}

/**
 * Hands `send` the messages that fell due since its last call, every tick, until `total` were
 * handed over. It never waits for a send to finish: a slow broker shows up as latency, not as a
 * lower rate. A late tick (a busy event loop) hands over everything that fell due meanwhile.
 */
export async function pace(options: PaceOptions, send: (n: number) => void): Promise<void> {
  const { rate, total, tickMs = 1, clock = realClock } = options;
  const start = clock.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, dueBy(clock.now() - start, rate));
    if (due > sent) {
      send(due - sent);
      sent = due;
    }
    if (sent < total) await clock.sleep(tickMs);
  }
}

/** Bytes at the start of a stamped payload that hold its send time. */
export const STAMP_BYTES = 8;

/** A payload of `size` bytes (at least 8) carrying `at` (a `performance.now()` time) in its first 8 bytes. */
export function stamped(size: number, at: number): Buffer {
  const payload = Buffer.alloc(Math.max(STAMP_BYTES, size));
  payload.writeDoubleLE(at, 0);
  return payload;
}

/** The send time a stamped payload carries. */
export function stampOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getFloat64(0, true);
}
