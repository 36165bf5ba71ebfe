import type { Sample, Spread } from './types.ts';

/** Median, min and max of the per-round rates. */
export function spread(rates: readonly number[]): Spread {
  const sorted = rates.toSorted((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** The q-quantile (0..1) of values, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Operations per second of a sample. */
export function rate(sample: Sample): number {
  return sample.ops / sample.seconds;
}

/** Times `work`, which reports how many operations it did. */
export async function timed(work: () => Promise<number>): Promise<Sample> {
  const start = process.hrtime.bigint();
  const ops = await work();
  return { ops, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}
