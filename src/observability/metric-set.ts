import { Counter, Gauge, Histogram, type MetricObjectWithValues, type MetricValueWithName, type Registry } from 'prom-client';
import { ConfigError } from '../core/errors.ts';
import { DEFAULT_BUCKETS, METRIC_NAMES } from './metric-names.ts';

/** Bucket counts, sum and count of one histogram series; `observe` is a few additions. */
export class Buckets {
  readonly bounds: readonly number[];
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

type ConsumeLabels = { transport: string; topic: string; group: string; handler: string };
type PublishLabels = { transport: string; topic: string };

/** One handler's figures on one topic. Plain numbers: the hot path never touches prom-client. */
export class ConsumeSeries {
  readonly labels: ConsumeLabels;
  consumed = 0;
  acked = 0;
  failed = 0;
  retried = 0;
  deadLettered = 0;
  inFlight = 0;
  readonly duration: Buckets;
  readonly latency: Buckets;
  /** Deliveries per partition (index), for skew detection. */
  readonly partitions: number[] = [];
  /** What was last handed to prom-client's counters. */
  readonly reported = { consumed: 0, acked: 0, failed: 0, retried: 0, deadLettered: 0 };
  /** Counts a router counter (`ctx.onCount`): one function per series, not one per message. */
  readonly count = (counter: string): void => {
    if (counter === 'retried') this.retried++;
    else if (counter === 'dead-lettered') this.deadLettered++;
  };

  constructor(labels: ConsumeLabels, bounds: readonly number[]) {
    this.labels = labels;
    this.duration = new Buckets(bounds);
    this.latency = new Buckets(bounds);
  }
}

/** One transport's publishes to one topic. */
export class PublishSeries {
  readonly labels: PublishLabels;
  published = 0;
  failed = 0;
  /** Messages published per key (only when key tracking is on), for skew detection. */
  keys: Map<string, number> | undefined;
  readonly reported = { published: 0, failed: 0 };

  constructor(labels: PublishLabels) {
    this.labels = labels;
  }
}

const CONSUME_LABELS = ['transport', 'topic', 'group', 'handler'] as const;
const PUBLISH_LABELS = ['transport', 'topic'] as const;
const LAG_LABELS = ['transport', 'topic', 'group', 'source'] as const;

/**
 * A histogram whose series live in `Buckets` objects and are read at scrape time, so observing
 * costs a loop over the bounds instead of prom-client's label hashing.
 */
class SeriesHistogram extends Histogram<string> {
  readonly #series: () => Iterable<{ labels: Record<string, string>; buckets: Buckets }>;
  readonly #name: string;
  readonly #help: string;

  constructor(name: string, help: string, bounds: readonly number[], registry: Registry, series: () => Iterable<{ labels: Record<string, string>; buckets: Buckets }>) {
    super({ name, help, labelNames: [...CONSUME_LABELS], buckets: [...bounds], registers: [registry] });
    this.#series = series;
    this.#name = name;
    this.#help = help;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    // prom-client's typings give `type` as a numeric enum; at run time (and in its own get()) it is 'histogram'.
    const metric = { name: this.#name, help: this.#help, type: 'histogram', aggregator: 'sum', values: this.#values() };
    return metric as unknown as MetricObjectWithValues<MetricValueWithName<string>>;
  }

  /** What prom-client's registry reads when rendering text (not in its typings; same values as `get()`). */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    return this.get();
  }

  #values(): Array<MetricValueWithName<string>> {
    const values: Array<MetricValueWithName<string>> = [];
    for (const { labels, buckets } of this.#series()) {
      let cumulative = 0;
      buckets.bounds.forEach((le, i) => {
        cumulative += buckets.counts[i]!;
        values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.#name}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: buckets.count, metricName: `${this.#name}_bucket` });
      values.push({ labels, value: buckets.sum, metricName: `${this.#name}_sum` });
      values.push({ labels, value: buckets.count, metricName: `${this.#name}_count` });
    }
    return values;
  }
}

/** Lag figures the lag monitor reports, per transport, topic, group and source. */
export interface LagFigure {
  /** `source`: the name of the LagSource that read it. */
  labels: { transport: string; topic: string; group: string; source: string };
  messages: number;
  ageSeconds: number | undefined;
}

/**
 * Every Switchyard metric of one prom-client registry, with the plain-number series behind them.
 * Created once per registry (`metricSet(registry)`), shared by `metrics()`, `instrument()`, the
 * lag monitor, the alert rules and `observeCircuit()`.
 *
 * @example
 * ```ts
 * for (const s of metricSet(registry).consume) console.log(s.labels.handler, s.acked, s.failed);
 * ```
 */
export class MetricSet {
  readonly registry: Registry;
  #bounds: readonly number[];
  /** Whether `bounds` were asked for (`metrics({ buckets })`) rather than the defaults. */
  #boundsChosen: boolean;
  readonly consume: ConsumeSeries[] = [];
  readonly publish: PublishSeries[] = [];
  readonly lag = new Map<string, LagFigure>();
  readonly circuits = new Map<string, number>();
  readonly #publishIndex = new Map<string, Map<string, PublishSeries>>();
  readonly #consumeIndex = new Map<string, ConsumeSeries>();
  readonly alerts: Counter<'type' | 'rule'>;
  /** Publish series track keys (for skew alerts) once an alert rule asked for it. */
  trackKeys = false;

  constructor(registry: Registry, bounds?: readonly number[]) {
    this.registry = registry;
    this.#bounds = bounds ?? DEFAULT_BUCKETS;
    this.#boundsChosen = bounds !== undefined;
    // The collect callbacks run with `this` bound to the prom-client metric: capture our collections.
    const { consume, publish, lag, circuits } = this;
    const flushCounter = <S extends { reported: Record<string, number>; labels: Record<string, string> }>(
      counter: Counter<string>,
      series: () => readonly S[],
      field: keyof S['reported'] & keyof S,
    ): void => {
      for (const s of series()) {
        const now = s[field] as unknown as number;
        // A zero delta still creates the series, so a counter shows 0 rather than nothing.
        counter.inc(s.labels, now - s.reported[field as string]!);
        s.reported[field as string] = now;
      }
    };
    const consumeCounter = (name: string, help: string, field: keyof ConsumeSeries['reported']): void => {
      new Counter({
        name,
        help,
        labelNames: [...CONSUME_LABELS],
        registers: [registry],
        collect() {
          flushCounter(this, () => consume, field);
        },
      });
    };
    const publishCounter = (name: string, help: string, field: keyof PublishSeries['reported']): void => {
      new Counter({
        name,
        help,
        labelNames: [...PUBLISH_LABELS],
        registers: [registry],
        collect() {
          flushCounter(this, () => publish, field);
        },
      });
    };
    publishCounter(METRIC_NAMES.published, 'Messages published (the publish resolved).', 'published');
    publishCounter(METRIC_NAMES.publishFailed, 'Messages whose publish rejected.', 'failed');
    consumeCounter(METRIC_NAMES.consumed, 'Deliveries handed to a handler, redeliveries included.', 'consumed');
    consumeCounter(METRIC_NAMES.acked, 'Deliveries that succeeded and were acknowledged.', 'acked');
    consumeCounter(METRIC_NAMES.failed, 'Deliveries that failed and go back to the transport for redelivery.', 'failed');
    consumeCounter(METRIC_NAMES.retried, 'In-process retries of a failed attempt.', 'retried');
    consumeCounter(METRIC_NAMES.deadLettered, 'Messages sent to a dead-letter topic.', 'deadLettered');
    new SeriesHistogram(METRIC_NAMES.handlerDuration, 'Time in the handler and its inner middleware, in seconds.', this.#bounds, registry, function* () {
      for (const s of consume) yield { labels: s.labels, buckets: s.duration };
    });
    new SeriesHistogram(METRIC_NAMES.endToEndLatency, 'Time from the message timestamp (publish) to handled, in seconds.', this.#bounds, registry, function* () {
      for (const s of consume) if (s.latency.count > 0) yield { labels: s.labels, buckets: s.latency };
    });
    new Gauge({
      name: METRIC_NAMES.inFlight,
      help: 'Handlers running now.',
      labelNames: [...CONSUME_LABELS],
      registers: [registry],
      collect() {
        for (const s of consume) this.set(s.labels, s.inFlight);
      },
    });
    new Gauge({
      name: METRIC_NAMES.circuitState,
      help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open.',
      labelNames: ['circuit'],
      registers: [registry],
      collect() {
        for (const [circuit, value] of circuits) this.set({ circuit }, value);
      },
    });
    new Gauge({
      name: METRIC_NAMES.consumerLag,
      help: 'Messages a consumer group still has to process.',
      labelNames: [...LAG_LABELS],
      registers: [registry],
      collect() {
        this.reset();
        for (const f of lag.values()) this.set(f.labels, f.messages);
      },
    });
    new Gauge({
      name: METRIC_NAMES.consumerLagAge,
      help: 'Age of the oldest message a consumer group has not processed, in seconds.',
      labelNames: [...LAG_LABELS],
      registers: [registry],
      collect() {
        this.reset();
        for (const f of lag.values()) if (f.ageSeconds !== undefined) this.set(f.labels, f.ageSeconds);
      },
    });
    this.alerts = new Counter({ name: METRIC_NAMES.alerts, help: 'Alerts raised and cleared, by event type and rule.', labelNames: ['type', 'rule'], registers: [registry] });
  }

  /** The histogram bucket bounds, in seconds. */
  get bounds(): readonly number[] {
    return this.#bounds;
  }

  /**
   * Takes `buckets` as the histogram bounds, for a set that something without buckets
   * (`instrument()`, `lagMonitor()`) registered first: until a histogram series exists nothing has
   * been observed against the defaults. Throws a ConfigError when other bounds were asked for or
   * are in use already, rather than silently keep them.
   */
  useBuckets(buckets: readonly number[]): void {
    if (sameBounds(buckets, this.#bounds)) {
      this.#boundsChosen = true;
      return;
    }
    if (this.#boundsChosen || this.consume.length > 0) {
      const why = this.#boundsChosen ? 'were chosen already' : 'are in use already';
      throw new ConfigError(
        `buckets ${JSON.stringify(buckets)}: this registry's histogram buckets ${why} (${JSON.stringify(this.#bounds)}); pass the same buckets to every metrics() of a registry, or use another registry`,
      );
    }
    this.#bounds = buckets;
    this.#boundsChosen = true;
  }

  /** The series of one handler on one topic (created on first use). */
  consumeSeries(transport: string, topic: string, group: string, handler: string): ConsumeSeries {
    const id = `${transport}\u0000${topic}\u0000${group}\u0000${handler}`;
    let s = this.#consumeIndex.get(id);
    if (!s) {
      s = new ConsumeSeries({ transport, topic, group, handler }, this.#bounds);
      this.#consumeIndex.set(id, s);
      this.consume.push(s);
    }
    return s;
  }

  /** The series of one transport's publishes to one topic (created on first use). */
  publishSeries(transport: string, topic: string): PublishSeries {
    let byTopic = this.#publishIndex.get(transport);
    if (!byTopic) {
      byTopic = new Map();
      this.#publishIndex.set(transport, byTopic);
    }
    let s = byTopic.get(topic);
    if (!s) {
      s = new PublishSeries({ transport, topic });
      byTopic.set(topic, s);
      this.publish.push(s);
    }
    return s;
  }
}

const sets = new WeakMap<Registry, MetricSet>();

/**
 * The Switchyard metrics of `registry`, registering them on first use (and again after
 * `registry.clear()`; what was created before the clear keeps counting into the cleared set).
 * Throws a ConfigError when a metric of the same name was registered there by something else, or
 * when `buckets` differ from those the registry's histograms already use or were given. `metrics()`,
 * `instrument()`, `lagMonitor()`, `alertRules()` and `observeCircuit()` call it; call it yourself
 * to read figures.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * const set = metricSet(registry, [0.005, 0.05, 0.5, 5]); // custom buckets, before metrics({ registry })
 * ```
 */
export function metricSet(registry: Registry, buckets?: readonly number[]): MetricSet {
  // Finite: the +Inf bucket is always there, and a bound of Infinity would make a second one.
  if (buckets !== undefined && (!Array.isArray(buckets) || buckets.length === 0 || buckets.some((b, i) => typeof b !== 'number' || !Number.isFinite(b) || b <= 0 || (i > 0 && b <= buckets[i - 1]!)))) {
    throw new ConfigError(`buckets must be finite positive numbers of seconds in increasing order, without repeats (the +Inf bucket is added), got ${describeBuckets(buckets)}`);
  }
  // A copy: the caller's array changing later must not move the bounds of series already counting.
  const bounds = buckets === undefined ? undefined : Object.freeze([...buckets]);
  let set = sets.get(registry);
  // After `registry.clear()` (common between tests) the cached set's metrics are gone from the
  // registry: register a new set rather than count into metrics nobody can scrape.
  if (set && registry.getSingleMetric(METRIC_NAMES.alerts) === set.alerts) {
    if (bounds !== undefined) set.useBuckets(bounds);
    return set;
  }
  const taken = Object.values(METRIC_NAMES).filter((name) => registry.getSingleMetric(name) !== undefined);
  ConfigError.throwIfAny(taken.map((name) => `metric "${name}" is already registered on this registry by something other than Switchyard's metrics; use another registry`));
  set = new MetricSet(registry, bounds);
  sets.set(registry, set);
  return set;
}

/**
 * The `topic` label `ask()` (a call of a `topicLabel` function) gives `topic`; the topic itself,
 * with why, when it throws or returns no string. Counting must not fail a delivery or a publish (a delivery would be
 * redelivered, and fail again, for ever), so `metrics()` and `instrument()` fall back instead.
 */
export function topicLabelOf(ask: () => unknown, topic: string): { label: string; problem?: string } {
  let label: unknown;
  try {
    label = ask();
  } catch (error) {
    label = error;
  }
  if (typeof label === 'string') return { label };
  return { label: topic, problem: label instanceof Error ? `threw ${label.message}` : `returned ${typeof label}` };
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** `buckets` for an error message: JSON shows Infinity and NaN as null, which would hide the problem. */
function describeBuckets(buckets: unknown): string {
  return Array.isArray(buckets) ? `[${buckets.map((b) => (typeof b === 'number' ? String(b) : JSON.stringify(b))).join(', ')}]` : JSON.stringify(buckets);
}
