// Not exported from the package: helpers of the CLI commands' tests against the brokers.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { vi } from 'vitest';
import { nats, planStream } from '../../transports/nats/index.ts';
import type { RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { deleteDeclared } from '../../transports/rabbitmq/test-support.ts';

/** The NATS server the tests use (the transports' own default). */
export const natsUrl = process.env['SWITCHYARD_NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** Runs a command registered by `register` in this process and returns what it printed with console.log. */
export async function runCommand(register: (program: Command) => void, args: readonly string[]): Promise<string> {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  try {
    const program = new Command().exitOverride();
    register(program);
    await program.parseAsync([...args], { from: 'user' });
  } finally {
    log.mockRestore();
  }
  return out.join('\n');
}

/** Removes what a test declared: the RabbitMQ queues and exchanges of `rabbits`, and the JetStream stream holding `natsTopic`. */
export async function cleanUp(rabbits: readonly RabbitMQTransport[], natsTopic: string): Promise<void> {
  await deleteDeclared(rabbits);
  const admin = nats({ mode: 'jetstream' });
  await admin.connect();
  await admin.native.manager!.streams.delete(planStream(natsTopic, admin.options).name).catch(() => undefined);
  await admin.close();
}

const main = fileURLToPath(new URL('../main.ts', import.meta.url));

/** A `switchyard` process: what it printed once it exits, and a wait for a text on its stderr. */
export interface CliProcess {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  stderrUntil(text: string): Promise<string>;
}

/** Starts `switchyard ARGS` as its own process (the real CLI, through `src/cli/main.ts`). */
export function spawnCli(args: readonly string[]): CliProcess {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ text: string; resolve: (stderr: string) => void }> = [];
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    for (const w of waiters.splice(0)) {
      if (stderr.includes(w.text)) w.resolve(stderr);
      else waiters.push(w);
    }
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  return {
    done,
    stderrUntil: (text) =>
      new Promise<string>((resolve, reject) => {
        if (stderr.includes(text)) return resolve(stderr);
        waiters.push({ text, resolve });
        void done.then(() => reject(new Error(`switchyard exited before printing "${text}": ${stderr}`)));
      }),
  };
}
