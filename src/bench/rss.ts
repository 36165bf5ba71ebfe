/** What an RSS sampler saw, in bytes. */
export interface RssPeak {
  baselineBytes: number;
  peakBytes: number;
  samples: number;
}

export interface RssSampler {
  /** Takes one reading now (the timer takes the others). */
  sample(): void;
  /** Stops the timer after a last reading and returns the baseline and the peak. */
  stop(): RssPeak;
}

/**
 * Reads the resident set size of this process every `intervalMs` (default 100), starting with
 * the baseline reading at the call. The timer does not keep the process alive.
 */
export function sampleRss(options: { intervalMs?: number; read?: () => number; timer?: boolean } = {}): RssSampler {
  const read = options.read ?? (() => process.memoryUsage.rss());
  const baselineBytes = read();
  let peakBytes = baselineBytes;
  let samples = 1;
  const sample = (): void => {
    peakBytes = Math.max(peakBytes, read());
    samples++;
  };
  const interval = options.timer === false ? undefined : setInterval(sample, options.intervalMs ?? 100);
  interval?.unref();
  return {
    sample,
    stop() {
      clearInterval(interval);
      sample();
      return { baselineBytes, peakBytes, samples };
    },
  };
}

export const MiB = 2 ** 20;
