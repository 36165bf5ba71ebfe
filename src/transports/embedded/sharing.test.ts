import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isConfigError, isTransportError } from '../../core/errors.ts';
import { Inbox } from '../../testing/inbox.ts';
import { spawnOwner } from './fixtures/spawn-owner.ts';
import { embedded } from './index.ts';

describe('one embedded broker shared by local processes', () => {
  it('keeps the data directory and socket private to the user (0700 / 0600)', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sy-share-')), 'data');
    const bus = embedded({ dir });
    await bus.connect();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'broker.sock')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'topics')).mode & 0o777).toBe(0o700);
    await bus.close();
  });

  it('rejects a data directory whose socket path would be too long, with a ConfigError saying so', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sy-share-')), 'x'.repeat(120));
    const error = await embedded({ dir })
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isConfigError(error), String(error)).toBe(true);
    expect((error as Error).message).toContain('too long');
  });

  // Regression: the error said only "connect ENOENT …/broker.sock", not that a live process owns
  // the directory without sharing it.
  it('says which process owns the directory when it does not answer on its socket (share: false)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-share-'));
    const owner = await spawnOwner(dir, 1, { share: false });
    try {
      const error = await embedded({ dir, connectTimeoutMs: 300 })
        .connect()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isTransportError(error), String(error)).toBe(true);
      expect((error as Error).message).toContain(`process ${owner.child.pid} owns it (owner.lock)`);
      expect((error as Error).message).toContain('share: false');
    } finally {
      await owner.stop();
    }
  });

  // Regression: the client could reconnect to the dying owner's socket, lose it again while
  // re-attaching, and leave its subscription failed; and handlers started before a failover did
  // not wake the new source, so nothing more was delivered (about one run in three).
  it('when the owner is killed, a connected process takes over after recovery and its subscription carries on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-share-'));
    const owner = await spawnOwner(dir, 2);
    const client = embedded({ dir });
    await client.connect();
    expect(client.role).toBe('client');
    const inbox = new Inbox();
    await client.subscribe('jobs', { group: 'workers', from: 'earliest', concurrency: 2 }, async (m) => inbox.push(m));
    await client.publish('jobs', Array.from({ length: 10 }, (_, i) => ({ id: `before-${i}`, key: `k${i}`, payload: Buffer.from('x') })));
    await inbox.untilCount(10, 10_000);

    const exited = new Promise((resolve) => owner.child.once('exit', resolve));
    owner.child.kill('SIGKILL');
    await exited;

    // A publish racing the failover may be rejected as retryable; the caller tries again.
    for (let attempt = 0; ; attempt++) {
      try {
        await client.publish('jobs', Array.from({ length: 10 }, (_, i) => ({ id: `after-${i}`, key: `k${i}`, payload: Buffer.from('y') })));
        break;
      } catch (error) {
        expect(isTransportError(error) && (error as { retryable: boolean }).retryable, String(error)).toBe(true);
        if (attempt > 20) throw error;
      }
    }
    expect(client.role).toBe('owner');
    await inbox.until(
      () => Array.from({ length: 10 }, (_, i) => `after-${i}`).every((id) => inbox.ids().has(id)),
      10_000,
      () => `the 10 messages published after the takeover (have ${[...inbox.ids()].filter((id) => id.startsWith('after')).length})`,
    );
    await client.close();
  });
});
