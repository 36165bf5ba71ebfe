import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.ts';
import { redact } from '../../core/redact.ts';
import { numberBetween, portNumber, wholeNumber } from '../option-parsers.ts';

/** The parts of examples/ecommerce/main.ts this command uses (kept local: examples are not part of the build). */
interface DemoModule {
  runDemo(options: DemoRunOptions): Promise<{ ok: boolean }>;
  formatSummary(summary: { ok: boolean }): string;
  formatProgress(progress: unknown): string;
  defaultFaults: DemoFaults;
  noFaults: DemoFaults;
}
/** examples/ecommerce/dashboard.ts */
interface DashboardModule {
  startDashboard(port?: number, options?: { host?: string }): Promise<{ url: string; push(progress: unknown): void; attach(view: unknown): void; finish(summary: unknown): void; close(): Promise<void> }>;
}
interface DemoFaults {
  paymentFailures: number;
  transientPaymentFailures: number;
  duplicates: number;
  poison: number;
  shippingFailures: number;
  realtimeFailures: number;
  slowDownstreamS: number;
  workerCrashes: number;
}
interface DemoRunOptions {
  profile: string;
  dir?: string;
  durationS: number;
  rate: number;
  customers: number;
  products: number;
  faults: DemoFaults;
  onProgress?: (progress: unknown) => void;
  onStart?: (view: unknown) => void;
  afterRun?: (summary: { ok: boolean }) => Promise<void>;
  signal?: AbortSignal;
  logger?: { debug(m: string): void; info(m: string): void; warn(m: string, f?: unknown): void; error(m: string, f?: unknown): void };
}

interface DemoFlags {
  duration: number;
  rate: number;
  profile: string;
  json?: boolean;
  customers: number;
  products: number;
  dir?: string;
  faults: boolean;
  paymentFailures?: number;
  transientFailures?: number;
  duplicates?: number;
  poison?: number;
  shippingFailures?: number;
  realtimeFailures?: number;
  slowDownstream?: number;
  workerCrashes?: number;
  verbose?: boolean;
  dashboard: boolean;
  dashboardPort?: number;
  dashboardHost?: string;
  keepOpen?: boolean;
}

/** The demo lives with the examples (services written only against the public API); it runs from a repository checkout. */
const DEMO = new URL('../../../examples/ecommerce/main.ts', import.meta.url);
const DASHBOARD = new URL('../../../examples/ecommerce/dashboard.ts', import.meta.url);

/** A log line with its fields, credentials in URLs masked (`--verbose` output may be shared). */
const redacted = (message: string, fields?: unknown): string => redact(fields === undefined ? message : `${message} ${inspect(fields, { depth: 4, breakLength: Infinity })}`);

/**
 * `switchyard demo`: the Black Friday e-commerce demo (examples/ecommerce) with injected faults,
 * a live progress display and a verified summary; exit code 0 only when every check holds.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the Black Friday e-commerce demo with injected faults and verify the outcome from the system state')
    .option('--duration <s>', 'seconds of load', numberBetween('--duration', 1), 30)
    .option('--rate <orders/s>', 'orders per second (0 = full speed)', numberBetween('--rate', 0), 50)
    .option('--profile <name>', 'where it runs: embedded (no services needed) or mixed (Kafka, RabbitMQ, NATS, PostgreSQL from `npm run services`; SWITCHYARD_KAFKA_BROKERS, SWITCHYARD_AMQP_URL, SWITCHYARD_NATS_URL, SWITCHYARD_PG_URL override)', 'embedded')
    .option('--json', 'print the summary as JSON (progress goes to stderr)')
    .option('--customers <n>', 'distinct customers', wholeNumber('--customers', 1), 200)
    .option('--products <n>', 'products in the catalog', wholeNumber('--products', 4), 50)
    .option('--dir <path>', 'keep the data here (default: a temporary folder, removed afterwards)')
    .option('--no-faults', 'inject no faults')
    .option('--payment-failures <pct>', 'percent of cards declined (default 5)', numberBetween('--payment-failures', 0, 100))
    .option('--transient-failures <pct>', 'percent of charge attempts failing transiently (default 5)', numberBetween('--transient-failures', 0, 100))
    .option('--duplicates <pct>', 'percent of order requests delivered twice (default 5)', numberBetween('--duplicates', 0, 100))
    .option('--poison <n>', 'malformed order requests (default 5)', wholeNumber('--poison', 0))
    .option('--shipping-failures <pct>', 'percent of orders no courier takes (default 2)', numberBetween('--shipping-failures', 0, 100))
    .option('--realtime-failures <pct>', 'percent of real-time updates dropped (default 5)', numberBetween('--realtime-failures', 0, 100))
    .option('--slow-downstream <s>', 'seconds the email provider hangs mid-run (default 2)', numberBetween('--slow-downstream', 0))
    .option('--worker-crashes <n>', 'times the fulfillment worker is killed mid-run and restarted (default 1)', wholeNumber('--worker-crashes', 0, 20))
    .option('--verbose', 'print warnings and errors from the router and the saga orchestrator')
    .option('--no-dashboard', 'no live dashboard (it is off with --json too)')
    // No default value given: commander would print "(default: 0)" after our wording; 0 is applied below.
    .option('--dashboard-port <port>', 'dashboard port on 127.0.0.1 (default: any free port)', portNumber('--dashboard-port'))
    .option('--dashboard-host <host>', 'bind the dashboard to this address instead of 127.0.0.1 (then $SWITCHYARD_DASHBOARD_TOKEN is required and every request must carry it)')
    .option('--keep-open', 'keep the dashboard up after the run until Ctrl-C (not with --no-dashboard or --json)')
    .action(async (flags: DemoFlags) => {
      if (flags.profile !== 'embedded' && flags.profile !== 'mixed') throw new ConfigError(`unknown profile "${flags.profile}"; choose embedded or mixed`);
      // Refused before the run rather than ignored after it: the user waiting to browse the
      // dashboard would find the command ended.
      if (flags.keepOpen && (!flags.dashboard || flags.json)) {
        throw new ConfigError(`--keep-open keeps the dashboard up after the run, and ${flags.json ? '--json' : '--no-dashboard'} turns it off; drop one of them`);
      }
      if (!existsSync(fileURLToPath(DEMO))) throw new ConfigError(`the demo runs from a Switchyard repository checkout: ${fileURLToPath(DEMO)} not found`);
      const demo = (await import(pathToFileURL(fileURLToPath(DEMO)).href)) as DemoModule;
      const base = flags.faults ? demo.defaultFaults : demo.noFaults;
      const faults: DemoFaults = {
        paymentFailures: flags.paymentFailures ?? base.paymentFailures,
        transientPaymentFailures: flags.transientFailures ?? base.transientPaymentFailures,
        duplicates: flags.duplicates ?? base.duplicates,
        poison: flags.poison ?? base.poison,
        shippingFailures: flags.shippingFailures ?? base.shippingFailures,
        realtimeFailures: flags.realtimeFailures ?? base.realtimeFailures,
        slowDownstreamS: flags.slowDownstream ?? base.slowDownstreamS,
        workerCrashes: flags.workerCrashes ?? base.workerCrashes,
      };
      // Ctrl-C (or SIGTERM) must not kill the demo mid-run: that skips every cleanup and leaves the
      // temporary data folder (broker socket, lock, logs) behind. Abort the load and let runDemo
      // stop the shop and remove its data; a second signal means "now" and exits at once.
      const stop = new AbortController();
      let interrupted: NodeJS.Signals | undefined;
      const exitCode = (signal: NodeJS.Signals): number => (signal === 'SIGINT' ? 130 : 143); // 128 + signal number, as shells report
      const onSignal = (signal: NodeJS.Signals): void => {
        if (interrupted) process.exit(exitCode(signal));
        interrupted = signal;
        process.stderr.write('\ninterrupted — stopping and cleaning up… (press Ctrl-C again to exit at once)\n');
        stop.abort(new Error(`interrupted by ${signal}`));
      };
      const listen = (on: boolean): void => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) (on ? process.on : process.off).call(process, signal, onSignal);
      };
      listen(true);
      const out = flags.json ? process.stderr : process.stdout;
      const live = out.isTTY === true;
      const dashboard = flags.dashboard && !flags.json ? await ((await import(pathToFileURL(fileURLToPath(DASHBOARD)).href)) as DashboardModule).startDashboard(flags.dashboardPort ?? 0, flags.dashboardHost ? { host: flags.dashboardHost } : {}) : undefined;
      if (!flags.json) console.log(`switchyard demo: ${flags.duration} s at ${flags.rate === 0 ? 'full speed' : `${flags.rate} orders/s`}, profile ${flags.profile}${flags.faults ? ', faults injected' : ''}`);
      if (dashboard) console.log(`dashboard: ${dashboard.url}`);
      try {
        await demo.runDemo({
          signal: stop.signal,
          profile: flags.profile,
          ...(flags.dir ? { dir: flags.dir } : {}),
          durationS: flags.duration,
          rate: flags.rate,
          customers: flags.customers,
          products: flags.products,
          faults,
          // One line rewritten in place on a terminal; a plain line per second otherwise.
          onProgress: (p) => {
            dashboard?.push(p);
            out.write(live ? `\r\x1b[2K${demo.formatProgress(p)}` : `${demo.formatProgress(p)}\n`);
          },
          ...(dashboard ? { onStart: (view: unknown) => dashboard.attach(view) } : {}),
          // The summary is printed while the broker is still open, so --keep-open leaves the
          // dead letters replayable and the sagas browsable from the dashboard.
          afterRun: async (summary) => {
            if (live) out.write('\n');
            console.log(flags.json ? JSON.stringify(summary, null, 2) : demo.formatSummary(summary));
            if (!summary.ok) process.exitCode = 1;
            if (!dashboard) return;
            dashboard.finish(summary);
            if (flags.keepOpen) {
              console.log(`dashboard still at ${dashboard.url}; Ctrl-C to stop`);
              // Here Ctrl-C is the expected way to end a finished run, not an interruption.
              listen(false);
              await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
            }
          },
          ...(flags.verbose
            ? { logger: { debug: () => {}, info: () => {}, warn: (m: string, f?: unknown) => console.error(`warn: ${redacted(m, f)}`), error: (m: string, f?: unknown) => console.error(`error: ${redacted(m, f)}`) } }
            : {}),
        });
      } catch (error) {
        if (!interrupted) throw error; // the abort reason: the run was cut short on purpose
      } finally {
        await dashboard?.close();
        listen(false);
      }
      if (interrupted) {
        process.exitCode = exitCode(interrupted);
        process.stderr.write(flags.dir ? `stopped; the data stays in ${flags.dir}\n` : 'stopped; the temporary data folder was removed\n');
      }
    });
}
