import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestPki } from './certs.ts';
import { freePort } from '../../src/internal/free-port.test-support.ts';

const run = promisify(execFile);

/**
 * Where the real RabbitMQ scripts are. Debian's /usr/sbin/rabbitmq-server is a wrapper that
 * switches to the `rabbitmq` user (and loses our environment), so the package's own bin
 * directory comes first. Override with SWITCHYARD_RABBITMQ_BIN_DIR.
 */
function binDir(): string | undefined {
  const candidates = [process.env['SWITCHYARD_RABBITMQ_BIN_DIR'], '/usr/lib/rabbitmq/bin', '/usr/local/lib/rabbitmq/bin', '/opt/rabbitmq/sbin'];
  return candidates.find((d): d is string => d !== undefined && existsSync(join(d, 'rabbitmq-server')) && existsSync(join(d, 'rabbitmqctl')));
}

/** Why a private RabbitMQ node cannot be started here, or undefined when it can. */
export function rabbitmqUnavailable(): string | undefined {
  const dir = binDir();
  if (!dir) return 'RabbitMQ is not installed (no rabbitmq-server/rabbitmqctl; set SWITCHYARD_RABBITMQ_BIN_DIR)';
  if (spawnSync('erl', ['-version'], { stdio: 'ignore' }).error) return 'Erlang (erl) is not on PATH';
  return undefined;
}

/** A private RabbitMQ node with TLS-only listeners; `dispose()` stops it and deletes its files. */
export interface TlsRabbitNode {
  /** TLS listener on 127.0.0.1 (its certificate names localhost and 127.0.0.1). */
  readonly port: number;
  /** TLS listener on 127.0.0.2, an address the certificate does not name. */
  readonly otherAddressPort: number;
  readonly nodename: string;
  /** Runs `rabbitmqctl -n <node> ...args`. */
  ctl(...args: string[]): Promise<string>;
  dispose(): Promise<void>;
}

/**
 * Boots a second RabbitMQ node (its own name, ports, data, logs and Erlang cookie, in a temp
 * dir; no plugins, no plain-TCP listener; a child process of the test) with the test PKI: peers are verified when they send a
 * certificate, but not required to. Takes ~7 s; start one per test file.
 *
 * @example
 * ```ts
 * const node = await startTlsRabbit(pki, { maxMessageBytes: 65_536 });
 * await node.ctl('add_user', 'app', 'secret');
 * ```
 */
export async function startTlsRabbit(pki: TestPki, options: { maxMessageBytes?: number } = {}): Promise<TlsRabbitNode> {
  const dir = binDir();
  if (!dir) throw new Error(rabbitmqUnavailable());
  const base = mkdtempSync(join(tmpdir(), 'switchyard-rabbit-tls-'));
  const [port, otherAddressPort, distPort] = await Promise.all([freePort(), freePort('127.0.0.2'), freePort()]);
  const nodename = `switchyard-tls-${process.pid}-${Date.now().toString(36)}@localhost`;
  mkdirSync(join(base, 'mnesia'));
  mkdirSync(join(base, 'log'));
  writeFileSync(join(base, 'enabled_plugins'), '[].\n');
  writeFileSync(join(base, 'rabbitmq-env.conf'), '');
  writeFileSync(
    join(base, 'rabbitmq.conf'),
    [
      'listeners.tcp = none',
      `listeners.ssl.default = 127.0.0.1:${port}`,
      `listeners.ssl.other = 127.0.0.2:${otherAddressPort}`,
      `ssl_options.cacertfile = ${pki.ca.certFile}`,
      `ssl_options.certfile = ${pki.server.certFile}`,
      `ssl_options.keyfile = ${pki.server.keyFile}`,
      'ssl_options.verify = verify_peer',
      'ssl_options.fail_if_no_peer_cert = false',
      'loopback_users = none',
      ...(options.maxMessageBytes ? [`max_message_size = ${options.maxMessageBytes}`] : []),
      '',
    ].join('\n'),
  );
  const env = {
    ...process.env,
    HOME: base, // the Erlang cookie is created here and shared by rabbitmqctl below
    RABBITMQ_CONF_ENV_FILE: join(base, 'rabbitmq-env.conf'), // ignore /etc/rabbitmq/rabbitmq-env.conf (it names the shared node)
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: join(base, 'log'),
    RABBITMQ_CONFIG_FILE: join(base, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(base, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(base, 'enabled_plugins'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  const ctl = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(join(dir, 'rabbitmqctl'), ['-n', nodename, ...args], { env, cwd: base, timeout: 120_000 });
    return stdout;
  };
  // In the foreground (not -detached, whose early failures vanish without a trace): the output
  // says when the broker is up, and the child process is ours to stop.
  let output = '';
  const child: ChildProcess = spawn(join(dir, 'rabbitmq-server'), [], { env, cwd: base, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      await ctl('stop').catch(() => child.kill('SIGKILL'));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(base, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`RabbitMQ node ${nodename} did not start within 150 s:\n${output.slice(-3_000)}`)), 150_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (/Starting broker\.\.\. completed/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`RabbitMQ node ${nodename} exited with ${code}:\n${output.slice(-3_000)}`));
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    await ctl('await_startup', '--timeout', '60');
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, otherAddressPort, nodename, ctl, dispose: stop };
}
