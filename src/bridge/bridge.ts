import type { Registry } from 'prom-client';
import { ClosedError, ConfigError, isClosedError, isPermanentError, toError } from '../core/errors.ts';
import { isPattern, topicMatches, topicProblems } from '../core/topic.ts';
import type { Transport } from '../core/transport.ts';
import { abortable } from '../internal/abortable.ts';
import { consoleLogger } from '../internal/console-logger.ts';
import { deadLetter } from '../middleware/dead-letter.ts';
import { retry } from '../middleware/retry.ts';
import type { LagSource } from '../observability/lag.ts';
import type { RouterInspector } from '../router/inspector.ts';
import { Router } from '../router/router.ts';
import type { Logger, Middleware } from '../router/types.ts';
import type { BridgeConfig, FilterFunction, RouteSpec, TransformFunction } from './config-schema.ts';
import { createTransports } from './create-transports.ts';
import { compileFilter } from './filter.ts';
import { formatCodec, loadSchemas, type SchemaTypes } from './formats.ts';
import { loadFunction } from './load-modules.ts';
import { routeLagSources } from './lag.ts';
import { formatPath } from './path.ts';
import { routeHandler, type CompiledRoute, type SinkEvent } from './route.ts';
import { compileTemplate, type Template } from './template.ts';
import { validateBridgeConfig } from './validate-config.ts';

/** Settings of a bridge that are not part of its configuration. */
export interface BridgeOptions {
  /** Where module references (`./transform.ts#fn`), `.proto` files and embedded data directories are resolved from. Default: the working directory. */
  baseDir?: string;
  /** Where the routes log. Default: warnings and errors to the console. */
  logger?: Logger;
  /** Count every route's deliveries in this prom-client registry (`switchyard_messages_*{handler="<route>"}`). */
  registry?: Registry;
  /** How long `stop()` lets in-flight messages finish. Default 30,000 ms. */
  drainTimeoutMs?: number;
}

/** One route's figures, for progress lines and dashboards. */
export interface RouteStats {
  name: string;
  /** `<transport name>:<topic>`, as the config names them. */
  from: string;
  to: string;
  state: string;
  received: number;
  /** Messages whose output the sink confirmed. */
  forwarded: number;
  filtered: number;
  /** Messages the transform turned into nothing. */
  dropped: number;
  deadLettered: number;
  /** Failed attempts (transform errors, sink outages that outlasted the route's stop). */
  failed: number;
  /** Publishes to the sink that were refused and tried again. */
  sinkRetries: number;
  /** True while the route waits for its sink to come back. */
  backingOff: boolean;
  lastError: string | undefined;
}

/** What a bridge reports: sink retries and recoveries (switch on `type`). */
export type BridgeEvent = SinkEvent;

/**
 * A bridge whose configuration is valid and whose transports, schemas and modules are loaded,
 * with nothing connected yet. `start()` connects and subscribes every route.
 *
 * @example
 * ```ts
 * const b = await prepareBridge(config, { baseDir });
 * const stop = showProgress(b, process.stderr);
 * await b.run(); // until SIGINT/SIGTERM
 * stop();
 * ```
 */
export class Bridge {
  readonly #router: Router;
  readonly #owned: ReadonlySet<Transport>;
  readonly #transports: ReadonlyMap<string, Transport>;
  readonly #routes: readonly CompiledRoute[];
  readonly #backingOff = new Set<string>();
  readonly #listeners = new Set<(event: BridgeEvent) => void>();
  readonly #halt = new AbortController();
  #stopping: Promise<void> | undefined;

  /** @internal Use `prepareBridge()` or `bridge()`. */
  constructor(router: Router, transports: ReadonlyMap<string, Transport>, owned: ReadonlySet<Transport>, routes: readonly CompiledRoute[]) {
    this.#router = router;
    this.#transports = transports;
    this.#owned = owned;
    this.#routes = routes;
    // However the router is stopped (stop(), a signal, run()'s abort), routes waiting for a sink
    // give up their message at once instead of waiting out the drain time.
    router.inspector.on((e) => {
      if (e.type === 'router-state' && e.state === 'stopping') this.#halt.abort();
    });
  }

  /** @internal Aborted when the bridge starts stopping. */
  get stopping(): AbortSignal {
    return this.#halt.signal;
  }

  /** The router that runs the routes (one handler per route, named after it). */
  get inspector(): RouterInspector {
    return this.#router.inspector;
  }

  /**
   * The transport declared under `name` (for its native client, lag sources, inspection), or
   * undefined.
   */
  transport(name: string): Transport | undefined {
    return this.#transports.get(name);
  }

  /** Route names, in config order. */
  get routes(): string[] {
    return this.#routes.map((r) => r.name);
  }

  /** @internal */
  emit(event: BridgeEvent): void {
    if (event.type === 'sink-retry') this.#backingOff.add(event.route);
    else this.#backingOff.delete(event.route);
    for (const listener of this.#listeners) listener(event);
  }

  /** Calls `listener` on every sink retry and recovery; returns a function that unsubscribes. */
  on(listener: (event: BridgeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Each route's figures now. */
  stats(): RouteStats[] {
    return this.#routes.map((r) => {
      const h = this.#router.inspector.handler(r.name);
      const c = h?.counters ?? { received: 0, succeeded: 0, failed: 0, published: 0 };
      return {
        name: r.name,
        from: r.source,
        to: r.sink,
        state: h?.state ?? 'registered',
        received: c.received,
        forwarded: c['forwarded'] ?? 0,
        filtered: c['filtered'] ?? 0,
        dropped: c['dropped'] ?? 0,
        deadLettered: c['dead-lettered'] ?? 0,
        failed: c.failed,
        sinkRetries: c['sink-retries'] ?? 0,
        backingOff: this.#backingOff.has(r.name),
        lastError: h?.lastError?.message,
      };
    });
  }

  /**
   * One lag source per route (`bridge:<route>`): how far its consumer group is behind on its
   * source. Feed them to `lagMonitor()` of `switchyard/observability` for gauges and alerts.
   *
   * @example
   * ```ts
   * lagMonitor({ sources: await b.lagSources(), registry, high: { messages: 10_000 } }).start();
   * ```
   */
  async lagSources(): Promise<LagSource[]> {
    return routeLagSources(this.#routes.map((r) => ({ name: r.name, from: r.from, topic: r.fromTopic, group: r.group })));
  }

  /**
   * Connects the transports and subscribes every route; resolves once all consume. Starting can
   * take long (a consumer group rebalancing, a broker that does not answer): when `signal` aborts
   * first, the start is given up as `stop()` gives it up — what was opened is closed — and
   * start() rejects with a ClosedError whose cause is the signal's reason.
   *
   * @example
   * ```ts
   * await b.start({ signal: AbortSignal.timeout(60_000) });
   * ```
   */
  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (!signal) return this.#router.start();
    if (signal.aborted) return this.#abandonStart(signal);
    const started = this.#router.start();
    try {
      // Not waiting for the start itself once aborted: a consumer group join notices that its
      // transport closed only when its own timeout (about a minute) runs out.
      await abortable(started, signal);
    } catch (error) {
      if (!signal.aborted) throw error;
    }
    if (!signal.aborted) return;
    started.catch(() => undefined); // failing because its transports closed under it
    return this.#abandonStart(signal);
  }

  async #abandonStart(signal: AbortSignal): Promise<never> {
    await this.stop();
    throw new ClosedError('bridge', { detail: 'its start was aborted; what it had opened is closed', cause: signal.reason });
  }

  /**
   * Stops every route (in-flight messages finish and are acknowledged; a message waiting for its
   * sink stays unacknowledged and comes again), then closes the transports the bridge created.
   *
   * Called while the bridge starts, it closes those transports at once instead of waiting for the
   * start to end: a start can wait ~30 s on a consumer group's rebalance or on a broker's
   * timeouts, and a process told to stop (SIGTERM) must not hold its connections, group
   * memberships and embedded directory that long. Messages that routes already running had taken
   * are then not acknowledged, and come again. The router stops once its start has ended; stop()
   * waits for that only when routes use transports the bridge did not create (given as objects),
   * whose subscriptions only the router can close.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const closeOwned = (): Promise<unknown> => Promise.all([...this.#owned].map((t) => t.close().catch(() => undefined)));
      if (this.#router.inspector.state !== 'starting') {
        try {
          await this.#router.stop();
        } finally {
          await closeOwned();
        }
        return;
      }
      const routerStopped = this.#router.stop(); // takes effect once the start has ended
      await closeOwned();
      const foreign = [...this.#transports.values()].some((t) => !this.#owned.has(t));
      if (foreign) await routerStopped;
      else routerStopped.catch(() => undefined);
    })();
    return this.#stopping;
  }

  /** Starts, runs until `signal` aborts or SIGINT/SIGTERM arrives, then stops. */
  async run(options: { signal?: AbortSignal; processSignals?: readonly NodeJS.Signals[] } = {}): Promise<void> {
    try {
      await this.#router.run(options);
    } finally {
      await this.stop();
    }
  }
}

/**
 * Checks a configuration (every problem at once, with its path, in one ConfigError), builds its
 * transports, loads its schemas and modules, and returns the bridge ready to start — having
 * connected nothing. `switchyard bridge --dry-run` stops here.
 *
 * @example
 * ```ts
 * const b = await prepareBridge(config, { baseDir: import.meta.dirname });
 * console.log(b.routes); // [ 'orders-to-kafka', … ]
 * ```
 */
export async function prepareBridge(input: BridgeConfig | unknown, options: BridgeOptions = {}): Promise<Bridge> {
  const validated = validateBridgeConfig(input);
  if (!validated.ok) throw new ConfigError(validated.problems);
  const config = validated.config;
  const baseDir = options.baseDir ?? process.cwd();

  const created = await createTransports(config.transports, baseDir);
  const problems = [...created.problems];
  const schemas = await loadSchemas(config.schemas ?? {}, baseDir);
  problems.push(...schemas.problems);
  const compiled: CompiledRoute[] = [];
  const extras: Array<{ spec: RouteSpec; use: Middleware[] }> = [];
  for (const [i, spec] of config.routes.entries()) {
    const r = await compileRoute(spec, i, created.byName, schemas.types, baseDir, options.logger ?? defaultLogger);
    if ('problems' in r) problems.push(...r.problems);
    else {
      compiled.push(r.route);
      extras.push({ spec, use: r.use });
    }
  }
  ConfigError.throwIfAny(problems);

  const router = new Router({ ...(options.logger ? { logger: options.logger } : {}), closeTransports: false, ...(options.drainTimeoutMs !== undefined ? { drainTimeoutMs: options.drainTimeoutMs } : {}) });
  if (options.registry) {
    const { metrics } = await import('../observability/metrics.ts');
    router.use(metrics({ registry: options.registry }));
  }
  const bridge = new Bridge(router, created.byName, created.owned, compiled);
  compiled.forEach((route, i) => {
    const { spec, use } = extras[i]!;
    router.handle(
      route.name,
      {
        from: route.from,
        to: route.to,
        topic: route.fromTopic,
        group: route.group,
        ...(spec.from.start ? { start: spec.from.start } : {}),
        ...(spec.from.concurrency ? { concurrency: spec.from.concurrency } : {}),
        use,
      },
      routeHandler(route, (event) => bridge.emit(event), bridge.stopping),
    );
  });
  return bridge;
}

/**
 * Runs routes between transports as a configuration describes them: validates it and loads what
 * it names (nothing connects when anything is wrong: one ConfigError lists every problem), then
 * connects and starts every route. Stop it with `stop()`.
 *
 * @example
 * ```ts
 * const b = await bridge({
 *   transports: { local: { type: 'embedded', dir: './data' }, kafka: { type: 'kafka', brokers: ['127.0.0.1:9092'] } },
 *   routes: [{ name: 'orders', from: { transport: 'local', topic: 'orders.placed' }, to: { transport: 'kafka', topic: 'orders.{key}' } }],
 * });
 * ```
 */
export async function bridge(input: BridgeConfig | unknown, options: BridgeOptions = {}): Promise<Bridge> {
  const b = await prepareBridge(input, options);
  try {
    await b.start();
  } catch (error) {
    await b.stop(); // close what was built or half connected
    throw error;
  }
  return b;
}

// The router's default, for the few lines the bridge logs itself.
const defaultLogger = consoleLogger();

async function compileRoute(
  spec: RouteSpec,
  i: number,
  transports: ReadonlyMap<string, Transport>,
  types: SchemaTypes,
  baseDir: string,
  logger: Logger,
): Promise<{ route: CompiledRoute; use: Middleware[] } | { problems: string[] }> {
  const problems: string[] = [];
  const at = (...path: PropertyKey[]): string => formatPath(['routes', i, ...path]);
  const from = transports.get(spec.from.transport);
  const to = transports.get(spec.to.transport);
  // A transport that failed to build was reported already.
  if (!from || !to) return { problems };
  if (isPattern(spec.from.topic) && !from.capabilities.wildcards) {
    problems.push(`${at('from', 'topic')}: the ${from.name} transport "${spec.from.transport}" does not support wildcard subscriptions ("${spec.from.topic}")`);
  }
  // Checked by validateBridgeConfig. Topic templates only take one-token values from message data.
  const template = (source: string, topic = false): Template => compileTemplate(source, { topic }) as Template;

  const load = async <F>(ref: string | F | undefined, where: string): Promise<F | undefined> => {
    if (ref === undefined || typeof ref === 'function') return ref;
    const loaded = await loadFunction(ref as string, baseDir);
    if ('problem' in loaded) {
      problems.push(`${where}: ${loaded.problem}`);
      return undefined;
    }
    return loaded.fn as F;
  };
  const filterFn = await load<FilterFunction>(spec.filter?.module, at('filter', 'module'));
  const transform = await load<TransformFunction>(spec.transform, at('transform'));
  const filter = spec.filter ? compileFilter(spec.filter, filterFn) : undefined;
  if (filter && 'problems' in filter) problems.push(...filter.problems.map((p) => `${at('filter')}.${p}`));

  const dl = spec.deadLetter === false ? undefined : (spec.deadLetter ?? {});
  const dlTransport = dl?.transport !== undefined ? transports.get(dl.transport) : from;
  // dlq.<topic> for a pattern source: <topic>.dlq would match the pattern and be read back.
  const defaultDl = (topic: string): string => (isPattern(spec.from.topic) ? `dlq.${topic}` : `${topic}.dlq`);
  const dlTemplate = dl ? template(dl.topic ?? (isPattern(spec.from.topic) ? 'dlq.{topic}' : '{topic}.dlq'), true) : undefined;
  if (dl && dlTemplate && dlTransport === from) {
    const sample = spec.from.topic.replaceAll('>', 'x').replaceAll('*', 'x');
    let rendered: string | undefined;
    try {
      rendered = dlTemplate.render({ topic: sample, key: 'key', id: 'id', headers: {} });
    } catch {
      rendered = undefined;
    }
    if (rendered !== undefined && topicMatches(spec.from.topic, rendered)) {
      problems.push(`${at('deadLetter', 'topic')}: dead letters ("${dlTemplate.source}") would land in this route's own source "${spec.from.topic}"; give deadLetter.topic outside it or another transport`);
    }
  }
  if (problems.length > 0) return { problems };

  const format = spec.format ?? {};
  // JSON field filters need a decoded payload: without a format they read JSON.
  const inSpec = format.in ?? (spec.filter?.json ? 'json' : undefined);
  const outSpec = format.out ?? inSpec;
  const decode = formatCodec(inSpec, types);
  const encode = formatCodec(outSpec, types);
  const attempts = spec.retry?.attempts ?? 3;
  const initialDelayMs = spec.retry?.initialDelayMs ?? 200;
  const maxDelayMs = spec.retry?.maxDelayMs ?? Math.max(10_000, initialDelayMs);
  const multiplier = spec.retry?.multiplier ?? 2;
  // Stopping (a ClosedError) is no failure of the message: straight back to the transport.
  const use: Middleware[] = [retry({ attempts, initialDelayMs, maxDelayMs, multiplier, retryable: (e) => !isPermanentError(e) && !isClosedError(e) })];
  if (dl && dlTemplate) {
    let warnedDlFallback = false;
    use.push(
      deadLetter({
        maxAttempts: dl.maxAttempts ?? attempts,
        ...(dlTransport && dlTransport !== from ? { transport: dlTransport } : {}),
        topic: (m) => {
          // A dead-letter topic that cannot be published to would fail every attempt and redeliver
          // the message forever, holding the route up: fall back to the default, never lose it.
          let why: string;
          try {
            const rendered = dlTemplate.render(m);
            const wrong = topicProblems(rendered);
            if (wrong.length === 0) return rendered;
            why = wrong.join('; ');
          } catch (error) {
            why = toError(error).message; // a header it wants is missing, or not one topic token
          }
          const fallback = defaultDl(m.topic);
          // Once per route: a stream of such messages must not flood the log; the dead letters
          // themselves carry their failure in x-error.
          if (!warnedDlFallback) {
            warnedDlFallback = true;
            logger.warn(`route "${spec.name}": deadLetter.topic "${dlTemplate.source}" gives no valid topic for message ${m.id}; dead-lettering to "${fallback}" instead (logged once per route)`, { error: why });
          }
          return fallback;
        },
      }),
    );
  }
  return {
    route: {
      name: spec.name,
      source: `${spec.from.transport}:${spec.from.topic}`,
      fromTopic: spec.from.topic,
      group: spec.from.group ?? `bridge.${spec.name}`,
      sink: `${spec.to.transport}:${spec.to.topic}`,
      from,
      to,
      topic: template(spec.to.topic, true),
      key: spec.to.key !== undefined ? template(spec.to.key) : undefined,
      headers: Object.entries(spec.to.headers ?? {}).map(([name, source]) => [name, template(source)] as const),
      filter: filter as CompiledRoute['filter'],
      filterReadsPayload: spec.filter?.json !== undefined || filterFn !== undefined,
      transform,
      decode,
      encode,
      converting: JSON.stringify(inSpec ?? 'raw') !== JSON.stringify(outSpec ?? 'raw'),
      backoff: { initialDelayMs: Math.max(initialDelayMs, 50), maxDelayMs: Math.max(maxDelayMs, 50), multiplier },
    },
    use,
  };
}
