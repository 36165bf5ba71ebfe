/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts (at once when
 * it has already): for steps nobody must wait for once told to stop — a group join, a connect to
 * a cluster that does not answer, a saga action that never returns. `promise` itself goes on, its
 * outcome handled here: whoever aborts cleans up what it leaves behind (closing the client fails
 * its pending requests).
 *
 * @example
 * ```ts
 * const stream = await abortable(consumer.consume(options), this.#halt.signal);
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => reject(signal.reason);
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', stop);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', stop);
        reject(error);
      },
    );
  });
}
