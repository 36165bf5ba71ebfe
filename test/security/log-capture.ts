import { inspect } from 'node:util';

/**
 * Collects everything a test run could log — console output, process warnings, transport events
 * and every error a test saw (message, stack and causes, as a logger would print them) — so a
 * test can check that no credential appears in any of it.
 */
export interface LogCapture {
  /** Adds an error or event, printed as `util.inspect` would print it into a log. */
  record(value: unknown): void;
  /** Everything captured so far, one entry per line of output. */
  lines(): string[];
  /** The captured lines that contain any of `secrets`. */
  leaks(secrets: readonly string[]): string[];
  /** Restores console and stops listening to warnings. */
  stop(): void;
}

/** The error `connect()` fails with — recorded in `logs`, as a logger would print it — or a stand-in error if it resolved. */
export async function connectFailure(transport: { connect(): Promise<void> }, logs: LogCapture): Promise<Error> {
  const error = await transport.connect().then(
    () => new Error('connect() resolved but should have failed'),
    (e: unknown) => e as Error,
  );
  logs.record(error);
  return error;
}

/** The next process warning with `code` (e.g. `SWITCHYARD_TLS_VERIFY_OFF`). */
export function nextWarning(code: string): Promise<Error> {
  return new Promise((resolve) => {
    const on = (w: Error): void => {
      if ((w as { code?: string }).code !== code) return;
      process.off('warning', on);
      resolve(w);
    };
    process.on('warning', on);
  });
}

const METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

/**
 * Starts capturing. Console output still reaches the test runner (so failures stay readable).
 *
 * @example
 * ```ts
 * const logs = captureLogs();
 * try { await transport.connect(); } catch (error) { logs.record(error); }
 * expect(logs.leaks(['hunter2'])).toEqual([]);
 * ```
 */
export function captureLogs(): LogCapture {
  const out: string[] = [];
  const originals = METHODS.map((m) => [m, console[m]] as const);
  for (const [method, original] of originals) {
    console[method] = (...args: unknown[]) => {
      out.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 6 }))).join(' '));
      original.apply(console, args);
    };
  }
  const onWarning = (warning: Error): void => void out.push(inspect(warning, { depth: 6 }));
  process.on('warning', onWarning);
  return {
    record(value) {
      out.push(typeof value === 'string' ? value : inspect(value, { depth: 6, showHidden: false }));
      if (value instanceof Error) out.push(String(value), value.stack ?? '');
    },
    lines: () => out.flatMap((entry) => entry.split('\n')),
    leaks(secrets) {
      return this.lines().filter((line) => secrets.some((s) => line.includes(s)));
    },
    stop() {
      for (const [method, original] of originals) console[method] = original;
      process.off('warning', onWarning);
    },
  };
}
