import type { RouteStats } from './bridge.ts';

/** Something that has route figures: a Bridge. */
export interface StatsSource {
  stats(): RouteStats[];
}

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * One line with every route's rate since the previous reading: `orders-to-kafka 1,204 msg/s
 * (12,040 fwd, 1,204 filtered) | …`, flagging routes that wait for their sink or dead-lettered.
 *
 * @example
 * ```ts
 * progressLine(bridge.stats(), previous, 1_000);
 * ```
 */
export function progressLine(now: readonly RouteStats[], before: readonly RouteStats[] | undefined, elapsedMs: number): string {
  return now
    .map((r) => {
      const prev = before?.find((b) => b.name === r.name);
      const rate = elapsedMs > 0 ? ((r.received - (prev?.received ?? 0)) * 1_000) / elapsedMs : 0;
      const extra = [`${number.format(r.forwarded)} fwd`];
      if (r.filtered > 0) extra.push(`${number.format(r.filtered)} filtered`);
      if (r.dropped > 0) extra.push(`${number.format(r.dropped)} dropped`);
      if (r.deadLettered > 0) extra.push(`${number.format(r.deadLettered)} dead-lettered`);
      const state = r.backingOff ? ' [sink down, backing off]' : r.state !== 'running' ? ` [${r.state}]` : '';
      return `${r.name} ${number.format(rate)} msg/s (${extra.join(', ')})${state}`;
    })
    .join(' | ');
}

/**
 * Writes a progress line every `intervalMs`: redrawn in place on a terminal, one line per
 * interval otherwise (logs). Returns a function that stops it and writes the final line.
 *
 * @example
 * ```ts
 * const stop = showProgress(bridge, process.stderr);
 * ```
 */
export function showProgress(source: StatsSource, stream: NodeJS.WritableStream & { isTTY?: boolean }, intervalMs = 1_000): () => void {
  let before = source.stats();
  let at = performance.now();
  const write = (final: boolean): void => {
    const now = source.stats();
    const t = performance.now();
    const line = progressLine(now, before, t - at);
    before = now;
    at = t;
    if (stream.isTTY) stream.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    else stream.write(`${line}\n`);
  };
  const timer = setInterval(() => write(false), intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    write(true);
  };
}
