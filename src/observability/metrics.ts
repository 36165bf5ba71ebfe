import { register as defaultRegistry, type Registry } from 'prom-client';
import { ConfigError } from '../core/errors.ts';
import type { Middleware } from '../router/types.ts';
import { metricSet, type ConsumeSeries } from './metric-set.ts';

let offset = Date.now() - performance.now();
let offsetAt = performance.now();

/**
 * Wall-clock ms for a `performance.now()` reading, without a second clock call per message: the
 * offset between the clocks is re-read every second, so clock adjustments show up within one.
 */
function wallClock(now: number): number {
  if (now - offsetAt > 1_000) {
    offset = Date.now() - performance.now();
    offsetAt = now;
  }
  return offset + now;
}

/** Settings of `metrics()`. */
export interface MetricsOptions {
  /** The prom-client registry to register on. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Histogram buckets in seconds (for the first use of a registry). Default 1 ms … 60 s. */
  buckets?: readonly number[];
  /**
   * Time one delivery in this many per handler and topic for the duration and latency histograms
   * (their `_count` then counts timed deliveries). Counters stay exact. Default 1: every delivery.
   * Raise it where reading the clock is slow (some virtual machines) and throughput matters more.
   */
  timeEvery?: number;
}

/**
 * Router middleware that counts every delivery (consumed, acked, failed, retried, dead-lettered),
 * times the handler, measures end-to-end latency from the message timestamp and keeps an
 * in-flight gauge, under the names in `METRIC_NAMES`, labelled by transport, topic, group and
 * handler. Install it first (outermost) so a delivery counts once however often `retry()` runs
 * the handler. Counting is plain arithmetic; prom-client sees the figures when scraped.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * router.use(tracing(), metrics({ registry }), retry(), deadLetter());
 * http.createServer(metricsHandler({ registry })).listen(9464);
 * ```
 */
export function metrics(options: MetricsOptions = {}): Middleware {
  const timeEvery = options.timeEvery ?? 1;
  if (!Number.isInteger(timeEvery) || timeEvery < 1) throw new ConfigError(`metrics: timeEvery must be a whole number ≥ 1, got ${JSON.stringify(options.timeEvery)}`);
  const set = metricSet(options.registry ?? defaultRegistry, options.buckets);
  const cache = new Map<string, Map<string, ConsumeSeries>>();

  const seriesFor = (handler: string, topic: string, group: string, transport: string): ConsumeSeries => {
    let byTopic = cache.get(handler);
    if (!byTopic) {
      byTopic = new Map();
      cache.set(handler, byTopic);
    }
    let s = byTopic.get(topic);
    if (!s || s.labels.group !== group || s.labels.transport !== transport) {
      s = set.consumeSeries(transport, topic, group, handler);
      byTopic.set(topic, s);
    }
    return s;
  };

  return async function metrics(msg, ctx, next) {
    const s = seriesFor(ctx.handler, msg.topic, ctx.group, ctx.from.name);
    s.consumed++;
    s.inFlight++;
    if (msg.partition !== undefined) s.partitions[msg.partition] = (s.partitions[msg.partition] ?? 0) + 1;
    const outer = ctx.onCount;
    ctx.onCount = outer === undefined ? s.count : (counter) => (s.count(counter), outer(counter));
    const timed = timeEvery === 1 || s.consumed % timeEvery === 0;
    const started = timed ? performance.now() : 0;
    let ok = false;
    try {
      await next();
      ok = true;
    } finally {
      s.inFlight--;
      ctx.onCount = outer;
      if (ok) s.acked++;
      else s.failed++;
      if (timed) {
        const ended = performance.now();
        s.duration.observe((ended - started) / 1000);
        if (ok) {
          const latency = (wallClock(ended) - msg.timestamp) / 1000;
          s.latency.observe(latency > 0 ? latency : 0);
        }
      }
    }
  };
}
