import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { embedded } from '../../transports/embedded/index.ts';
import { runCommand } from './cli.test-support.ts';
import { registerTopics } from './topics.ts';

// `switchyard topics ordres.placed` answered only "no topics … matching ordres.placed", while
// `tail` and `lag` name the topic a mistyped name most likely meant.
const dir = mkdtempSync(join(tmpdir(), 'sy-cli-topics-typo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const bus = embedded({ dir });
  await bus.publish('orders.placed', { payload: new Uint8Array(1) });
  await bus.publish('payments.charged', { payload: new Uint8Array(1) });
  await bus.close();
});

const topics = (...args: string[]): Promise<string> => runCommand(registerTopics, ['topics', ...args, '--dir', dir]);

it('a topic name that matches nothing names the likely one', async () => {
  expect(await topics('ordres.placed')).toBe(`no topics on the embedded broker in ${dir} matching ordres.placed (did you mean "orders.placed"?)`);
});

it('suggests nothing for a name close to no topic, or for a pattern', async () => {
  expect(await topics('shipments')).toBe(`no topics on the embedded broker in ${dir} matching shipments`);
  expect(await topics('ordres.>')).toBe(`no topics on the embedded broker in ${dir} matching ordres.>`);
});
