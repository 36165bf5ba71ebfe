import { expect, it } from 'vitest';
import { freePort } from '../../internal/free-port.test-support.ts';
import { spawnCli } from './cli.test-support.ts';

// With nothing listening at the --rabbitmq address, the transport retries for its whole connect
// timeout (15 s) and the commands sat silent that long. A refused connection is final: the CLI
// checks first and fails at once, naming RabbitMQ, the URL (without its password) and the option.

it.each([
  ['tail', ['tail', 'orders.>']],
  ['dlq list', ['dlq', 'list', 'orders']],
  ['dlq replay', ['dlq', 'replay', 'orders', '--all', '--yes']],
  ['lag', ['lag', '--group', 'billing', '--topic', 'orders']],
])('%s fails fast (exit 1) when RabbitMQ refuses the connection', async (_, args) => {
  const port = await freePort(); // nothing listens there
  const started = Date.now();
  const { code, stderr } = await spawnCli([...args, '--rabbitmq', `amqp://guest:guest@127.0.0.1:${port}`]).done;
  expect(stderr.trim()).toBe(`switchyard: cannot connect to RabbitMQ at amqp://guest:***@127.0.0.1:${port} (--rabbitmq): nothing listens on 127.0.0.1:${port}; is RabbitMQ running there?`);
  expect(code).toBe(1);
  // Node's start-up takes a second or two on a busy machine; the transport's retrying took 15 s.
  expect(Date.now() - started).toBeLessThan(10_000);
});
