import { register as defaultRegistry, type Registry } from 'prom-client';
import { ConfigError, toError } from '../core/errors.ts';
import { MAX_TIMER_MS } from '../core/timer-limit.ts';
import type { Logger } from '../router/types.ts';
import { metricSet, type ConsumeSeries, type MetricSet, type PublishSeries } from './metric-set.ts';

/** The alert rules besides lag. */
export type AlertRule = 'error-rate' | 'latency' | 'throughput' | 'partition-skew' | 'key-skew';

/** What an alert is about: a handler on a topic, or (key skew) a transport's topic. */
export interface AlertSubject {
  transport: string;
  topic: string;
  group?: string;
  handler?: string;
}

/** What the alert rules report; switch on `type`. */
export type AlertEvent =
  | { type: 'alert.firing'; rule: AlertRule; severity: 'critical' | 'warning'; subject: AlertSubject; value: number; threshold: number; message: string; at: number }
  | { type: 'alert.resolved'; rule: AlertRule; severity: 'critical' | 'warning'; subject: AlertSubject; value: number; threshold: number; message: string; at: number; firingForMs: number };

/** Settings of `alertRules()`. Each rule has the reference's threshold as default; `false` turns it off. */
export interface AlertRulesOptions {
  /** Where `metrics()`/`instrument()` count (the same registry). Default: prom-client's global `register`. */
  registry?: Registry;
  /** The evaluation window, in ms: each rule looks at what happened since the previous evaluation. Up to 2³¹ − 1. Default 60,000. */
  windowMs?: number;
  /**
   * Failed plus dead-lettered deliveries over consumed ones, above `max` (default 0.05), given at
   * least `minDeliveries` (a whole number ≥ 1; default 20) in the window: one failure of one is
   * 100 % of nothing. A window with fewer deliveries leaves the alert as it is; one with none
   * resolves it (an idle handler is not failing).
   */
  errorRate?: { max?: number; minDeliveries?: number } | false;
  /**
   * Mean end-to-end latency (publish to handled) over the window above `maxMs` (default 5,000),
   * given at least `minSamples` timed deliveries (a whole number ≥ 1; default 10), so one slow
   * message in an otherwise idle window does not page anyone. A window with fewer leaves the
   * alert as it is; one with none resolves it (a stopped consumer is the throughput rule's and
   * the lag monitor's to report).
   */
  latency?: { maxMs?: number; minSamples?: number } | false;
  /**
   * Acknowledged messages per second below `min` (default 100) while traffic is expected:
   * by default once a handler has reached `min` in an earlier window (a drop, not an idle system).
   */
  throughput?: { min?: number; expected?: (subject: AlertSubject) => boolean } | false;
  /**
   * One partition (of a handler's topic) or one key (of a transport's topic; needs `instrument()`)
   * taking a disproportionate share of at least `minMessages` (default 1,000) in the window:
   * a partition above `factor` (default 2) times its fair share, a key above `maxKeyShare` (default 0.5).
   * `minMessages` is a whole number ≥ 1. A window with fewer messages leaves the alert as it is;
   * one with none (no traffic, or no keyed traffic) resolves it.
   */
  skew?: { factor?: number; maxKeyShare?: number; minMessages?: number } | false;
  /** Where firing (warn) and resolved (info) alerts are logged. Default: none. */
  logger?: Logger;
}

interface Window {
  consumed: number;
  acked: number;
  errors: number;
  latencySum: number;
  latencyCount: number;
  partitions: number[];
}

/**
 * Evaluates alert rules over the figures `metrics()` and `instrument()` collect, once per window:
 * error rate (> 5 %), end-to-end latency (> 5 s), throughput below a floor while traffic is
 * expected (< 100 msg/s) and partition/key skew. Each raises `alert.firing` once when its condition
 * starts to hold and `alert.resolved` once when it stops; both are logged and counted in
 * `switchyard_alerts_total`. A window with some traffic but too little to judge leaves every
 * alert as it is; a window with no traffic resolves the error-rate, latency and skew alerts (no
 * traffic is no evidence of errors, slowness or skew; silence is the throughput rule's to judge).
 *
 * @example
 * ```ts
 * const alerts = alertRules({ registry, logger, throughput: { min: 50 } }).start();
 * alerts.on((e) => { if (e.type === 'alert.firing') notify(e.message); });
 * ```
 */
export class AlertRules {
  readonly #set: MetricSet;
  readonly #options: AlertRulesOptions;
  readonly #windowMs: number;
  readonly #listeners = new Set<(event: AlertEvent) => void>();
  readonly #previous = new Map<ConsumeSeries, Window>();
  /** `since`: on the evaluation clock (`#clock`), so `firingForMs` is a measured duration. */
  readonly #firing = new Map<string, { since: number; event: AlertEvent }>();
  readonly #armed = new Set<ConsumeSeries>();
  // Window lengths come from performance.now(), which an NTP step or a manual clock change does not
  // move: Date.now() would stretch a window by the jump and report a throughput drop that is not
  // there (or squeeze it to nothing and hide one). The wall clock only stamps events (`at`).
  #lastMonotonic = performance.now();
  #lastWall = Date.now();
  /** Ms of evaluation time since construction: the sum of the windows' lengths. */
  #clock = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AlertRulesOptions = {}) {
    const problems: string[] = [];
    const windowMs = options.windowMs ?? 60_000;
    // Past the timer limit Node fires after 1 ms: every window would be a millisecond long.
    if (!(typeof windowMs === 'number' && windowMs > 0 && windowMs <= MAX_TIMER_MS)) problems.push(`alertRules: windowMs must be a number of ms above 0, up to ${MAX_TIMER_MS}, got ${windowMs}`);
    const rate = options.errorRate === false ? undefined : options.errorRate?.max;
    if (rate !== undefined && !(rate >= 0 && rate <= 1)) problems.push(`alertRules: errorRate.max must be between 0 and 1, got ${rate}`);
    const share = options.skew === false ? undefined : options.skew?.maxKeyShare;
    if (share !== undefined && !(share > 0 && share <= 1)) problems.push(`alertRules: skew.maxKeyShare must be in (0, 1], got ${share}`);
    const maxMs = options.latency === false ? undefined : options.latency?.maxMs;
    if (maxMs !== undefined && !(maxMs > 0)) problems.push(`alertRules: latency.maxMs must be a positive number, got ${maxMs}`);
    // A minimum of 0 would judge empty windows as if they held data; a fraction means nothing for a count.
    const counts: Array<[string, number | undefined]> = [
      ['latency.minSamples', options.latency === false ? undefined : options.latency?.minSamples],
      ['errorRate.minDeliveries', options.errorRate === false ? undefined : options.errorRate?.minDeliveries],
      ['skew.minMessages', options.skew === false ? undefined : options.skew?.minMessages],
    ];
    for (const [name, n] of counts) {
      if (n !== undefined && !(Number.isInteger(n) && n >= 1)) problems.push(`alertRules: ${name} must be a whole number ≥ 1, got ${n} (the fewest in a window to judge the rule on)`);
    }
    ConfigError.throwIfAny(problems);
    this.#options = options;
    this.#windowMs = windowMs;
    this.#set = metricSet(options.registry ?? defaultRegistry);
    if (options.skew !== false) this.#set.trackKeys = true;
    for (const s of this.#set.consume) this.#previous.set(s, snapshot(s));
  }

  /** Alerts firing now. */
  get firing(): AlertEvent[] {
    return [...this.#firing.values()].map((f) => f.event);
  }

  /** Calls `listener` for every event until the returned function is called. */
  on(listener: (event: AlertEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Evaluates every `windowMs` until `stop()`. The timer does not keep the process alive. */
  start(): this {
    if (this.#timer) return this;
    this.#timer = setInterval(() => this.evaluate(), this.#windowMs);
    this.#timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  [Symbol.dispose](): void {
    this.stop();
  }

  /**
   * Evaluates the rules over what happened since the previous evaluation; returns the events raised.
   * The window's length is measured on the monotonic clock, so a wall-clock step (NTP) does not
   * distort rates; events are stamped with `Date.now()`.
   *
   * @param now The time of this evaluation, in ms since the epoch, for tests and replays: when
   *   given, it stamps the events and the window is measured from the previous evaluation's time.
   */
  evaluate(now?: number): AlertEvent[] {
    const monotonic = performance.now();
    const windowMs = now === undefined ? monotonic - this.#lastMonotonic : now - this.#lastWall;
    now ??= Date.now();
    this.#lastMonotonic = monotonic;
    this.#lastWall = now;
    this.#clock += Math.max(windowMs, 0);
    const clock = this.#clock;
    const seconds = Math.max(windowMs / 1000, 0.001);
    const o = this.#options;
    const events: AlertEvent[] = [];
    // `breached` undefined: too little data in this window to say either way; the alert keeps its state.
    const judge = (rule: AlertRule, severity: 'critical' | 'warning', subject: AlertSubject, value: number, threshold: number, breached: boolean | undefined, message: string): void => {
      const id = `${rule}\u0000${subject.transport}\u0000${subject.topic}\u0000${subject.group ?? ''}\u0000${subject.handler ?? ''}`;
      const firing = this.#firing.get(id);
      if (breached === undefined) return;
      if (breached) {
        if (firing) return;
        const event: AlertEvent = { type: 'alert.firing', rule, severity, subject, value, threshold, message, at: now };
        this.#firing.set(id, { since: clock, event });
        events.push(event);
      } else if (firing) {
        this.#firing.delete(id);
        events.push({ type: 'alert.resolved', rule, severity, subject, value, threshold, message, at: now, firingForMs: clock - firing.since });
      }
    };

    for (const s of this.#set.consume) {
      const before = this.#previous.get(s) ?? { consumed: 0, acked: 0, errors: 0, latencySum: 0, latencyCount: 0, partitions: [] };
      const after = snapshot(s);
      this.#previous.set(s, after);
      const subject: AlertSubject = { ...s.labels };
      const where = `handler "${s.labels.handler}" on "${s.labels.topic}"`;
      const idle = `${where}: no deliveries in the window`;
      const consumed = after.consumed - before.consumed;
      if (o.errorRate !== false) {
        const max = o.errorRate?.max ?? 0.05;
        const min = o.errorRate?.minDeliveries ?? 20;
        const rate = consumed > 0 ? (after.errors - before.errors) / consumed : 0;
        if (consumed === 0) judge('error-rate', 'critical', subject, 0, max, false, idle);
        else judge('error-rate', 'critical', subject, rate, max, consumed >= min ? rate > max : undefined, `${where}: error rate ${(rate * 100).toFixed(1)} % (over ${(max * 100).toFixed(1)} %)`);
      }
      if (o.latency !== false) {
        const maxMs = o.latency?.maxMs ?? 5_000;
        const min = o.latency?.minSamples ?? 10;
        // Timed deliveries: with sampled timing (`timeEvery`) fewer than were consumed.
        const n = after.latencyCount - before.latencyCount;
        const meanMs = n > 0 ? ((after.latencySum - before.latencySum) / n) * 1000 : 0;
        if (n === 0 && consumed === 0) judge('latency', 'critical', subject, 0, maxMs, false, idle);
        else judge('latency', 'critical', subject, meanMs, maxMs, n >= min ? meanMs > maxMs : undefined, `${where}: end-to-end latency ${Math.round(meanMs)} ms over ${n} messages (over ${maxMs} ms)`);
      }
      if (o.throughput !== false) {
        const min = o.throughput?.min ?? 100;
        const rate = (after.acked - before.acked) / seconds;
        const expected = o.throughput?.expected ? o.throughput.expected(subject) : this.#armed.has(s);
        if (rate >= min) this.#armed.add(s);
        judge('throughput', 'critical', subject, rate, min, expected && rate < min, `${where}: throughput ${rate.toFixed(1)} msg/s (under ${min} msg/s)`);
      }
      if (o.skew !== false) {
        const factor = o.skew?.factor ?? 2;
        const minMessages = o.skew?.minMessages ?? 1_000;
        const counts = after.partitions.map((c, i) => c - (before.partitions[i] ?? 0));
        const total = counts.reduce((a, b) => a + b, 0);
        const top = Math.max(0, ...counts);
        const share = total > 0 ? top / total : 0;
        // Shares among the partitions this consumer read in the window: a group member owns only
        // some partitions, and the highest index seen says nothing about how many it has.
        const active = counts.filter((c) => c > 0).length;
        const limit = active > 1 ? Math.min(1, factor / active) : 1;
        if (total === 0) judge('partition-skew', 'warning', subject, 0, limit, false, idle);
        else judge('partition-skew', 'warning', subject, share, limit, total >= minMessages && active > 1 ? share > limit : undefined, `${where}: partition ${counts.indexOf(top)} took ${(share * 100).toFixed(0)} % of ${total} messages across ${active} partitions`);
      }
    }
    if (o.skew !== false) {
      const maxShare = o.skew?.maxKeyShare ?? 0.5;
      const minMessages = o.skew?.minMessages ?? 1_000;
      for (const p of this.#set.publish) this.#keySkew(p, maxShare, minMessages, judge);
    }
    for (const e of events) this.#emit(e);
    return events;
  }

  #keySkew(p: PublishSeries, maxShare: number, minMessages: number, judge: (rule: AlertRule, severity: 'critical' | 'warning', subject: AlertSubject, value: number, threshold: number, breached: boolean | undefined, message: string) => void): void {
    const keys = p.keys;
    if (!keys) return;
    let total = 0;
    let topKey = '';
    let top = 0;
    for (const [key, n] of keys) {
      total += n;
      if (n > top) {
        top = n;
        topKey = key;
      }
    }
    keys.clear(); // one window's worth, so memory stays bounded
    const share = total > 0 ? top / total : 0;
    if (total === 0) judge('key-skew', 'warning', { ...p.labels }, 0, maxShare, false, `"${p.labels.topic}" on ${p.labels.transport}: no keyed messages in the window`);
    else judge('key-skew', 'warning', { ...p.labels }, share, maxShare, total >= minMessages ? share > maxShare : undefined, `"${p.labels.topic}" on ${p.labels.transport}: key "${topKey}" took ${(share * 100).toFixed(0)} % of ${total} keyed messages`);
  }

  #emit(event: AlertEvent): void {
    this.#set.alerts.inc({ type: event.type, rule: event.rule });
    const fields = { rule: event.rule, severity: event.severity, ...event.subject, value: event.value, threshold: event.threshold };
    if (event.type === 'alert.firing') this.#options.logger?.warn(`alert: ${event.message}`, fields);
    else this.#options.logger?.info(`alert resolved: ${event.message}`, fields);
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#options.logger?.error('alert: an event listener threw', { error: toError(error).message });
      }
    }
  }
}

function snapshot(s: ConsumeSeries): Window {
  return { consumed: s.consumed, acked: s.acked, errors: s.failed + s.deadLettered, latencySum: s.latency.sum, latencyCount: s.latency.count, partitions: [...s.partitions].map((n) => n ?? 0) };
}

/**
 * Creates alert rules over a registry's Switchyard metrics; `start()` evaluates every window.
 *
 * @example
 * ```ts
 * alertRules({ registry, logger }).start();
 * ```
 */
export function alertRules(options: AlertRulesOptions = {}): AlertRules {
  return new AlertRules(options);
}
