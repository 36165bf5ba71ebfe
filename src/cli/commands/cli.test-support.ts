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

/** A `switchyard` process: what it printed once it exits, waits for a text on its stderr or stdout, and a way to signal it. */
export interface CliProcess {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  stderrUntil(text: string): Promise<string>;
  stdoutUntil(text: string): Promise<string>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `switchyard ARGS` as its own process (the real CLI, through `src/cli/main.ts`). */
export function spawnCli(args: readonly string[]): CliProcess {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const text = { stdout: '', stderr: '' };
  const waiters: Array<{ stream: 'stdout' | 'stderr'; text: string; resolve: (seen: string) => void }> = [];
  const onData = (stream: 'stdout' | 'stderr') => (c: Buffer) => {
    text[stream] += c.toString();
    for (const w of waiters.splice(0)) {
      if (w.stream === stream && text[stream].includes(w.text)) w.resolve(text[stream]);
      else waiters.push(w);
    }
  };
  child.stdout.on('data', onData('stdout'));
  child.stderr.on('data', onData('stderr'));
  // 'close' rather than 'exit': it comes once the output has been read to its end.
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once('close', (code) => resolve({ code, ...text })));
  const until = (stream: 'stdout' | 'stderr', wanted: string): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      if (text[stream].includes(wanted)) return resolve(text[stream]);
      waiters.push({ stream, text: wanted, resolve });
      void done.then(() => reject(new Error(`switchyard exited before printing "${wanted}" on ${stream}: ${text.stderr}`)));
    });
  return {
    done,
    stderrUntil: (wanted) => until('stderr', wanted),
    stdoutUntil: (wanted) => until('stdout', wanted),
    kill: (signal) => void child.kill(signal),
  };
}
