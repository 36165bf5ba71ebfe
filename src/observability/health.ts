import { ConfigError, isClosedError, toError } from '../core/errors.ts';
import { MAX_TIMER_MS, timerMsProblem } from '../core/timer-limit.ts';
import type { Transport } from '../core/transport.ts';
import { withTimeout } from '../internal/with-timeout.ts';
import type { HandlerSnapshot, RouterInspector } from '../router/inspector.ts';
import { refusedMethod, sendJson, type HttpHandler } from './http.ts';

/** One thing the health check looked at. */
export interface ComponentHealth {
  name: string;
  kind: 'router' | 'handler' | 'transport' | 'check';
  /** False when restarting the process is the remedy (a failed or stalled handler, a closed transport). */
  live: boolean;
  /** False when it should not get traffic now (connecting, reconnecting, stopping). */
  ready: boolean;
  detail?: string;
}

/** The result of `Health.check()`. */
export interface HealthReport {
  live: boolean;
  ready: boolean;
  components: ComponentHealth[];
  at: number;
}

/** What `health()` watches. */
export interface HealthOptions {
  /** Routers (or their inspectors): the router's state and each handler's. */
  routers?: ReadonlyArray<{ readonly inspector: RouterInspector } | RouterInspector>;
  /**
   * Transports. One whose `connected` is false (disconnected, reconnecting, not connected yet) is
   * not ready at once; the others are probed with `connect()` (idempotent; connects one that is not
   * yet connected). A transport that cannot tell (`connected` undefined) is judged by the probe alone.
   */
  transports?: readonly Transport[];
  /**
   * A handler with messages in flight and no delivery settled for this long is stalled (not live).
   * Above 0, up to 2³¹ − 1 (about 24.8 days, in effect never). Default 60,000 ms.
   */
  stallMs?: number;
  /** How long a transport probe or check may take before it counts as not ready. Above 0, up to 2³¹ − 1. Default 2,000 ms. */
  timeoutMs?: number;
  /** Extra readiness checks: throw (or reject) for not ready. */
  checks?: Record<string, () => unknown>;
}

interface Progress {
  settled: number;
  since: number;
}

/**
 * Liveness and readiness of routers, their handlers (with stalled-handler detection) and
 * transport connections, as a function (`check()`) and as node:http handlers (`healthHandler`).
 *
 * @example
 * ```ts
 * const h = health({ routers: [router], transports: [bus], stallMs: 30_000 });
 * http.createServer(routes({ '/livez': healthHandler(h, 'live'), '/readyz': healthHandler(h, 'ready') })).listen(8080);
 * ```
 */
export class Health {
  readonly #options: HealthOptions;
  readonly #progress = new Map<string, Progress>();

  /** Throws a ConfigError naming every bad option. */
  constructor(options: HealthOptions) {
    const problems: string[] = [];
    for (const key of ['stallMs', 'timeoutMs'] as const) {
      const value = options?.[key];
      // 0 makes every handler with work in flight stalled, and every probe time out, at once. A
      // timeout past the timer limit (or NaN, or negative) would fire after 1 ms; NaN as stallMs
      // would never find a stall, and an unbounded probe would hold /readyz for ever.
      if (value === 0 || timerMsProblem(key, value)) {
        problems.push(`health: ${key} must be a number of ms above 0, up to ${MAX_TIMER_MS}, got ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`);
      }
    }
    for (const [name, check] of Object.entries(options?.checks ?? {})) {
      if (typeof check !== 'function') problems.push(`health: checks["${name}"] must be a function that throws (or rejects) when not ready, got ${typeof check}`);
    }
    ConfigError.throwIfAny(problems);
    this.#options = options ?? {};
  }

  /** Checks everything now. `now` is for tests and replays; default `Date.now()`. */
  async check(now = Date.now()): Promise<HealthReport> {
    const components: ComponentHealth[] = [];
    const stallMs = this.#options.stallMs ?? 60_000;
    (this.#options.routers ?? []).forEach((r, i) => {
      const inspector = 'inspector' in r ? r.inspector : r;
      const name = (this.#options.routers?.length ?? 0) > 1 ? `router ${i + 1}` : 'router';
      components.push({ name, kind: 'router', live: true, ready: inspector.state === 'running', detail: inspector.state });
      for (const h of inspector.handlers()) components.push(this.#handler(`${name}/${h.name}`, h, now, stallMs));
    });
    const timeoutMs = this.#options.timeoutMs ?? 2_000;
    const probes = [
      ...(this.#options.transports ?? []).map((t, i) => ({
        name: `${t.name}${countOf(this.#options.transports!, t.name) > 1 ? ` ${i + 1}` : ''}`,
        kind: 'transport' as const,
        run: () => probeTransport(t),
      })),
      ...Object.entries(this.#options.checks ?? {}).map(([name, run]) => ({
        name,
        kind: 'check' as const,
        run: async () => {
          await run();
          return false;
        },
      })),
    ];
    components.push(
      ...(await Promise.all(
        probes.map(async (p): Promise<ComponentHealth> => {
          try {
            // p.run() inside then(): a check that throws at once is reported like one that rejects.
            const disconnected = await withTimeout(Promise.resolve().then(p.run), timeoutMs, 'the check');
            if (disconnected) return { name: p.name, kind: p.kind, live: true, ready: false, detail: DISCONNECTED };
            return { name: p.name, kind: p.kind, live: true, ready: true };
          } catch (thrown) {
            const error = toError(thrown);
            return { name: p.name, kind: p.kind, live: !(p.kind === 'transport' && isClosedError(error)), ready: false, detail: error.message };
          }
        }),
      )),
    );
    return { live: components.every((c) => c.live), ready: components.every((c) => c.ready), components, at: now };
  }

  #handler(name: string, h: HandlerSnapshot, now: number, stallMs: number): ComponentHealth {
    const settled = h.counters.succeeded + h.counters.failed;
    const last = this.#progress.get(name);
    const progress = !last || last.settled !== settled || h.inFlight === 0 ? { settled, since: now } : last;
    this.#progress.set(name, progress);
    if (h.state === 'failed') return { name, kind: 'handler', live: false, ready: false, detail: `failed${h.lastError ? `: ${h.lastError.message}` : ''}` };
    if (h.inFlight > 0 && now - progress.since >= stallMs) {
      return { name, kind: 'handler', live: false, ready: false, detail: `stalled: ${h.inFlight} in flight, nothing settled for ${now - progress.since} ms` };
    }
    const ready = h.state === 'running' || h.state === 'paused';
    return { name, kind: 'handler', live: true, ready, detail: h.state };
  }
}

const DISCONNECTED = 'disconnected from the broker (connecting or reconnecting)';

/**
 * Probes a transport; resolves true when it reports itself disconnected. `connect()` resolves at
 * once for a transport that connected before, even if that connection dropped since, so a
 * transport that says `connected === false` is not waited for: its `connect()` is still called (it
 * starts connecting one that never did, and rejects at once for a closed one, which then reports
 * its error), but only given until the next turn of the event loop.
 */
async function probeTransport(t: Transport): Promise<boolean> {
  if (t.connected !== false) {
    await t.connect();
    return false;
  }
  const connecting = t.connect();
  connecting.catch(() => undefined); // settles after this probe has answered: nobody is waiting for it
  await Promise.race([connecting, new Promise((resolve) => setImmediate(resolve))]);
  return t.connected === false;
}

function countOf(transports: readonly Transport[], name: string): number {
  return transports.filter((t) => t.name === name).length;
}

/**
 * Creates a health check.
 *
 * @example
 * ```ts
 * const report = await health({ routers: [router], transports: [bus] }).check();
 * if (!report.ready) console.warn(report.components.filter((c) => !c.ready));
 * ```
 */
export function health(options: HealthOptions): Health {
  return new Health(options);
}

/**
 * A node:http handler answering 200 when `probe` (`'live'` or `'ready'`, default `'ready'`) holds and
 * 503 when not, with the report as JSON. Other methods than GET and HEAD get 405.
 *
 * @example
 * ```ts
 * http.createServer(healthHandler(health({ routers: [router] }))).listen(8080);
 * ```
 */
export function healthHandler(h: Health, probe: 'live' | 'ready' = 'ready'): HttpHandler {
  return function healthHandler(req, res) {
    if (refusedMethod(req, res, 'health')) return;
    h.check().then(
      (report) => sendJson(res, report[probe] ? 200 : 503, report),
      (error: unknown) => sendJson(res, 500, { error: toError(error).message }),
    );
  };
}
