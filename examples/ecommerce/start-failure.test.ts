import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';

// `switchyard demo --profile mixed` with a service that is not there fails before the load starts;
// it left its temporary data folder (switchyard-demo-*) behind in the temp dir at every attempt.
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Runs `switchyard demo` with `args` and the environment `env`; its exit code and stderr. */
function demo(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--conditions=switchyard-source', main, 'demo', ...args], { env, timeout: timeoutMs }, (error, _stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stderr }),
    );
  });
}

it('a mixed run whose PostgreSQL is not reachable says what to do, exits 1 and leaves no temporary folder', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'demo-start-failure-'));
  scratch.push(tmp);
  // Nothing listens on port 1: the connection is refused at once.
  const env = { ...process.env, TMPDIR: tmp, SWITCHYARD_PG_URL: 'postgres://postgres@127.0.0.1:1/test' };
  const { code, stderr } = await demo(['--profile', 'mixed', '--duration', '1', '--no-dashboard'], env);
  expect(stderr).toContain('PostgreSQL is not reachable');
  expect(stderr).toContain('`npm run services` starts them on this machine');
  expect(stderr).not.toContain('    at '); // no stack trace
  expect(code).toBe(1);
  expect(readdirSync(tmp)).toEqual([]);
});

// RabbitMQ refusing connections showed only after the transport's 15 s connect timeout, in silence,
// and as "a broker is not reachable: rabbitmq: …"; with NATS down too, only one of them was named.
it('a mixed run names every service that refuses connections at once, before the 15 s connect timeout, and exits 1', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'demo-start-failure-'));
  scratch.push(tmp);
  const env = { ...process.env, TMPDIR: tmp, SWITCHYARD_AMQP_URL: 'amqp://guest:secret@127.0.0.1:1', SWITCHYARD_NATS_URL: 'nats://127.0.0.1:2' };
  // Killed (code -1) if it still waits on the transport's connect timeout.
  const { code, stderr } = await demo(['--profile', 'mixed', '--duration', '1', '--no-dashboard'], env, 10_000);
  expect(stderr).toContain('RabbitMQ is not reachable (SWITCHYARD_AMQP_URL): nothing listens on 127.0.0.1:1');
  expect(stderr).toContain('NATS is not reachable (SWITCHYARD_NATS_URL): nothing listens on 127.0.0.1:2');
  expect(stderr).toContain('`npm run services` starts them on this machine');
  expect(stderr).not.toContain('secret');
  expect(stderr).not.toContain('    at '); // no stack trace
  expect(code).toBe(1);
  expect(readdirSync(tmp)).toEqual([]);
}, 20_000);

it.each([['--no-dashboard'], ['--json']])('--keep-open with %s is a usage error before anything runs', async (flag) => {
  const tmp = mkdtempSync(join(tmpdir(), 'demo-start-failure-'));
  scratch.push(tmp);
  const { code, stderr } = await demo(['--duration', '1', '--keep-open', flag], { ...process.env, TMPDIR: tmp });
  expect(stderr).toContain(`--keep-open keeps the dashboard up after the run, and ${flag} turns it off`);
  expect(code).toBe(2);
  expect(readdirSync(tmp)).toEqual([]);
});
