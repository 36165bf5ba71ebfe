/**
 * An AbortSignal that aborts on the first of the given process signals (default SIGINT and
 * SIGTERM), plus a function that removes the listeners. While the listeners are installed Node
 * does not exit on those signals by itself: the router stops and the process exits once nothing
 * else keeps it alive, with exit code 0.
 *
 * @example
 * ```ts
 * const { signal, dispose } = processSignals();
 * await router.run({ signal });
 * dispose();
 * ```
 */
export function processSignals(signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const listener = (name: NodeJS.Signals): void => controller.abort(new Error(`received ${name}`));
  for (const s of signals) process.on(s, listener);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const s of signals) process.off(s, listener);
    },
  };
}

/** Resolves when `signal` aborts (at once if it already has). */
export function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Resolves after `ms` or when `signal` aborts, whichever is first; true when the time ran out. */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
