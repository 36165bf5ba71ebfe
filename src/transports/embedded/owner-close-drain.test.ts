import { existsSync, mkdtempSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { spawnOwner } from './fixtures/spawn-owner.ts';
import { embedded } from './index.ts';

/** Resolves once `file` no longer exists. */
async function gone(file: string): Promise<void> {
  const watcher = watch(join(file, '..'));
  try {
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (!existsSync(file)) resolve();
      };
      watcher.on('change', check);
      check();
    });
  } finally {
    watcher.close();
  }
}

describe('the owner closing while a connected process runs handlers', () => {
  // Regression: the owner closed its connections at once, so the acknowledgements of handlers that
  // finished afterwards were lost; the process that took over delivered those messages again —
  // here to the same subscription, while their first handlers were still running.
  it('waits for their acknowledgements, so the successor does not deliver those messages again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-owner-close-'));
    const owner = await spawnOwner(dir, 1, { drainTimeoutMs: 20_000 });
    const client = embedded({ dir });
    const started = new Inbox();
    const handled = new Inbox();
    const gate = Promise.withResolvers<void>();
    try {
      await client.publish('jobs', Array.from({ length: 6 }, (_, i) => ({ id: `job-${i}`, key: `k-${i}`, payload: Buffer.from('x') })));
      expect(client.role).toBe('client');
      await client.subscribe('jobs', { group: 'workers', from: 'earliest', concurrency: 2 }, async (m) => {
        started.push(m);
        await gate.promise;
        handled.push(m);
      });
      await started.untilCount(2, 10_000);
      const stopped = owner.stop();
      await gone(join(dir, 'broker.sock')); // the owner is closing: it stopped listening
      gate.resolve(); // the two running handlers finish now, while it closes
      await stopped;

      // A message published after the takeover comes after every message not yet acknowledged:
      // once it has been handled, whatever the successor redelivers has started too.
      for (let attempt = 0; ; attempt++) {
        try {
          await client.publish('jobs', { id: 'last', key: 'k-last', payload: Buffer.from('x') });
          break;
        } catch (error) {
          if (attempt > 20 || !(error as { retryable?: boolean }).retryable) throw error;
        }
      }
      await handled.until(() => handled.ids().has('last'), 10_000, () => `"last" handled (have ${[...handled.ids()].join(', ')})`);
      expect(client.role).toBe('owner');
      const starts = started.messages.map((m) => m.id).sort();
      expect(starts).toEqual([...Array.from({ length: 6 }, (_, i) => `job-${i}`), 'last'].sort());
    } finally {
      gate.resolve();
      await client.close();
      await owner.stop();
    }
  });
});
