import { constants } from 'node:os';

/** What {@link interruptOnSignals} hands back. */
export interface Interrupt {
  /** Aborts on the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** 128 + the number of the signal received (130 for SIGINT, 143 for SIGTERM), as shells report; undefined before one. */
  exitCode(): number | undefined;
  /** Removes the listeners: Node's own handling (exit at once) applies again. */
  dispose(): void;
}

/**
 * Lets a command finish what it has started when the user presses Ctrl-C (or it gets SIGTERM),
 * instead of dying with work half done: the first signal writes `notice` to stderr and aborts
 * `signal`; a second one exits at once with its exit code.
 */
export function interruptOnSignals(notice: string, stderr: NodeJS.WritableStream = process.stderr): Interrupt {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const code = (name: NodeJS.Signals): number => 128 + (constants.signals[name] ?? 0);
  const listener = (name: NodeJS.Signals): void => {
    if (received) process.exit(code(name));
    received = name;
    stderr.write(`\n${notice} (press Ctrl-C again to exit at once)\n`);
    controller.abort(new Error(`interrupted by ${name}`));
  };
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, listener);
  return {
    signal: controller.signal,
    exitCode: () => (received ? code(received) : undefined),
    dispose: () => {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.off(s, listener);
    },
  };
}
