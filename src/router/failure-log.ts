/**
 * Keeps a handler's "failed, will be delivered again" warnings readable when a message fails on
 * every attempt: at most `perWindow` lines per `windowMs`, then one line saying how many went
 * unlogged. A poison message with no dead-letter middleware is redelivered thousands of times a
 * second, and one line each would bury everything else in the log (and fill the disk).
 *
 * @example
 * ```ts
 * const log = new FailureLog();
 * const note = log.admit(Date.now());
 * if (note !== undefined) logger.warn(`handler failed${note}`);
 * ```
 */
export class FailureLog {
  readonly perWindow: number;
  readonly windowMs: number;
  #windowStart = -Infinity;
  #logged = 0;
  #unlogged = 0;

  constructor(perWindow = 10, windowMs = 10_000) {
    this.perWindow = perWindow;
    this.windowMs = windowMs;
  }

  /**
   * Whether a failure at `now` (ms) gets a line: undefined when it does not; otherwise the text to
   * append to it — empty, or how many failures went unlogged since the last line.
   */
  admit(now: number): string | undefined {
    if (now - this.#windowStart >= this.windowMs) {
      this.#windowStart = now;
      this.#logged = 0;
    }
    if (this.#logged >= this.perWindow) {
      this.#unlogged++;
      return undefined;
    }
    this.#logged++;
    const unlogged = this.#unlogged;
    this.#unlogged = 0;
    if (unlogged === 0) return '';
    return ` (${unlogged.toLocaleString('en-US')} more failure${unlogged === 1 ? '' : 's'} of this handler not logged: at most ${this.perWindow} lines per ${this.windowMs / 1000} s)`;
  }
}
