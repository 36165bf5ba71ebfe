import { ClosedError, ConfigError, toError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import { groupProblems, patternProblems } from '../core/topic.ts';
import { MAX_TIMER_MS, timerMsProblem } from '../core/timer-limit.ts';
import { consoleLogger } from '../internal/console-logger.ts';
import type { Subscription, Transport } from '../core/transport.ts';
import { compose, type Terminal } from './compose.ts';
import { FailureLog } from './failure-log.ts';
import { orderProblems } from './middleware-order.ts';
import { HandlerContext, type RouteInfo } from './handler-context.ts';
import type { HandlerCounters, HandlerSnapshot, HandlerState, RouterEvent, RouterInspector, RouterState } from './inspector.ts';
import { delay, processSignals, whenAborted } from './shutdown.ts';
import type { DeliveryObserver, IntakeControl, Logger, Middleware, RouteHandler, RouteOptions } from './types.ts';

/** Router settings. */
export interface RouterOptions {
  /** Where the router logs. Default: warnings and errors to the console. */
  logger?: Logger;
  /** How long `stop()` lets in-flight handlers finish before aborting their signals. Default 30,000 ms. */
  drainTimeoutMs?: number;
  /**
   * How long handlers get to settle after the drain time aborted their signals. Then `stop()`
   * logs the ones still running and closes anyway: their messages are not acknowledged (delivered
   * again, at-least-once), and a transport they were consumed from is left closing until they
   * settle or, a second later, it gives up on them too. Default: `drainTimeoutMs`, at most 5,000 ms.
   */
  abortGraceMs?: number;
  /** Close the transports the handlers use once stopped. Default true. */
  closeTransports?: boolean;
}

/** How `run()` starts and when it stops. */
export interface RunOptions {
  /** Stops the router when aborted. */
  signal?: AbortSignal;
  /** Process signals that stop the router. Default `['SIGINT', 'SIGTERM']`; `[]` for none. */
  processSignals?: readonly NodeJS.Signals[];
}

const defaultLogger = consoleLogger();

class Route {
  readonly name: string;
  readonly options: RouteOptions<unknown>;
  readonly handler: RouteHandler<unknown>;
  state: HandlerState = 'registered';
  inFlight = 0;
  counters: HandlerCounters = { received: 0, succeeded: 0, failed: 0, published: 0 };
  lastError: { message: string; at: number } | undefined;
  /** Keeps the failure warnings of a message failing on every attempt from flooding the log. */
  readonly failureLog = new FailureLog();
  subscription: Subscription | undefined;
  middleware: readonly Middleware[] = [];
  /** The observers of the middleware leading the chain, called around each delivery (not as layers). */
  observers: readonly DeliveryObserver[] = [];
  chain: Terminal | undefined;
  info: RouteInfo | undefined;
  transportSignal: AbortSignal | undefined;
  stopSource: AbortSignal | undefined;
  readonly intake: IntakeControl;
  /** Set when `stop()` gave up waiting for this route's handlers: a late result is not acknowledged. */
  abandoned = false;
  #pausedBeforeStart = false;

  constructor(name: string, options: RouteOptions<unknown>, handler: RouteHandler<unknown>, onState: (r: Route) => void, intakeStopped: AbortSignal) {
    this.name = name;
    this.options = options;
    this.handler = handler;
    const intake = {
      stopped: intakeStopped,
      pause: (): void => {
        if (this.subscription) this.subscription.pause();
        else this.#pausedBeforeStart = true;
        if (this.state === 'running') {
          this.state = 'paused';
          onState(this);
        }
      },
      resume: (): void => {
        if (this.state === 'failed') return; // its transport is gone: nothing to take messages from or publish to
        this.#pausedBeforeStart = false;
        this.subscription?.resume();
        if (this.state === 'paused') {
          this.state = 'running';
          onState(this);
        }
      },
    };
    this.intake = Object.defineProperty(intake, 'paused', {
      get: () => (this.subscription ? this.subscription.paused : this.#pausedBeforeStart),
      enumerable: true,
    }) as IntakeControl;
  }

  get pausedBeforeStart(): boolean {
    return this.#pausedBeforeStart;
  }

  snapshot(): HandlerSnapshot {
    const o = this.options;
    return {
      name: this.name,
      state: this.state,
      transport: o.from.name,
      to: (o.to ?? o.from).name,
      topic: o.topic,
      group: o.group,
      concurrency: o.concurrency ?? 1,
      inFlight: this.inFlight,
      middleware: this.middleware.map((m) => m.name || '(anonymous)'),
      counters: { ...this.counters },
      ...(this.lastError ? { lastError: { ...this.lastError } } : {}),
    };
  }
}

/**
 * Runs named handlers: each consumes a topic (or pattern) of a transport in a consumer group,
 * gets its payload decoded by the route's codec, and may publish (to the same or another
 * transport) what is sent only after it succeeded and before the message is acknowledged.
 * Middleware wraps every handler, outermost first; per-handler middleware runs inside the
 * router's.
 *
 * @example
 * ```ts
 * const bus = memory();
 * const router = new Router();
 * router.use(correlation(), retry({ attempts: 5 }), deadLetter());
 * router.handle('charge-on-order',
 *   { from: bus, topic: 'orders.placed', group: 'billing', codec: json<OrderPlaced>() },
 *   async (msg, ctx) => {
 *     await charge(msg.payload);
 *     ctx.publish('payments.charged', json().encode({ orderId: msg.payload.orderId }));
 *   });
 * await router.run(); // until SIGINT/SIGTERM: stop intake, drain, commit, close
 * ```
 */
export class Router {
  readonly #routes = new Map<string, Route>();
  readonly #middleware: Middleware[] = [];
  readonly #listeners = new Set<(event: RouterEvent) => void>();
  readonly #logger: Logger;
  readonly #drainTimeoutMs: number;
  readonly #abortGraceMs: number;
  readonly #closeTransports: boolean;
  /** Aborted when the drain time is up: every handler's signal. */
  readonly #stop = new AbortController();
  /** Aborted when stopping begins: intake stops (see `IntakeControl.stopped`). */
  readonly #intakeStopped = new AbortController();
  #state: RouterState = 'idle';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  readonly inspector: RouterInspector;

  constructor(options: RouterOptions = {}) {
    this.#logger = options.logger ?? defaultLogger;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.#abortGraceMs = options.abortGraceMs ?? Math.min(this.#drainTimeoutMs, 5_000);
    const problems = [timerMsProblem('drainTimeoutMs', this.#drainTimeoutMs), timerMsProblem('abortGraceMs', this.#abortGraceMs)];
    ConfigError.throwIfAny(problems.filter((p) => p !== undefined).map((p) => `new Router(): ${p}`));
    this.#closeTransports = options.closeTransports ?? true;
    const inspector = {
      handlers: () => [...this.#routes.values()].map((r) => r.snapshot()),
      handler: (name: string) => this.#routes.get(name)?.snapshot(),
      on: (listener: (event: RouterEvent) => void) => {
        this.#listeners.add(listener);
        return () => void this.#listeners.delete(listener);
      },
    };
    this.inspector = Object.freeze(Object.defineProperty(inspector, 'state', { get: () => this.#state, enumerable: true }) as RouterInspector);
  }

  /** The router's state (also on the inspector). */
  get state(): RouterState {
    return this.#state;
  }

  /** Adds middleware around every handler, in order (the first is outermost). Before `start()` only. */
  use(...middleware: Middleware[]): this {
    this.#assertNotStarted('use');
    for (const [i, m] of middleware.entries()) {
      if (typeof m !== 'function') throw new ConfigError(`router.use: argument ${i} is not a middleware function (got ${typeof m})`);
    }
    this.#middleware.push(...middleware);
    return this;
  }

  /**
   * Registers a handler under a unique name. Every problem with the route is reported at once in
   * one ConfigError. Before `start()` only.
   */
  handle<T = Uint8Array>(name: string, route: RouteOptions<T>, handler: RouteHandler<T>): this {
    this.#assertNotStarted('handle');
    const problems: string[] = [];
    if (typeof name !== 'string' || name === '') problems.push('handler name must be a non-empty string');
    else if (this.#routes.has(name)) problems.push(`a handler named "${name}" is already registered`);
    const where = `handler "${String(name)}"`;
    if (typeof route !== 'object' || route === null) {
      problems.push(`${where}: route options are required: { from, topic, group }`);
      ConfigError.throwIfAny(problems);
    }
    if (!isTransport(route.from)) problems.push(`${where}: "from" must be a transport (memory(), embedded(), kafka(…)…)`);
    if (route.to !== undefined && !isTransport(route.to)) problems.push(`${where}: "to" must be a transport when given`);
    problems.push(...patternProblems(route.topic).map((p) => `${where}: ${p}`));
    problems.push(...groupProblems(route.group).map((p) => `${where}: ${p}`));
    if (route.start !== undefined && route.start !== 'earliest' && route.start !== 'latest') {
      problems.push(`${where}: start must be "earliest" or "latest", got ${JSON.stringify(route.start)}`);
    }
    if (route.concurrency !== undefined && (!Number.isInteger(route.concurrency) || route.concurrency < 1)) {
      problems.push(`${where}: concurrency must be a whole number ≥ 1, got ${JSON.stringify(route.concurrency)}`);
    }
    if (route.codec !== undefined && typeof route.codec?.decode !== 'function') problems.push(`${where}: codec must be a Codec (json(), raw(), protobuf(…))`);
    for (const [i, m] of (route.use ?? []).entries()) {
      if (typeof m !== 'function') problems.push(`${where}: use[${i}] is not a middleware function`);
    }
    if (typeof handler !== 'function') problems.push(`${where}: handler must be a function (msg, ctx) => Promise<void>`);
    ConfigError.throwIfAny(problems);
    this.#routes.set(name, new Route(name, route as RouteOptions<unknown>, handler as RouteHandler<unknown>, (r) => this.#handlerState(r), this.#intakeStopped.signal));
    return this;
  }

  /**
   * Connects the transports and subscribes every handler; resolves once all consume. If one
   * subscription fails, the ones already started are closed and the error is thrown. A router
   * that was stopped — even before it started — does not start again: that rejects with a
   * ConfigError (create a new Router).
   */
  start(): Promise<void> {
    // Once stop() was called, starting would give a router that stop() no longer stops. (A start
    // that failed by itself keeps rejecting with its own error.)
    if (this.#stopping) {
      const error = new ConfigError(
        `router.start: the router was stopped${this.#starting ? '' : ' (stop() was called before start())'}; a stopped router does not start again — create a new Router`,
      );
      return this.#starting ? this.#starting.then(() => Promise.reject(error)) : Promise.reject(error);
    }
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.#routes.size === 0) throw new ConfigError('router.start: no handlers registered (router.handle(name, route, handler))');
    this.#setState('starting');
    const transports = new Set<Transport>();
    for (const r of this.#routes.values()) {
      transports.add(r.options.from);
      if (r.options.to) transports.add(r.options.to);
    }
    this.#warnAboutOrder();
    try {
      await Promise.all([...transports].map((t) => t.connect()));
      for (const r of this.#routes.values()) await this.#subscribe(r);
    } catch (error) {
      // Not logged: start() and run() reject with it, and a caller that also logged it showed it twice.
      this.#stopping ??= this.#stopNow();
      await this.#stopping;
      throw error;
    }
    this.#setState('running');
  }

  /**
   * Warns once per mistake (naming the handlers it affects) about middleware in an order that
   * keeps another from working — `timeout()` or `idempotency()` outside `retry()`/`deadLetter()`.
   * A warning, not an error: such a chain runs, and one the user meant (a total time budget
   * around the retries) is not refused; but its cost, a message redelivered for ever or a
   * dead letter that cannot be replayed, shows only much later.
   */
  #warnAboutOrder(): void {
    const handlers = new Map<string, string[]>();
    for (const r of this.#routes.values()) {
      for (const problem of orderProblems([...this.#middleware, ...(r.options.use ?? [])])) {
        handlers.set(problem, [...(handlers.get(problem) ?? []), r.name]);
      }
    }
    for (const [problem, names] of handlers) {
      this.#logger.warn(`middleware order of ${names.map((n) => `handler "${n}"`).join(', ')}: ${problem}`, { handlers: names });
    }
  }

  async #subscribe(r: Route): Promise<void> {
    const o = r.options;
    r.middleware = [...this.#middleware, ...(o.use ?? [])];
    const leading = r.middleware.findIndex((m) => m.observer === undefined);
    const hoisted = leading === -1 ? r.middleware.length : leading;
    r.observers = r.middleware.slice(0, hoisted).map((m) => m.observer!);
    const handler = r.handler;
    r.chain = compose(r.middleware.slice(hoisted), (message, ctx) => {
      const payload = ctx.payload();
      return handler({ ...message, payload, bytes: message.payload }, ctx);
    });
    r.info = {
      handler: r.name,
      route: o.topic,
      group: o.group,
      from: o.from,
      to: o.to ?? o.from,
      codec: o.codec,
      intake: r.intake,
      logger: this.#logger,
      count: (counter) => {
        r.counters[counter] = (r.counters[counter] ?? 0) + 1;
      },
      published: (n) => {
        r.counters.published += n;
      },
      toClosed: (error) => this.#toClosed(r, error),
    };
    r.state = 'starting';
    this.#handlerState(r);
    // Before subscribing: a middleware that pauses the route now (an open circuit) keeps it from taking any message.
    for (const m of new Set(r.middleware)) m.attach?.({ handler: r.name, intake: r.intake, logger: this.#logger });
    // The subscription gives up on stuck handlers a little after stop() does: stop() decides
    // when, aborts the signals and names the handlers it leaves behind, not the transport.
    // (At most the longest delay a timer takes.)
    const drainTimeoutMs = Math.min(this.#drainTimeoutMs + this.#abortGraceMs + 1_000, MAX_TIMER_MS);
    r.subscription = await o.from.subscribe(
      o.topic,
      { group: o.group, from: o.start ?? 'latest', concurrency: o.concurrency ?? 1, drainTimeoutMs },
      (message, tctx) => this.#deliver(r, message, tctx.signal),
    );
    if (r.pausedBeforeStart) r.subscription.pause();
    r.state = r.subscription.paused ? 'paused' : 'running';
    this.#handlerState(r);
    void r.subscription.closed.then((error) => {
      if (this.#state === 'stopping' || this.#state === 'stopped' || r.state === 'failed') return;
      if (error) {
        r.state = 'failed';
        this.#handlerState(r, error);
        return;
      }
      // Closed without an error while running: not by this router, so by the transport's close().
      // Left 'running', the handler looked fine while it took no message any more.
      const closed = new ClosedError(`the subscription of handler "${r.name}" to "${o.topic}"`, {
        detail:
          `transport "${o.from.name}" was closed while the router was running, so the handler takes no more messages. ` +
          'A transport shared by several routers is closed by the first one to stop: give those routers closeTransports: false and close the transport once all have stopped',
      });
      this.#fail(r, closed);
    });
  }

  /**
   * The route's `to` transport refused a publish as closed (see RouteInfo.toClosed): every
   * message would fail the same way after its handler ran, redelivered at once, for ever. Its
   * intake stops instead; those messages stay with the broker.
   */
  #toClosed(r: Route, error: Error): void {
    if (r.state === 'failed' || this.#state === 'stopping' || this.#state === 'stopped') return;
    r.subscription?.pause();
    const closed = new ClosedError(`handler "${r.name}"`, {
      detail:
        `transport "${(r.options.to ?? r.options.from).name}" it publishes to was closed while the router was running, so it takes no more messages ` +
        '(the ones it took are left to be delivered again). Close transports only after the routers using them stopped, or give the router a transport of its own',
      cause: error,
    });
    this.#fail(r, closed);
  }

  /** A route can run no more while the router does: logged, and its state 'failed'. */
  #fail(r: Route, error: Error): void {
    r.state = 'failed';
    r.lastError = { message: error.message, at: Date.now() };
    this.#logger.error(error.message, { handler: r.name });
    this.#handlerState(r, error);
  }

  async #deliver(r: Route, message: Message, transportSignal: AbortSignal): Promise<void> {
    r.counters.received++;
    r.inFlight++;
    // Transports hand the same signal to every delivery of a subscription: combine it with the
    // router's once, not per message. Each context derives its own signal from it on first use.
    if (r.transportSignal !== transportSignal) {
      r.transportSignal = transportSignal;
      r.stopSource = AbortSignal.any([transportSignal, this.#stop.signal]);
    }
    const ctx = new HandlerContext(r.info!, message, r.stopSource!);
    // One observer (metrics()) is the usual case: its mark in a local, no array per delivery.
    const observers = r.observers;
    const single = observers.length === 1 ? observers[0]! : undefined;
    const mark = single ? single.started(message, ctx) : 0;
    const marks = observers.length > 1 ? observers.map((o) => o.started(message, ctx)) : undefined;
    let succeeded = false;
    try {
      await r.chain!(message, ctx);
      // stop() gave up on this handler and closed: what it did is not acknowledged, nor sent.
      if (r.abandoned) throw abandonedError(r);
      if (ctx.pending > 0) await ctx.flush();
      succeeded = true;
      r.counters.succeeded++;
    } catch (thrown) {
      const error = toError(thrown);
      r.counters.failed++;
      const now = Date.now();
      r.lastError = { message: error.message, at: now };
      const unlogged = r.failureLog.admit(now);
      if (unlogged !== undefined) {
        this.#logger.warn(`handler "${r.name}" failed on message ${message.id} (attempt ${message.attempt}); it will be delivered again${unlogged}`, {
          error: error.message,
        });
      }
      this.#emit({ type: 'delivery-failed', handler: r.name, messageId: message.id, topic: message.topic, attempt: ctx.attempt, error });
      throw error;
    } finally {
      r.inFlight--;
      if (single) single.ended(message, ctx, mark, succeeded);
      else if (marks) for (let i = observers.length - 1; i >= 0; i--) observers[i]!.ended(message, ctx, marks[i]!, succeeded);
    }
  }

  /**
   * Stops intake, lets in-flight handlers finish within `drainTimeoutMs` (then aborts their
   * signals), commits what succeeded, and closes the transports (unless `closeTransports: false`).
   * Handlers still running `abortGraceMs` after their signals were aborted are logged and left
   * behind: their messages are not acknowledged (they are delivered again) and the transports
   * they came from are left to finish closing once they settle (or give up on them a second
   * later). Idempotent; resolves when everything else is closed. A stopped router cannot be
   * started again.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => {});
      await this.#stopNow();
    })();
    return this.#stopping;
  }

  async #stopNow(): Promise<void> {
    if (this.#state === 'idle') {
      this.#setState('stopped'); // never started: nothing to drain or close
      return;
    }
    this.#setState('stopping');
    // Middleware holding messages until intake resumes (circuitBreaker()) let them go now.
    this.#intakeStopped.abort(new Error('router stopping'));
    const routes = [...this.#routes.values()].filter((r) => r.subscription);
    for (const r of routes) {
      r.state = 'stopping';
      this.#handlerState(r);
    }
    const closing = Promise.all(routes.map((r) => r.subscription!.close()));
    const abandoned = await this.#drain(closing, routes);
    for (const r of this.#routes.values()) {
      r.state = 'stopped';
      this.#handlerState(r);
    }
    if (this.#closeTransports) {
      const transports = new Set<Transport>();
      for (const r of this.#routes.values()) {
        transports.add(r.options.from);
        if (r.options.to) transports.add(r.options.to);
      }
      // A transport whose subscription still waits for a stuck handler cannot finish closing
      // before that handler settles: start closing it (no new publishes), do not wait for it.
      const stuck = new Set(abandoned.map((r) => r.options.from));
      for (const t of stuck) {
        void t.close().catch((error: unknown) => this.#logger.warn(`closing transport "${t.name}" failed`, { error: toError(error).message }));
      }
      await Promise.all([...transports].filter((t) => !stuck.has(t)).map((t) => t.close()));
    }
    this.#setState('stopped');
  }

  /**
   * Waits for the subscriptions to close: `drainTimeoutMs`, then their handlers' signals abort,
   * then `abortGraceMs` more. Returns the routes whose handlers still run then (now abandoned).
   */
  async #drain(closing: Promise<unknown>, routes: readonly Route[]): Promise<Route[]> {
    const settled = new AbortController(); // ends the waits below (and their timers) once closed
    void closing.then(
      () => settled.abort(),
      () => settled.abort(),
    );
    if (!(await delay(this.#drainTimeoutMs, settled.signal))) {
      await closing; // closed in time (a close that failed rejects here, as always)
      return [];
    }
    this.#logger.warn(`drain time (${this.#drainTimeoutMs} ms) is up: aborting in-flight handlers`);
    this.#stop.abort(new Error('router drain timeout'));
    if (!(await delay(this.#abortGraceMs, settled.signal))) {
      await closing;
      return [];
    }
    const stuck = routes.filter((r) => r.inFlight > 0);
    for (const r of stuck) r.abandoned = true;
    this.#logger.error(
      `${stuck.map((r) => `handler "${r.name}" (${r.inFlight} message${r.inFlight === 1 ? '' : 's'})`).join(', ') || 'a subscription'} still running ` +
        `${this.#abortGraceMs} ms after its signal was aborted: closing anyway. Those messages are not acknowledged and will be delivered again; ` +
        'make the handler stop when ctx.signal aborts (pass it to the calls it waits on)',
      { handlers: stuck.map((r) => r.name) },
    );
    return stuck;
  }

  /**
   * Starts every handler and runs until `signal` aborts, a process signal arrives (SIGINT,
   * SIGTERM by default) or `stop()` is called; then shuts down gracefully and resolves. A second
   * process signal during that shutdown exits the process at once (code 130 for SIGINT, 143 for
   * SIGTERM). Rejects with a ConfigError for a router that was stopped.
   */
  async run(options: RunOptions = {}): Promise<void> {
    const signals = processSignals(options.processSignals ?? ['SIGINT', 'SIGTERM'], { logger: this.#logger });
    try {
      const stopSignal = AbortSignal.any([signals.signal, ...(options.signal ? [options.signal] : [])]);
      await this.start();
      await Promise.race([whenAborted(stopSignal), this.#stopRequested()]);
      await this.stop();
    } finally {
      signals.dispose();
    }
  }

  #stopRequested(): Promise<void> {
    return new Promise((resolve) => {
      const off = this.inspector.on((e) => {
        if (e.type === 'router-state' && (e.state === 'stopping' || e.state === 'stopped')) {
          off();
          resolve();
        }
      });
      if (this.#state === 'stopping' || this.#state === 'stopped') resolve();
    });
  }

  #assertNotStarted(what: string): void {
    if (this.#state !== 'idle' || this.#stopping) {
      const when = this.#starting ? 'has already started' : 'was stopped';
      throw new ConfigError(`router.${what}: the router ${when}; register handlers and middleware before start()/run()`);
    }
  }

  #setState(state: RouterState): void {
    this.#state = state;
    this.#emit({ type: 'router-state', state });
  }

  #handlerState(r: Route, error?: Error): void {
    this.#emit({ type: 'handler-state', handler: r.name, state: r.state, ...(error ? { error } : {}) });
  }

  #emit(event: RouterEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#logger.error('router event listener threw', { error: toError(error).message });
      }
    }
  }
}

function isTransport(value: unknown): value is Transport {
  return typeof value === 'object' && value !== null && typeof (value as Transport).subscribe === 'function' && typeof (value as Transport).publish === 'function';
}

function abandonedError(r: Route): ClosedError {
  return new ClosedError(`handler "${r.name}"`, {
    detail: 'it finished after stop() had given up waiting for it; the message is not acknowledged and will be delivered again',
  });
}
