import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `switchyard bridge CONFIG` with mistakes: each kind gives its message with its path and exit
// code 2, and nothing connects. Every transport points at a TCP server of the test's own that
// counts connections: it must see none.

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'bridge-cli-'));
let server: Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--conditions=switchyard-source', 'src/cli/main.ts', 'bridge', ...args], { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Writes a config whose transports all point at the counting server, plus `routes`. */
function config(name: string, routes: string, extraTransports = ''): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `transports:
  local: { type: embedded, dir: ${JSON.stringify(join(dir, 'data'))} }
  kafka: { type: kafka, brokers: ["127.0.0.1:${port}"] }
  rabbit: { type: rabbitmq, url: "amqp://guest:\${RABBIT_PASSWORD}@127.0.0.1:${port}" }
  nats: { type: nats, servers: "nats://127.0.0.1:${port}" }
${extraTransports}
routes:
${routes}`,
  );
  return file;
}

const good = `  - name: kafka-to-rabbit
    from: { transport: kafka, topic: orders.placed }
    to: { transport: rabbit, topic: "orders.{key}" }
  - name: rabbit-to-nats
    from: { transport: rabbit, topic: "orders.*" }
    to: { transport: nats, topic: "audit.{topic[1]}" }
    transform: ./transform.ts#enrich
`;

describe('switchyard bridge CONFIG with mistakes', () => {
  it('exits with code 2 and the message of each kind of mistake, and connects to nothing', async () => {
    writeFileSync(join(dir, 'transform.ts'), 'export function enrich(message: { payload: unknown }) { return message; }\n');
    const env = { RABBIT_PASSWORD: 'guest' };
    const cases: Array<{ args: string[]; env?: NodeJS.ProcessEnv; messages: Array<string | RegExp> }> = [
      {
        args: [config('typo.yaml', good.replace('transport: nats', 'transport: natz'))],
        env,
        messages: ['typo.yaml: routes[1].to.transport: unknown transport "natz" (did you mean "nats"?)'],
      },
      {
        args: [config('env.yaml', good)],
        env: { RABBIT_PASSWORD: '' },
        messages: ['env.yaml: transports.rabbit.url: environment variable RABBIT_PASSWORD is not set'],
      },
      {
        args: [config('options.yaml', good, '  bad: { type: rabbitmq, url: "http://127.0.0.1", prefetch: 0, heartbeat: 5 }')],
        env,
        messages: ['options.yaml: transports.bad.prefetch: must be ≥ 1, got 0', 'options.yaml: transports.bad: unknown option "heartbeat"'],
      },
      {
        args: [config('factory.yaml', good, '  bad: { type: rabbitmq, url: "http://127.0.0.1" }')],
        env,
        messages: ['factory.yaml: transports.bad: url must start with amqp:// or amqps://, got "http://…"'],
      },
      {
        args: [config('module.yaml', good.replace('#enrich', '#enrichh'))],
        env,
        messages: ['routes[1].transform: module "./transform.ts" has no export "enrichh" (did you mean "enrich"?)'],
      },
      {
        args: [config('syntax.yaml', `${good}  - name: [oops\n`)],
        env,
        messages: [/syntax\.yaml: line \d+, column \d+: /],
      },
      { args: [join(dir, 'missing.yaml')], env, messages: [/missing\.yaml: cannot read the configuration: ENOENT/] },
    ];
    const results = await Promise.all(cases.map((c) => cli(c.args, c.env)));
    results.forEach((result, i) => {
      const c = cases[i]!;
      expect(result.code, `${c.args[0]}: ${result.stderr}`).toBe(2);
      for (const message of c.messages) {
        if (typeof message === 'string') expect(result.stderr).toContain(message);
        else expect(result.stderr).toMatch(message);
      }
    });
    expect(connections).toBe(0);
  }, 120_000);

  it('--dry-run checks a valid file, loads its modules, prints the routes and connects to nothing', async () => {
    const result = await cli([config('good.yaml', good), '--dry-run'], { RABBIT_PASSWORD: 'guest' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/good\.yaml: ok, 2 route\(s\): kafka-to-rabbit, rabbit-to-nats/);
    expect(connections).toBe(0);
  }, 60_000);
});
