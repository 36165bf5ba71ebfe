import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { embedded } from '../../transports/embedded/index.ts';
import { spawnCli } from './cli.test-support.ts';

// `switchyard tail` of a topic that does not exist subscribed anyway, which created it: a mistyped
// name left an empty topic behind and tail waited in silence for messages that never came.
// (Kafka and NATS: tail.int.test.ts.)
const dir = mkdtempSync(join(tmpdir(), 'sy-cli-tail-missing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const bus = embedded({ dir });
  await bus.publish('orders', { payload: new Uint8Array(1) });
  await bus.publish('orders.placed', { payload: new Uint8Array(1) });
  await bus.close();
});

async function topics(): Promise<string[]> {
  const bus = embedded({ dir });
  try {
    return (await bus.inspect()).map((t) => t.topic).sort();
  } finally {
    await bus.close();
  }
}

it('tail of a topic that does not exist says so, suggests the close one, exits 1 and creates nothing', async () => {
  const { code, stdout, stderr } = await spawnCli(['tail', 'ordres', '--dir', dir]).done;
  expect(code, stderr).toBe(1);
  expect(stdout).toBe('');
  expect(stderr).toContain(`topic "ordres" does not exist on the embedded broker in ${dir} (did you mean "orders"?); nothing was created`);
  expect(stderr).toContain('`switchyard topics` lists what is there; --create tails it anyway');
  expect(await topics()).toEqual(['orders', 'orders.placed']);
});

it('tail of a malformed name is a usage error (exit 2), not a missing topic', async () => {
  const { code, stderr } = await spawnCli(['tail', 'orders..placed', '--dir', dir]).done;
  expect(code).toBe(2);
  expect(stderr).not.toContain('does not exist');
});

it('tail --create watches a topic before its first message, as before', async () => {
  // This process owns the directory, so tail goes through its socket and may exit at any time.
  const bus = embedded({ dir });
  await bus.connect();
  try {
    expect(bus.role).toBe('owner');
    const tail = spawnCli(['tail', 'shipments', '--dir', dir, '--create', '--limit', '1']);
    await tail.stderrUntil('Ctrl-C to stop');
    await bus.publish('shipments', { payload: new TextEncoder().encode('first'), headers: { 'content-type': 'text/plain' } });
    const { code, stdout, stderr } = await tail.done;
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/ shipments 0@0 id=\S+ /);
    expect(stdout).toContain(' first');
  } finally {
    await bus.close();
  }
});
