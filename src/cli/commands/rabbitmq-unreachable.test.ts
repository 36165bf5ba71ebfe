import { createServer } from 'node:net';
import { expect, it } from 'vitest';
import { spawnCli } from './cli.test-support.ts';

// With nothing listening at the --rabbitmq address, the transport retries for its whole connect
// timeout (15 s) and the commands sat silent that long. A refused connection is final: the CLI
// checks first and fails at once, naming RabbitMQ, the URL (without its password) and the option.

/** A local port nothing listens on: one the OS just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

it.each([
  ['tail', ['tail', 'orders.>']],
  ['dlq list', ['dlq', 'list', 'orders']],
  ['dlq replay', ['dlq', 'replay', 'orders', '--all', '--yes']],
  ['lag', ['lag', '--group', 'billing', '--topic', 'orders']],
])('%s fails fast (exit 1) when RabbitMQ refuses the connection', async (_, args) => {
  const port = await closedPort();
  const started = Date.now();
  const { code, stderr } = await spawnCli([...args, '--rabbitmq', `amqp://guest:guest@127.0.0.1:${port}`]).done;
  expect(stderr.trim()).toBe(`switchyard: cannot connect to RabbitMQ at amqp://guest:***@127.0.0.1:${port} (--rabbitmq): nothing listens on 127.0.0.1:${port}; is RabbitMQ running there?`);
  expect(code).toBe(1);
  // Node's start-up takes a second or two on a busy machine; the transport's retrying took 15 s.
  expect(Date.now() - started).toBeLessThan(10_000);
});
