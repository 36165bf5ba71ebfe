import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../internal/free-port.test-support.ts';

/**
 * @internal For integration tests: a private nats-server (JetStream on, its own port and store
 * directory) that a test can stop and start again, so restart tests never touch the shared server.
 */
export interface TestNatsServer {
  readonly port: number;
  readonly url: string;
  readonly storeDir: string;
  /** Starts the server (again, on the same port and store). Resolves when it accepts clients. */
  start(): Promise<void>;
  /** Stops the server (SIGTERM, or SIGKILL for a crash) and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the server and deletes its store. */
  dispose(): Promise<void>;
}

const BINARY = process.env['SWITCHYARD_NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server';

/**
 * @internal Starts a private JetStream-enabled nats-server for a test; `config` is extra
 * configuration file text (e.g. `jetstream { max_file_store: 1MB }`), the flags still win.
 */
export async function startTestNatsServer(options: { config?: string } = {}): Promise<TestNatsServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'switchyard-nats-'));
  const configArgs: string[] = [];
  if (options.config !== undefined) {
    const file = join(storeDir, 'server.conf');
    writeFileSync(file, options.config);
    configArgs.push('-c', file);
  }
  let child: ChildProcess | undefined;

  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const p = spawn(BINARY, [...configArgs, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = p;
      let log = '';
      const timer = setTimeout(() => reject(new Error(`nats-server on port ${port} did not become ready:\n${log}`)), 15_000);
      p.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      p.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${log}`));
      });
      p.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const p = child;
    child = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(signal);
    await exited;
  };

  await start();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    storeDir,
    start,
    stop,
    async dispose() {
      await stop('SIGKILL');
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
