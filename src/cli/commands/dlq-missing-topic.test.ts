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

it('dlq list of a mistyped topic names the topic with dead letters it most likely meant, not when the topic exists', async () => {
  // "nothing was dead-lettered from ordres.placed, or the name is wrong" left the user to find which.
  const other = mkdtempSync(join(tmpdir(), 'sy-cli-dlq-typo-'));
  try {
    const bus = embedded({ dir: other });
    await bus.publish('orders.placed', { payload: new Uint8Array(1) });
    await bus.publish('orders.placed.dlq', { payload: new Uint8Array(1) });
    await bus.publish('orders.paid', { payload: new Uint8Array(1) });
    await bus.close();
    const typo = await spawnCli(['dlq', 'list', 'ordres.placed', '--dir', other]).done;
    expect(typo.stdout.trim()).toBe(`no dead letters: the embedded broker in ${other} has no ordres.placed.dlq (did you mean "orders.placed"? \`switchyard topics\` lists what is there)`);
    expect(typo.code).toBe(0);
    const asDlq = await spawnCli(['dlq', 'list', 'ordres.placed.dlq', '--dir', other]).done;
    expect(asDlq.stdout).toContain('(did you mean "orders.placed.dlq"?');
    // orders.paid exists: nothing failed there, which is no typo.
    const exists = await spawnCli(['dlq', 'list', 'orders.paid', '--dir', other]).done;
    expect(exists.stdout).toContain('has no orders.paid.dlq (nothing was dead-lettered from orders.paid, or the name is wrong');
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});
