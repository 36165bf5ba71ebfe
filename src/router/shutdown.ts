import { constants } from 'node:os';
import type { Logger } from './types.ts';

/**
 * An AbortSignal that aborts on the first of the given process signals (default SIGINT and
 * SIGTERM), plus a function that removes the listeners. While the listeners are installed Node
 * does not exit on those signals by itself: the router stops and the process exits once nothing
 * else keeps it alive, with exit code 0. A second signal while the first one's shutdown runs
 * exits the process at once, with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM),
 * after logging so: what was in flight is not acknowledged and is delivered again.
 *
 * @example
 * ```ts
 * const { signal, dispose } = processSignals();
 * await router.run({ signal });
 * dispose();
 * ```
 */
export function processSignals(
  signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
  options: { logger?: Pick<Logger, 'error'> } = {},
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const listener = (name: NodeJS.Signals): void => {
    if (!controller.signal.aborted) {
      controller.abort(new Error(`received ${name}`));
      return;
    }
    // Asked twice: whoever sends it (an operator pressing Ctrl-C again, an orchestrator) will not
    // wait for the drain, and these listeners keep Node from exiting by itself.
    const code = 128 + (constants.signals[name] ?? 0);
    const message =
      `received ${name} again while shutting down: exiting now with code ${code}; ` +
      'messages still being handled are not acknowledged and will be delivered again';
    if (options.logger) options.logger.error(message, { signal: name, exitCode: code });
    else console.error(`switchyard: ${message}`);
    process.exit(code);
  };
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
