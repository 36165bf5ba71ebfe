import { register as defaultRegistry, type Registry } from 'prom-client';
import { ConfigError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import type { DeliveryObserver, Middleware, RouterContext } from '../router/types.ts';
import { metricSet, topicLabelOf, type ConsumeSeries } from './metric-set.ts';
import { coarseMs, startCoarseClock } from '../internal/coarse-clock.ts';
import { Timing, UNTIMED } from './timing.ts';

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

/**
 * Topics one handler's cache holds before it starts over. A pattern subscription can see an
 * open-ended set of topics (one per tenant) that `topicLabel` folds into a few series; the cache
 * only saves the label lookup, so forgetting it loses nothing but that, while keeping it would
 * grow without bound.
 *
 * @internal
 */
export const CACHED_TOPICS_PER_HANDLER = 4_096;

/** @internal The cache of each `metrics()` middleware, for tests to check that it stays bounded. */
const caches = new WeakMap<Middleware, ReadonlyMap<string, ReadonlyMap<string, unknown>>>();

/** @internal How many topics `middleware` (from `metrics()`) has cached for `handler`. */
export function cachedTopicCount(middleware: Middleware, handler: string): number {
  return caches.get(middleware)?.get(handler)?.size ?? 0;
}

/** A series with how it is timed. */
interface Tracked {
  /** The message topic this entry is for (the series' label may name several, see `topicLabel`). */
  readonly topic: string;
  readonly series: ConsumeSeries;
  readonly timing: Timing;
}

/** Settings of `metrics()`. */
export interface MetricsOptions {
  /** The prom-client registry to register on. Default: prom-client's global `register`. */
  registry?: Registry;
  /**
   * Histogram buckets in seconds. Default 1 ms … 60 s. One set per registry: every `metrics()` of a
   * registry must pass the same (or none); `instrument()` and the lag monitor may come first.
   */
  buckets?: readonly number[];
  /**
   * Which deliveries the duration and latency histograms time, per handler and topic: one in this
   * many, or `'auto'` (the default) — every delivery while a handler sees up to 1,000 a second on
   * a topic, and about 1,000 a second above that. Counters always count every delivery; the
   * histograms' `_count` counts timed ones (use `…_consumed_total` for rates). Reading the clock
   * costs 40–50 ns a time on some virtual machines — as much as the rest of the metrics together.
   */
  timeEvery?: number | 'auto';
  /**
   * The `topic` label for a message's topic. Default: the topic itself. Each distinct label is a
   * set of series in Prometheus, so a handler that consumes an open-ended set of topics through a
   * pattern (`tenant.*.orders`, one topic per tenant) should fold them, for instance into the
   * pattern with `(topic, route) => route`. Series folded together also share their partition
   * counts (the partition-skew alert then compares partition numbers across those topics).
   */
  topicLabel?: (topic: string, route: string) => string;
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
  const timeEvery = options.timeEvery ?? 'auto';
  const auto = timeEvery === 'auto';
  if (!auto && (!Number.isInteger(timeEvery) || timeEvery < 1)) {
    throw new ConfigError(`metrics: timeEvery must be 'auto' or a whole number ≥ 1, got ${JSON.stringify(options.timeEvery)}`);
  }
  if (auto) startCoarseClock();
  const set = metricSet(options.registry ?? defaultRegistry, options.buckets);
  const topicLabel = options.topicLabel;
  if (topicLabel !== undefined && typeof topicLabel !== 'function') throw new ConfigError(`metrics: topicLabel must be a function, got ${typeof topicLabel}`);
  const cache = new Map<string, Map<string, Tracked>>();
  let last: Tracked | undefined; // most deliveries in a row belong to one series

  const trackedFor = (msg: Message, ctx: RouterContext): Tracked => {
    const { handler, group } = ctx;
    const topic = msg.topic;
    const transport = ctx.from.name;
    const l = last?.series.labels;
    if (l && last!.topic === topic && l.handler === handler && l.group === group && l.transport === transport) return last!;
    let byTopic = cache.get(handler);
    if (!byTopic) {
      byTopic = new Map();
      cache.set(handler, byTopic);
    }
    let t = byTopic.get(topic);
    if (!t || t.series.labels.group !== group || t.series.labels.transport !== transport) {
      const label = topicLabel ? labelOf(topicLabel, topic, ctx) : topic;
      t = { topic, series: set.consumeSeries(transport, label, group, handler), timing: new Timing(auto ? 1 : timeEvery) };
      // Starting over keeps the series (they live in the metric set); `last` stays valid.
      if (byTopic.size >= CACHED_TOPICS_PER_HANDLER && !byTopic.has(topic)) byTopic.clear();
      byTopic.set(topic, t);
    }
    return (last = t);
  };

  const observer: DeliveryObserver = {
    started(msg, ctx) {
      const { series: s, timing } = trackedFor(msg, ctx);
      s.consumed++;
      s.inFlight++;
      if (msg.partition !== undefined) s.partitions[msg.partition] = (s.partitions[msg.partition] ?? 0) + 1;
      const outer = ctx.onCount;
      ctx.onCount = outer === undefined ? s.count : (counter) => (s.count(counter), outer(counter));
      if (auto) timing.maybeRetune(s.consumed, coarseMs(), Date.now);
      return timing.timeThis() ? performance.now() : UNTIMED;
    },
    ended(msg, ctx, startedAt, succeeded) {
      const s = trackedFor(msg, ctx).series;
      s.inFlight--;
      if (succeeded) s.acked++;
      else s.failed++;
      if (startedAt === UNTIMED) return;
      const ended = performance.now();
      s.duration.observe((ended - startedAt) / 1000);
      // A timestamp of 0 or below is none (Kafka's -1 for records without one): no latency to record,
      // rather than 56 years of it, which would also fire the latency alert.
      if (succeeded && msg.timestamp > 0) {
        const latency = (wallClock(ended) - msg.timestamp) / 1000;
        s.latency.observe(latency > 0 ? latency : 0);
      }
    },
  };

  // The same, as a layer: where metrics() is not outermost (inside retry(), it counts attempts).
  const middleware = async function metrics(msg: Message, ctx: RouterContext, next: () => Promise<void>): Promise<void> {
    const outer = ctx.onCount;
    const startedAt = observer.started(msg, ctx);
    let succeeded = false;
    try {
      await next();
      succeeded = true;
    } finally {
      observer.ended(msg, ctx, startedAt, succeeded);
      ctx.onCount = outer;
    }
  };
  const instrumented = Object.assign(middleware, { observer });
  caches.set(instrumented, cache);
  return instrumented;
}

/** The series label of `topic`; a failing `topicLabel` is logged once per topic while the answer stays cached with the series. */
function labelOf(topicLabel: (topic: string, route: string) => string, topic: string, ctx: RouterContext): string {
  const { label, problem } = topicLabelOf(() => topicLabel(topic, ctx.route), topic);
  if (problem !== undefined) ctx.logger.warn(`metrics: topicLabel ${problem} for topic "${topic}"; labelling its series with the topic itself`);
  return label;
}
