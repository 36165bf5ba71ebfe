import { register as defaultRegistry, type Registry } from 'prom-client';
import { ConfigError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import type { DeliveryObserver, Middleware, RouterContext } from '../router/types.ts';
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
   * Raise it where reading the clock is slow (some virtual machines) and throughput matters more:
   * untimed deliveries read it once (at the start) instead of twice.
   */
  timeEvery?: number;
}

/**
 * Router middleware that counts every delivery (consumed, acked, failed, retried, dead-lettered),
 * times it, measures end-to-end latency from the message timestamp and keeps an in-flight gauge,
 * under the names in `METRIC_NAMES`, labelled by transport, topic, group and handler. Install it
 * first (outermost): a delivery then counts once however often `retry()` runs the handler, and the
 * router calls it around each delivery rather than as a layer of the chain (see
 * `DeliveryObserver`), which keeps it off the per-message promise path. Counting is plain
 * arithmetic; prom-client sees the figures when scraped.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * router.use(metrics({ registry }), tracing(), retry(), deadLetter());
 * http.createServer(metricsHandler({ registry })).listen(9464);
 * ```
 */
export function metrics(options: MetricsOptions = {}): Middleware {
  const timeEvery = options.timeEvery ?? 1;
  if (!Number.isInteger(timeEvery) || timeEvery < 1) throw new ConfigError(`metrics: timeEvery must be a whole number ≥ 1, got ${JSON.stringify(options.timeEvery)}`);
  const set = metricSet(options.registry ?? defaultRegistry, options.buckets);
  const cache = new Map<string, Map<string, ConsumeSeries>>();
  let last: ConsumeSeries | undefined; // most deliveries in a row belong to one series

  const seriesFor = (msg: Message, ctx: RouterContext): ConsumeSeries => {
    const { handler, group } = ctx;
    const topic = msg.topic;
    const transport = ctx.from.name;
    const l = last?.labels;
    if (l && l.topic === topic && l.handler === handler && l.group === group && l.transport === transport) return last!;
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
    return (last = s);
  };

  const observer: DeliveryObserver = {
    started(msg, ctx) {
      const s = seriesFor(msg, ctx);
      s.consumed++;
      s.inFlight++;
      if (msg.partition !== undefined) s.partitions[msg.partition] = (s.partitions[msg.partition] ?? 0) + 1;
      const outer = ctx.onCount;
      ctx.onCount = outer === undefined ? s.count : (counter) => (s.count(counter), outer(counter));
    },
    ended(msg, ctx, startedAt, succeeded) {
      const s = seriesFor(msg, ctx);
      s.inFlight--;
      if (succeeded) s.acked++;
      else s.failed++;
      if (timeEvery !== 1 && s.consumed % timeEvery !== 0) return;
      const ended = performance.now();
      s.duration.observe((ended - startedAt) / 1000);
      if (succeeded) {
        const latency = (wallClock(ended) - msg.timestamp) / 1000;
        s.latency.observe(latency > 0 ? latency : 0);
      }
    },
  };

  // The same, as a layer: where metrics() is not outermost (inside retry(), it counts attempts).
  const middleware = async function metrics(msg: Message, ctx: RouterContext, next: () => Promise<void>): Promise<void> {
    const outer = ctx.onCount;
    const startedAt = performance.now();
    observer.started(msg, ctx);
    let succeeded = false;
    try {
      await next();
      succeeded = true;
    } finally {
      observer.ended(msg, ctx, startedAt, succeeded);
      ctx.onCount = outer;
    }
  };
  return Object.assign(middleware, { observer });
}
