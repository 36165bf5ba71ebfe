import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { embedded } from '../../transports/embedded/index.ts';
import { spawnCli } from './cli.test-support.ts';

// `dlq list` and `dlq replay` of a topic with no dead-letter topic (a typo, or nothing ever failed)
// read it with the DLQ group anyway, which created it: a mistyped name left a topic and a group
// behind (on Kafka a topic, on NATS a stream and a consumer, on RabbitMQ a durable queue) and was
// answered "no dead letters in <typo>.dlq" as if all were well.
const dir = mkdtempSync(join(tmpdir(), 'sy-cli-dlq-missing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const bus = embedded({ dir });
  await bus.publish('orders', { payload: new Uint8Array(1) });
  await bus.close();
});

async function topics(): Promise<string[]> {
  const bus = embedded({ dir });
  try {
    return (await bus.inspect()).map((t) => t.topic);
  } finally {
    await bus.close();
  }
}

it('dlq list of a topic with no dead-letter topic says so and creates nothing', async () => {
  const { code, stdout, stderr } = await spawnCli(['dlq', 'list', 'ordres', '--dir', dir]).done;
  expect(code, stderr).toBe(0);
  expect(stdout).toContain(`no dead letters: the embedded broker in ${dir} has no ordres.dlq`);
  expect(stdout).toContain('`switchyard topics` lists what is there');
  expect(await topics()).toEqual(['orders']);
});

it('dlq replay --id of a topic with no dead-letter topic reports the ids not found (exit 1) and creates nothing', async () => {
  const { code, stdout, stderr } = await spawnCli(['dlq', 'replay', 'ordres', '--dir', dir, '--id', 'm-1', '--yes']).done;
  expect(code).toBe(1);
  expect(stdout).toContain('has no ordres.dlq');
  expect(stderr).toContain('not found in ordres.dlq: m-1');
  expect(await topics()).toEqual(['orders']);
});

it('dlq list --json of a topic with no dead-letter topic prints no words on stdout, which carries only JSON lines', async () => {
  const { code, stdout, stderr } = await spawnCli(['dlq', 'list', 'ordres', '--dir', dir, '--json']).done;
  expect(code, stderr).toBe(0);
  expect(stdout).toBe('');
  expect(stderr).toContain(`no dead letters: the embedded broker in ${dir} has no ordres.dlq`);
});
