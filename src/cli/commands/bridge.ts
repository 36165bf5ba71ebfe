import type { Server } from 'node:http';
import type { Command } from 'commander';
import { prepareBridge } from '../../bridge/bridge.ts';
import { loadBridgeConfig } from '../../bridge/load-config.ts';
import { showProgress } from '../../bridge/progress.ts';
import { redactProblems } from '../../bridge/redact-problems.ts';
import { ConfigError, isConfigError } from '../../core/errors.ts';
import { interruptOnSignals } from '../interrupt.ts';
import { serveMetrics } from '../metrics-server.ts';
import { milliseconds, portNumber } from '../option-parsers.ts';

interface BridgeCommandOptions {
  dryRun?: boolean;
  progress: boolean;
  interval: number;
  metricsPort?: number;
  metricsHost: string;
}

/**
 * `switchyard bridge CONFIG`: runs the routes of a YAML/JSON bridge configuration until Ctrl-C,
 * with a progress line (messages/s per route) on stderr. The whole file is checked first, and
 * loaded (transports built, schemas and modules imported) before anything connects: every
 * mistake is printed with its path and the exit code is 2. `--dry-run` stops after that check.
 */
export function registerBridge(program: Command): void {
  program
    .command('bridge')
    .description('move messages between Kafka, RabbitMQ, NATS and the embedded broker as a YAML/JSON file describes (filters, transforms, format conversion)')
    .argument('<config>', 'the bridge configuration (.yaml, .yml or .json); ${ENV_NAME} in values is read from the environment')
    .option('--dry-run', 'check the configuration (and load its modules and schemas) without connecting, then exit')
    .option('--no-progress', 'do not print the progress line')
    .option('--interval <ms>', 'time between progress lines', milliseconds('--interval', 100), 1_000)
    .option('--metrics-port <port>', 'serve per-route Prometheus metrics and consumer lag at http://HOST:PORT/metrics', portNumber('--metrics-port'))
    .option('--metrics-host <host>', 'where --metrics-port listens; other than loopback needs $SWITCHYARD_DASHBOARD_TOKEN', '127.0.0.1')
    .action(async (file: string, opts: BridgeCommandOptions) => {
      const { config, baseDir, secretsAt } = await loadBridgeConfig(file);
      let registry: import('prom-client').Registry | undefined;
      if (opts.metricsPort !== undefined) registry = new (await import('prom-client')).Registry();
      const b = await prepareBridge(config, { baseDir, ...(registry ? { registry } : {}) }).catch((error: unknown) => {
        // Problems found while loading (transport options, modules, schemas) name the file too, and
        // hide what came from the environment: whole, and in part where a check quoted only part.
        if (isConfigError(error)) throw new ConfigError(redactProblems(error.problems, secretsAt).map((p) => `${file}: ${p}`), { cause: error });
        throw error;
      });
      if (opts.dryRun) {
        console.log(`${file}: ok, ${b.routes.length} route(s): ${b.routes.join(', ')}`);
        return;
      }
      let server: Server | undefined;
      let monitor: import('../../observability/lag.ts').LagMonitor | undefined;
      let stopProgress: (() => void) | undefined;
      // b.run() handles SIGINT/SIGTERM only once every route runs. Before that a start can wait
      // ~30 s (a restarted bridge's Kafka group rebalancing, a broker not answering), and a signal
      // then killed the process with its connections, group members and embedded directory lock
      // still held: the group waited a session timeout for members that never left. From here
      // on a signal gives the start up and closes what was opened; a second one exits at once.
      const interrupt = interruptOnSignals('interrupted while starting: closing what was opened');
      let interrupted: number | undefined;
      try {
        // Inside the try: a port that cannot be had still closes what prepareBridge built.
        if (registry) {
          const { metricsHandler } = await import('../../observability/metrics-handler.ts');
          // Each route's consumer lag, as switchyard_consumer_lag_messages{group="bridge.<route>",…}.
          const { lagMonitor } = await import('../../observability/lag.ts');
          monitor = lagMonitor({ sources: await b.lagSources(), registry, intervalMs: 10_000 });
          let url: string;
          let token: boolean;
          ({ server, url, token } = await serveMetrics(metricsHandler({ registry }), opts.metricsPort!, opts.metricsHost));
          console.error(`serving metrics at ${url}${token ? ' (Authorization: Bearer $SWITCHYARD_DASHBOARD_TOKEN)' : ''}`);
        }
        stopProgress = opts.progress ? showProgress(b, process.stderr, opts.interval) : undefined;
        b.on((e) => {
          if (e.type === 'sink-retry' && e.attempt === 1) console.error(`\nroute ${e.route}: sink refused (${e.error.message}); backing off`);
          if (e.type === 'sink-recovered') console.error(`\nroute ${e.route}: sink recovered after ${e.attempts} attempts`);
        });
        try {
          await b.start({ signal: interrupt.signal });
        } catch (error) {
          if (!interrupt.signal.aborted) throw error;
          interrupted = interrupt.exitCode();
          return; // start() closed what it had opened; the finally below finds it stopped
        }
        // Handed over with no await in between, so no signal falls between the two handlers:
        // run() installs its own (stop intake, drain, acknowledge, close) before it returns.
        interrupt.dispose();
        const running = b.run(); // until SIGINT/SIGTERM
        monitor?.start();
        console.error(`bridge running ${b.routes.length} route(s) from ${file}; Ctrl-C to stop`);
        await running;
      } finally {
        interrupt.dispose();
        stopProgress?.();
        monitor?.stop();
        server?.close();
        await b.stop();
        if (interrupted !== undefined) {
          console.error(`switchyard: bridge interrupted while starting (exit code ${interrupted}); the connections it had opened are closed`);
          process.exitCode = interrupted;
        }
      }
    });
}
