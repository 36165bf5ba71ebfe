import { register as defaultRegistry, type Registry } from 'prom-client';
import { ConfigError, toError } from '../core/errors.ts';
import { MAX_TIMER_MS } from '../core/timer-limit.ts';
import { withTimeout } from '../internal/with-timeout.ts';
import type { Logger } from '../router/types.ts';
import { metricSet, type MetricSet } from './metric-set.ts';

/** How far one consumer group is behind on one topic, at one moment. */
export interface LagReading {
  /** The transport's name (`memory`, `embedded`, `kafka`, `rabbitmq`, `nats`). */
  transport: string;
  topic: string;
  group: string;
  /** Messages the group still has to process (published and not yet acknowledged). */
  messages: number;
  /** Age of the oldest message the group has not processed, in ms, where the source knows it. */
  oldestAgeMs?: number;
  /** The same per partition, where the transport has partitions. */
  partitions?: Array<{ partition: number; messages: number }>;
}

/**
 * Where lag is read from: one per transport (or per set of groups). `read()` returns the current
 * lag of every group it covers; it rejects when the broker cannot be asked.
 *
 * @example
 * ```ts
 * const source: LagSource = { name: 'orders', read: async () => [{ transport: 'custom', topic: 'orders', group: 'billing', messages: 3 }] };
 * ```
 */
export interface LagSource {
  readonly name: string;
  read(): Promise<LagReading[]>;
}

/** When a group counts as lagging. A threshold left out is not checked. */
export interface LagThresholds {
  /** Messages behind. */
  messages?: number;
  /** Age of the oldest unprocessed message, in ms. */
  ageMs?: number;
}

/** What the lag monitor reports; switch on `type`. */
export type LagEvent =
  | { type: 'lag.high'; source: string; reading: LagReading; threshold: LagThresholds; at: number }
  /** `gone`: the group is no longer reported (deleted, or its subscription closed); `reading` is its last. */
  | { type: 'lag.recovered'; source: string; reading: LagReading; threshold: LagThresholds; at: number; highForMs: number; gone?: true }
  | { type: 'lag.error'; source: string; error: Error; at: number };

/** Settings of `lagMonitor()`. */
export interface LagMonitorOptions {
  sources: readonly LagSource[];
  /** Time between samples, in ms. Up to 2³¹ − 1. Default 30,000. */
  intervalMs?: number;
  /**
   * How long one source's `read()` may take before it counts as failed (`lag.error`), in ms. A
   * client waiting for a broker that went away may not answer until the broker is back, and
   * samples share the one in progress: without a limit the monitor would go quiet for as long.
   * Up to 2³¹ − 1. Default 10,000.
   */
  readTimeoutMs?: number;
  /** A group is lagging once it reaches either threshold. Default `{ messages: 10_000 }`. */
  high?: LagThresholds;
  /**
   * A lagging group has recovered once it is at or below every threshold here (hysteresis, so a
   * group hovering around `high` does not flap). Each must be below its `high` counterpart; one
   * left out is half of its `high` threshold. Default: half of each `high` threshold.
   */
  recovered?: LagThresholds;
  /**
   * Export `switchyard_consumer_lag_messages` / `_seconds` (labels `transport`, `topic`, `group`
   * and the source's name as `source`) here; `false` for none. Default: prom-client's global `register`.
   */
  registry?: Registry | false;
  /** Where `lag.high` (warn), `lag.recovered` (info) and read errors (warn) are logged. Default: none. */
  logger?: Logger;
}

interface GroupState {
  high: boolean;
  since: number;
  /** The source and reading that raised `lag.high`, to close it if the group goes away. */
  raised?: { source: string; reading: LagReading };
}

/**
 * Samples consumer lag from its sources on an interval, exports it as gauges, and raises
 * `lag.high` when a group crosses a threshold and `lag.recovered` once it is back under the
 * recovery thresholds — each once per episode.
 *
 * @example
 * ```ts
 * const monitor = lagMonitor({ sources: [memoryLagSource(bus)], high: { messages: 1_000, ageMs: 60_000 }, logger });
 * monitor.on((e) => { if (e.type === 'lag.high') page(`${e.reading.group} is ${e.reading.messages} behind`); });
 * monitor.start();
 * ```
 */
export class LagMonitor {
  readonly #sources: readonly LagSource[];
  readonly #intervalMs: number;
  readonly #readTimeoutMs: number;
  readonly #high: LagThresholds;
  readonly #recovered: LagThresholds;
  readonly #set: MetricSet | undefined;
  readonly #logger: Logger | undefined;
  readonly #listeners = new Set<(event: LagEvent) => void>();
  readonly #state = new Map<string, GroupState>();
  #timer: NodeJS.Timeout | undefined;
  #sampling: Promise<LagReading[]> | undefined;
  #last: LagReading[] = [];
  /**
   * Each source's last readings that it could read: while it fails they keep its groups' alert
   * state (a broker that is away is no evidence that a group caught up or went away).
   */
  readonly #lastRead = new Map<string, LagReading[]>();
  /** Reads still running, by source. */
  readonly #reading = new Map<LagSource, Promise<LagReading[]>>();
  readonly #id = String(++monitors);
  /** Counts `stop()` calls: a sample that began before one exports nothing. */
  #epoch = 0;

  constructor(options: LagMonitorOptions) {
    const problems: string[] = [];
    if (!Array.isArray(options?.sources) || options.sources.length === 0) problems.push('lagMonitor: sources must list at least one LagSource');
    else {
      options.sources.forEach((s, i) => typeof s?.read !== 'function' && problems.push(`lagMonitor: sources[${i}] is not a LagSource ({ name, read() })`));
      const names = options.sources.map((s) => s?.name);
      const twice = [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
      if (twice.length > 0) problems.push(`lagMonitor: source names must be unique; ${twice.map((n) => JSON.stringify(n)).join(', ')} appears more than once; give each its own name (kafkaLagSource(…, { name }); any other source: { ...source, name: '…' })`);
    }
    const intervalMs = options?.intervalMs ?? 30_000;
    const readTimeoutMs = options?.readTimeoutMs ?? 10_000;
    // Past the timer limit Node fires after 1 ms: a monitor would read its brokers a thousand times a second.
    for (const [name, value] of [['intervalMs', intervalMs], ['readTimeoutMs', readTimeoutMs]] as const) {
      if (!(typeof value === 'number' && value > 0 && value <= MAX_TIMER_MS)) problems.push(`lagMonitor: ${name} must be a number of ms above 0, up to ${MAX_TIMER_MS}, got ${value}`);
    }
    const high = options?.high ?? { messages: 10_000 };
    if (high.messages === undefined && high.ageMs === undefined) problems.push('lagMonitor: high needs messages and/or ageMs');
    // A high threshold of 0 holds for an idle group, and recovery at or above high flaps: a reading
    // between the two would raise lag.high and lag.recovered on alternate samples.
    if (high.messages !== undefined && !(high.messages > 0)) problems.push(`lagMonitor: high.messages must be > 0, got ${high.messages}`);
    if (high.ageMs !== undefined && !(high.ageMs > 0)) problems.push(`lagMonitor: high.ageMs must be > 0, got ${high.ageMs}`);
    const recovered = options?.recovered ?? {};
    for (const field of ['messages', 'ageMs'] as const) {
      const r = recovered[field];
      if (r === undefined) continue;
      if (!(r >= 0)) problems.push(`lagMonitor: recovered.${field} must be ≥ 0, got ${r}`);
      else if (high[field] !== undefined && !(r < high[field])) problems.push(`lagMonitor: recovered.${field} (${r}) must be below high.${field} (${high[field]}), or the group flaps between lag.high and lag.recovered`);
    }
    ConfigError.throwIfAny(problems);
    this.#sources = [...options.sources];
    this.#intervalMs = intervalMs;
    this.#readTimeoutMs = readTimeoutMs;
    this.#high = { ...high };
    // A recovery threshold left out is half its high one: one that was not checked at all would let
    // a group still above that high threshold recover, and go high again on the next sample.
    this.#recovered = {
      ...(high.messages !== undefined ? { messages: Math.floor(high.messages / 2) } : {}),
      ...(high.ageMs !== undefined ? { ageMs: high.ageMs / 2 } : {}),
      ...recovered,
    };
    this.#set = options.registry === false ? undefined : metricSet(options.registry ?? defaultRegistry);
    this.#logger = options.logger;
  }

  /** The readings of the last sample. */
  get readings(): readonly LagReading[] {
    return this.#last;
  }

  /**
   * Groups currently lagging (between their `lag.high` and `lag.recovered`), each with its last
   * reading: for a source that cannot be read now, the one it gave before.
   */
  get lagging(): LagReading[] {
    return [...this.#lastRead.values()].flat().filter((r) => this.#state.get(this.#key(r))?.high);
  }

  /** Calls `listener` for every event until the returned function is called. */
  on(listener: (event: LagEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Samples now and then every `intervalMs` until `stop()`. The timer does not keep the process alive. */
  start(): this {
    if (this.#timer) return this;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.#intervalMs);
    this.#timer.unref();
    return this;
  }

  /**
   * Stops sampling and takes this monitor's series off `switchyard_consumer_lag_messages` /
   * `_seconds`: a gauge left at its last value would show that lag, frozen, on every later scrape,
   * and nothing would tell it from a live one (Prometheus marks a series that disappears as stale
   * instead). A sample in progress completes but exports nothing. `start()` or `sample()` exports again.
   */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#epoch++;
    if (this.#set) for (const key of [...this.#set.lag.keys()]) if (key.startsWith(`${this.#id}\u0000`)) this.#set.lag.delete(key);
  }

  [Symbol.dispose](): void {
    this.stop();
  }

  /**
   * Reads every source once, updates the gauges and raises events; resolves to the readings. A
   * source that fails raises `lag.error`; its groups keep their alert state (no `lag.recovered`
   * while the broker cannot be asked), but it contributes no readings and its series leave the
   * gauges until it can be read again — its last figures would otherwise pass for current ones.
   * Concurrent calls share one sample.
   */
  sample(): Promise<LagReading[]> {
    this.#sampling ??= this.#sample().finally(() => (this.#sampling = undefined));
    return this.#sampling;
  }

  async #sample(): Promise<LagReading[]> {
    const epoch = this.#epoch;
    const results = await Promise.all(
      this.#sources.map(async (source) => {
        try {
          const readings = await withTimeout(this.#read(source), this.#readTimeoutMs, `reading lag from ${source.name}`);
          return { source, readings, read: true };
        } catch (thrown) {
          const error = toError(thrown);
          this.#logger?.warn(`lag: cannot read ${source.name}`, { source: source.name, error: error.message });
          this.#emit({ type: 'lag.error', source: source.name, error, at: Date.now() });
          return { source, readings: [], read: false };
        }
      }),
    );
    const now = Date.now();
    const set = epoch === this.#epoch ? this.#set : undefined;
    const all: LagReading[] = [];
    const seen = new Set<string>();
    const exported = new Set<string>();
    for (const { source, readings, read } of results) {
      if (!read) {
        // Unknown now, not gone: the groups keep their state, and their series go (below).
        for (const reading of this.#lastRead.get(source.name) ?? []) seen.add(this.#key(reading));
        continue;
      }
      this.#lastRead.set(source.name, readings);
      for (const reading of readings) {
        Object.defineProperty(reading, SOURCE, { value: source.name, enumerable: false, configurable: true });
        all.push(reading);
        const key = this.#key(reading);
        seen.add(key);
        exported.add(key);
        set?.lag.set(key, {
          // The source tells apart the same group and topic read from two clusters.
          labels: { transport: reading.transport, topic: reading.topic, group: reading.group, source: source.name },
          messages: reading.messages,
          ageSeconds: reading.oldestAgeMs === undefined ? undefined : reading.oldestAgeMs / 1000,
        });
        this.#judge(source.name, key, reading, now);
      }
    }
    for (const [key, state] of [...this.#state]) {
      if (seen.has(key)) continue;
      this.#state.delete(key);
      // A lagging group that is no longer reported closes its alert, or it would stay open forever.
      if (state.high && state.raised) {
        const { source, reading } = state.raised;
        this.#logger?.info(`consumer lag alert closed: group "${reading.group}" on "${reading.topic}" is no longer reported`, fields(reading));
        this.#emit({ type: 'lag.recovered', source, reading, threshold: this.#recovered, at: now, highForMs: now - state.since, gone: true });
      }
    }
    if (set) for (const key of [...set.lag.keys()]) if (key.startsWith(`${this.#id}\u0000`) && !exported.has(key)) set.lag.delete(key);
    this.#last = all;
    return all;
  }

  /**
   * `source.read()`, or the read of it still running from an earlier sample that timed out: a
   * broker that does not answer gets one question at a time, not one more every interval.
   */
  #read(source: LagSource): Promise<LagReading[]> {
    let reading = this.#reading.get(source);
    if (!reading) {
      // In then(): a read() that throws at once is reported like one that rejects.
      const started = Promise.resolve().then(() => source.read());
      reading = started;
      this.#reading.set(source, started);
      const done = (): void => void (this.#reading.get(source) === started && this.#reading.delete(source));
      started.then(done, done);
    }
    return reading;
  }

  #judge(source: string, key: string, reading: LagReading, now: number): void {
    const state = this.#state.get(key);
    if (!state?.high) {
      if (!exceeds(reading, this.#high)) {
        if (!state) this.#state.set(key, { high: false, since: now });
        return;
      }
      this.#state.set(key, { high: true, since: now, raised: { source, reading } });
      this.#logger?.warn(`consumer lag high: group "${reading.group}" is ${reading.messages} messages behind on "${reading.topic}"`, fields(reading));
      this.#emit({ type: 'lag.high', source, reading, threshold: this.#high, at: now });
      return;
    }
    if (!within(reading, this.#recovered)) return;
    this.#state.set(key, { high: false, since: now });
    this.#logger?.info(`consumer lag recovered: group "${reading.group}" on "${reading.topic}"`, fields(reading));
    this.#emit({ type: 'lag.recovered', source, reading, threshold: this.#recovered, at: now, highForMs: now - state.since });
  }

  #key(r: LagReading): string {
    return `${this.#id}\u0000${(r as Tagged)[SOURCE] ?? ''}\u0000${r.transport}\u0000${r.topic}\u0000${r.group}`;
  }

  #emit(event: LagEvent): void {
    if (event.type !== 'lag.error') this.#set?.alerts.inc({ type: event.type, rule: 'lag' });
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#logger?.error('lag: an event listener threw', { error: toError(error).message });
      }
    }
  }
}

let monitors = 0;
const SOURCE = Symbol('lag source');
type Tagged = LagReading & { [SOURCE]?: string };

function exceeds(r: LagReading, t: LagThresholds): boolean {
  return (t.messages !== undefined && r.messages >= t.messages) || (t.ageMs !== undefined && r.oldestAgeMs !== undefined && r.oldestAgeMs >= t.ageMs);
}

/**
 * At or below every recovery threshold the reading can be judged on, and judged on at least one:
 * a reading without an age (a source that only sometimes knows it) says nothing about an age
 * threshold, so the group stays as it was rather than recovering and going high again. A group
 * with nothing left to process has recovered whatever its age says.
 */
function within(r: LagReading, t: LagThresholds): boolean {
  if (r.messages === 0) return true;
  const byMessages = t.messages !== undefined;
  const byAge = t.ageMs !== undefined && r.oldestAgeMs !== undefined;
  if (!byMessages && !byAge) return false;
  return (!byMessages || r.messages <= t.messages!) && (!byAge || r.oldestAgeMs! <= t.ageMs!);
}

function fields(r: LagReading): Record<string, unknown> {
  return { transport: r.transport, topic: r.topic, group: r.group, lag: r.messages, ...(r.oldestAgeMs !== undefined ? { oldestAgeMs: r.oldestAgeMs } : {}) };
}

/**
 * Creates a lag monitor; call `start()` to sample on its interval, or `sample()` yourself.
 *
 * @example
 * ```ts
 * const monitor = lagMonitor({ sources: [embeddedLagSource(bus)], intervalMs: 10_000, high: { messages: 5_000 } }).start();
 * ```
 */
export function lagMonitor(options: LagMonitorOptions): LagMonitor {
  return new LagMonitor(options);
}
