/** Where a handler is in its life. */
export type HandlerState = 'registered' | 'starting' | 'running' | 'paused' | 'stopping' | 'stopped' | 'failed';

/** Where the router as a whole is. */
export type RouterState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Counters every handler has; middleware adds more through `ctx.count(name)`. */
export interface HandlerCounters {
  /** Deliveries the handler received (redeliveries included). */
  received: number;
  /** Deliveries that succeeded (acknowledged), skipped and dead-lettered ones included. */
  succeeded: number;
  /** Deliveries that failed and were left to the transport to deliver again. */
  failed: number;
  /** Messages sent through `ctx.publish()`. */
  published: number;
  /** Counters added by middleware: `dead-lettered`, `skipped-duplicate`, `retried`, … */
  [counter: string]: number;
}

/** A point-in-time view of one handler. */
export interface HandlerSnapshot {
  readonly name: string;
  readonly state: HandlerState;
  readonly transport: string;
  readonly to: string;
  readonly topic: string;
  readonly group: string;
  readonly concurrency: number;
  readonly inFlight: number;
  readonly middleware: readonly string[];
  readonly counters: Readonly<HandlerCounters>;
  /** The last error a delivery failed with, and when (ms since epoch). */
  readonly lastError?: { readonly message: string; readonly at: number };
}

/** What the router reports as it goes; switch on `type`. */
export type RouterEvent =
  | { type: 'router-state'; state: RouterState }
  | { type: 'handler-state'; handler: string; state: HandlerState; error?: Error }
  | { type: 'delivery-failed'; handler: string; messageId: string; topic: string; attempt: number; error: Error };

/**
 * A read-only view of a router, for dashboards and the CLI: the handlers, their state and
 * counters, and a stream of events. Nothing here changes the router.
 *
 * @example
 * ```ts
 * for (const h of router.inspector.handlers()) console.log(h.name, h.state, h.counters.succeeded);
 * const off = router.inspector.on((e) => { if (e.type === 'delivery-failed') console.warn(e.error); });
 * ```
 */
export interface RouterInspector {
  readonly state: RouterState;
  handlers(): HandlerSnapshot[];
  handler(name: string): HandlerSnapshot | undefined;
  /** Calls `listener` for every event until the returned function is called. */
  on(listener: (event: RouterEvent) => void): () => void;
}
