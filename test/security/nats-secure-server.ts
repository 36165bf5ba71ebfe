import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/internal/free-port.test-support.ts';

/** The nats-server binary the tests start (override with SWITCHYARD_NATS_SERVER_BIN). */
export const NATS_SERVER_BIN = process.env['SWITCHYARD_NATS_SERVER_BIN'] ?? 'nats-server';

/** True when the nats-server binary can be run. */
export function hasNatsServer(): boolean {
  return spawnSync(NATS_SERVER_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A private nats-server started from a config file; `dispose()` stops it and deletes its files. */
export interface SecureNatsServer {
  readonly port: number;
  /** Everything the server wrote to stderr (its log). */
  readonly log: () => string;
  dispose(): Promise<void>;
}

/**
 * Starts nats-server on a free loopback port with `config` (nats-server config syntax, without
 * `listen`), JetStream on in a temp store. Resolves once the server accepts clients.
 *
 * @example
 * ```ts
 * const server = await startSecureNats(`tls { cert_file: "${pki.server.certFile}" key_file: "${pki.server.keyFile}" }`);
 * ```
 */
export async function startSecureNats(config: string): Promise<SecureNatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-nats-sec-'));
  const file = join(dir, 'nats.conf');
  writeFileSync(file, `listen: "127.0.0.1:${port}"\njetstream { store_dir: "${join(dir, 'js')}" }\n${config}\n`);
  let log = '';
  const child: ChildProcess = spawn(NATS_SERVER_BIN, ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not become ready:\n${log}`)), 15_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${log}`));
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    cleanup();
    throw error;
  }
  return {
    port,
    log: () => log,
    async dispose() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await exited;
      }
      cleanup();
    },
  };
}
