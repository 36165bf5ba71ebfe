// Not exported from the package: helpers of the CLI commands' tests against the brokers.
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
