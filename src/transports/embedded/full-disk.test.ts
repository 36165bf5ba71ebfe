import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TransportError } from '../../core/errors.ts';
import { cannotMountTmpfs, fillTmpfs, mountTmpfs, resizeTmpfs, unmountAllTmpfs } from '../../internal/tmpfs.test-support.ts';
import { Inbox } from '../../testing/inbox.ts';
import { publishUntilRefused } from '../../testing/publish-until-refused.ts';
import { embedded } from './index.ts';

/**
 * A full disk, for real: a tmpfs of a few MiB mounted for the test, so every file of the broker —
 * segments, indexes, the consumer positions — meets ENOSPC the way it would on a full volume.
 * Mounting needs root; elsewhere the cases are skipped and say why.
 */
afterEach(unmountAllTmpfs);

const reason = cannotMountTmpfs();

describe.skipIf(reason !== undefined)(`embedded broker on a full disk${reason ? ` — skipped: ${reason}` : ''}`, () => {
  it('rejects a publish that finds the disk full with the reason, stores none of it, and publishes again once there is room', async () => {
    const mount = mountTmpfs(1024);
    const dir = join(mount, 'data');
    const payload = new Uint8Array(8 * 1024).fill(7);
    let bus = embedded({ dir, partitions: 1 });
    const { acked, refusal: failure } = await publishUntilRefused(bus, 'orders', payload);
    expect(failure).toBeInstanceOf(TransportError);
    expect((failure as TransportError).message).toMatch(/disk is full.*ENOSPC.*None of it was stored/);
    expect((failure as TransportError).retryable).toBe(true);
    expect(acked.length).toBeGreaterThan(50);

    // Exactly the acknowledged messages are there, in order; the rejected batch left nothing behind.
    const first = new Inbox();
    const sub = await bus.subscribe('orders', { group: 'a', from: 'earliest' }, async (m) => first.push(m));
    await first.untilCount(acked.length, 10_000);

    resizeTmpfs(mount, 4096);
    await bus.publish('orders', [{ id: 'after', payload }]);
    await first.untilCount(acked.length + 1, 10_000);
    expect(first.messages.map((m) => m.id)).toEqual([...acked, 'after']);
    await sub.close();
    await bus.close();

    // And after a restart: a new group reads the same, nothing more.
    bus = embedded({ dir, partitions: 1 });
    const again = new Inbox();
    await bus.subscribe('orders', { group: 'b', from: 'earliest' }, async (m) => again.push(m));
    await again.untilCount(acked.length + 1, 10_000);
    await bus.publish('orders', [{ id: 'sentinel', payload: new Uint8Array(1) }]);
    await again.until(() => again.ids().has('sentinel'), 10_000, () => 'the sentinel');
    expect(again.messages.map((m) => m.id)).toEqual([...acked, 'after', 'sentinel']);
    await bus.close();
  });

  it('keeps commits the full disk refused, warns once instead of crashing, and writes them once there is room', async () => {
    const mount = mountTmpfs(2048);
    const dir = join(mount, 'data');
    mkdirSync(dir);
    // 64 partitions: a commit writes a line per partition, more than the file's first page holds.
    let bus = embedded({ dir, partitions: 64 });
    const gate = Promise.withResolvers<void>();
    const started = new Inbox();
    const done = new Inbox();
    await bus.subscribe('jobs', { group: 'workers', from: 'earliest', concurrency: 100 }, async (m) => {
      started.push(m);
      await gate.promise;
      done.push(m);
    });
    await bus.publish('jobs', Array.from({ length: 100 }, (_, i) => ({ id: `job-${i}`, key: `k${i}`, payload: new Uint8Array(16) })));
    await started.untilCount(100, 10_000);
    const filler = fillTmpfs(mount);

    const warned = new Promise<Error>((resolve, reject) => {
      process.once('warning', resolve);
      setTimeout(() => reject(new Error('no warning about the refused commits within 10 s')), 10_000).unref();
    });
    gate.resolve();
    await done.untilCount(100, 10_000);
    const warning = await warned;
    expect(warning.message).toMatch(/saving consumer positions to .*offsets\.jsonl failed: the disk is full.*ENOSPC/);

    // Room again: the next commit writes every position still owed, and close makes them durable.
    rmSync(filler);
    await bus.publish('jobs', [{ id: 'job-last', payload: new Uint8Array(1) }]);
    await done.until(() => done.ids().has('job-last'), 10_000, () => 'job-last');
    await bus.close();
    for (const line of readFileSync(join(dir, 'offsets.jsonl'), 'utf8').trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();

    // Nothing is delivered again after a restart: the first message the group gets is a new one.
    bus = embedded({ dir, partitions: 64 });
    const after = new Inbox();
    await bus.subscribe('jobs', { group: 'workers', from: 'earliest' }, async (m) => after.push(m));
    await bus.publish('jobs', [{ id: 'sentinel', payload: new Uint8Array(1) }]);
    await after.untilCount(1, 10_000);
    expect(after.messages.map((m) => m.id)).toEqual(['sentinel']);
    await bus.close();
  });

  // Regression: a subscribe refused here stayed attached — its handler got the messages of
  // matching topics created later, for a subscription its caller was told had failed.
  it("refuses a new group's subscribe with the reason, and hands the refused subscription nothing afterwards", async () => {
    const mount = mountTmpfs(1024);
    const dir = join(mount, 'data');
    const bus = embedded({ dir, partitions: 1 });
    await bus.publish('orders.placed', [{ id: 'o-1', payload: new Uint8Array(1) }]);
    const filler = fillTmpfs(mount);
    const refusedGot: string[] = [];
    const refused = await bus.subscribe('orders.*', { group: 'billing', from: 'earliest' }, async (m) => void refusedGot.push(m.id)).then(
      () => 'subscribed',
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(TransportError);
    expect((refused as Error).message).toMatch(/saving consumer positions .* the disk is full.*ENOSPC/);

    rmSync(filler);
    await bus.publish('orders.shipped', [{ id: 's-1', payload: new Uint8Array(1) }]); // a topic the pattern matches
    expect(refusedGot).toEqual([]); // it was handed out, if at all, as the publish became visible
    const inbox = new Inbox();
    await bus.subscribe('orders.*', { group: 'billing', from: 'earliest' }, async (m) => inbox.push(m));
    await inbox.untilCount(2, 10_000);
    expect(inbox.messages.map((m) => m.id).sort()).toEqual(['o-1', 's-1']);
    expect(refusedGot).toEqual([]);
    await bus.close();
  });

  // Regression: the refusal said the positions "are kept in memory and saved by the next commit"
  // — what a background commit does — and so they were: once subscribed again, a 'latest' group
  // started where the refused subscribe would have started it, and got what was published between.
  it("says a refused new group's subscribe was not made and is to be tried again, and the next subscribe starts afresh", async () => {
    const mount = mountTmpfs(1024);
    const dir = join(mount, 'data');
    const bus = embedded({ dir, partitions: 1 });
    await bus.publish('orders', [{ id: 'o-1', payload: new Uint8Array(1) }]);
    const filler = fillTmpfs(mount);
    const refused = await bus.subscribe('orders', { group: 'audit', from: 'latest' }, async () => undefined).then(
      () => 'subscribed',
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(TransportError);
    const message = (refused as Error).message;
    expect(message).toMatch(/saving consumer positions to .*offsets\.jsonl failed: the disk is full; free space on it \(ENOSPC\)\./);
    expect(message).toContain('Group "audit" was not subscribed to "orders" (its starting position could not be saved); subscribe again once this is fixed.');
    expect(message).not.toContain('next commit');

    rmSync(filler);
    await bus.publish('orders', [{ id: 'o-2', payload: new Uint8Array(1) }]); // before the group exists: not for it
    const inbox = new Inbox();
    await bus.subscribe('orders', { group: 'audit', from: 'latest' }, async (m) => inbox.push(m));
    await bus.publish('orders', [{ id: 'o-3', payload: new Uint8Array(1) }]);
    await inbox.untilCount(1, 10_000);
    expect(inbox.messages.map((m) => m.id)).toEqual(['o-3']); // o-2, one partition, would have come first
    await bus.close();
  });

  // Regression: a pattern subscription whose group's position on a new topic could not be saved
  // never joined that topic — the publish that created it was refused (saying the positions were
  // "kept in memory and saved by the next commit"), the next one was accepted, and the
  // subscription never got it, even with room again.
  it('refuses publishing to a new topic that a pattern group could not join, saying why, and joins it once there is room', async () => {
    const mount = mountTmpfs(1024);
    const dir = join(mount, 'data');
    let bus = embedded({ dir, partitions: 1 });
    const inbox = new Inbox();
    await bus.subscribe('orders.*', { group: 'billing', from: 'latest' }, async (m) => inbox.push(m));
    const filler = leaveOneBlockFree(mount); // room for the new topic's files, none for the group's position

    const refused = await bus.publish('orders.placed', [{ id: 'o-1', payload: new Uint8Array(1) }]).then(
      () => 'published',
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(TransportError);
    expect((refused as TransportError).retryable).toBe(true);
    const message = (refused as Error).message;
    expect(message).toMatch(/saving consumer positions to .*offsets\.jsonl failed: the disk is full; free space on it \(ENOSPC\)\./);
    expect(message).toContain('Group "billing" (subscribed to "orders.*") has not joined the new topic "orders.placed"');
    expect(message).toContain('nothing of it is stored');
    expect(message).not.toContain('next commit');
    // Still refused while the disk is full: no message the group would never get.
    await expect(bus.publish('orders.placed', [{ id: 'o-2', payload: new Uint8Array(1) }])).rejects.toThrow(/has not joined the new topic/);

    rmSync(filler);
    await bus.publish('orders.placed', [{ id: 'o-3', payload: new Uint8Array(1) }]);
    await inbox.untilCount(1, 10_000);
    expect(inbox.messages.map((m) => m.id)).toEqual(['o-3']);
    await bus.close();

    // Its place on the topic was saved: after a restart the group goes on from there.
    bus = embedded({ dir, partitions: 1 });
    const after = new Inbox();
    await bus.subscribe('orders.*', { group: 'billing', from: 'latest' }, async (m) => after.push(m));
    await bus.publish('orders.placed', [{ id: 'o-4', payload: new Uint8Array(1) }]);
    await after.untilCount(1, 10_000);
    expect(after.messages.map((m) => m.id)).toEqual(['o-4']);
    await bus.close();
  });

  it('joins a pattern group to a new topic it could not join at the next maintenance once there is room, warning while it cannot', async () => {
    const mount = mountTmpfs(1024);
    const dir = join(mount, 'data');
    const bus = embedded({ dir, partitions: 1 });
    await bus.subscribe('orders.>', { group: 'billing' }, async () => undefined);
    const filler = leaveOneBlockFree(mount);
    await expect(bus.publish('orders.eu.placed', [])).rejects.toThrow(/Group "billing" \(subscribed to "orders\.>"\) has not joined the new topic "orders\.eu\.placed"/);

    const warned = new Promise<Error>((resolve, reject) => {
      process.once('warning', resolve);
      setTimeout(() => reject(new Error('no warning about the join within 10 s')), 10_000).unref();
    });
    await bus.maintain();
    expect((await warned).message).toContain('has not joined the new topic "orders.eu.placed"');
    const groups = async (): Promise<string[]> => (await bus.inspect()).find((t) => t.topic === 'orders.eu.placed')!.groups.map((g) => g.group);
    expect(await groups()).toEqual([]);

    rmSync(filler);
    await bus.maintain();
    expect(await groups()).toEqual(['billing']);
    await bus.close();
  });

  it('refuses to open on a full disk with the reason, leaves no stale lock, and opens once there is room', async () => {
    const mount = mountTmpfs(1024);
    const dir = join(mount, 'data');
    let bus = embedded({ dir, partitions: 1 });
    await bus.publish('kept', [{ id: 'k1', payload: new Uint8Array(1) }]);
    await bus.close();
    const filler = fillTmpfs(mount);

    bus = embedded({ dir, partitions: 1 });
    const refused = await bus.connect().then(
      () => 'connected',
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(TransportError);
    expect((refused as Error).message).toMatch(/the disk is full.*ENOSPC.*try again once this is fixed/);
    expect(existsSync(join(dir, 'owner.lock'))).toBe(false);

    rmSync(filler);
    bus = embedded({ dir, partitions: 1 });
    const inbox = new Inbox();
    await bus.subscribe('kept', { group: 'reader', from: 'earliest' }, async (m) => inbox.push(m));
    await inbox.untilCount(1, 10_000);
    expect(inbox.messages.map((m) => m.id)).toEqual(['k1']);
    await bus.close();
  });

  it('keeps a segment whose compaction finds no room, leaves no partial copy, and compacts once there is room', async () => {
    const mount = mountTmpfs(1024);
    const dir = join(mount, 'data');
    const bus = embedded({ dir, partitions: 1, segmentBytes: 4096, topics: { state: { compact: true } } });
    for (let v = 0; v < 20; v++) {
      // One key written again and again among keys written once: compacted segments still hold data.
      await bus.publish('state', Array.from({ length: 10 }, (_, k) => ({ key: k === 0 ? 'hot' : `c${v}-${k}`, payload: Buffer.alloc(100, v) })));
    }
    const partition = join(dir, 'topics', 'state', '0');
    const files = (): string[] => readdirSync(partition).sort();
    const before = files();
    const filler = fillTmpfs(mount);

    const refused = await bus.maintain().then(
      () => 'compacted',
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(TransportError);
    expect((refused as Error).message).toMatch(/compacting .*\.log failed: the disk is full.*kept as it was/);
    expect(files()).toEqual(before);

    rmSync(filler);
    const { compactedSegments } = await bus.maintain();
    expect(compactedSegments).toBeGreaterThan(0);
    expect(files().some((f) => f.endsWith('.compacting'))).toBe(false);
    await bus.close();
  });
});

/**
 * Fills the tmpfs at `mount` but for one block (a page): room for a new topic's files (its
 * meta.json; its segment files start empty), none for a first line of the consumer positions.
 * Returns the filler's path.
 */
function leaveOneBlockFree(mount: string): string {
  const filler = fillTmpfs(mount);
  const { bsize } = statfsSync(mount);
  truncateSync(filler, statSync(filler).size - bsize);
  expect(statfsSync(mount).bavail).toBe(1);
  return filler;
}

/** The same write path under a file size limit, which needs no privilege: a segment stops growing with EFBIG. */
describe.skipIf(process.platform === 'win32')('embedded broker under a file size limit (ulimit -f)', () => {
  it('refuses the publish that meets the limit with the reason, and a restart finds exactly what was acknowledged', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'switchyard-file-limit-')), 'data');
    const writer = fileURLToPath(new URL('./fixtures/file-limit-writer.ts', import.meta.url));
    // 2,048 blocks: 1 MiB where the shell counts 512-byte blocks, 2 MiB where it counts KiB.
    const out = execFileSync('sh', ['-c', 'ulimit -f 2048 && exec "$@"', 'sh', process.execPath, writer, dir], { encoding: 'utf8' });
    const { acked, refusal } = JSON.parse(out) as { acked: string[]; refusal?: { name: string; message: string; retryable: boolean } };
    expect(refusal?.name).toBe('TransportError');
    expect(refusal?.message).toMatch(/size limit of this process \(ulimit -f\); raise the limit \(EFBIG\)\. None of it was stored/);
    expect(refusal?.retryable).toBe(true);
    expect(acked.length).toBeGreaterThan(50);

    const bus = embedded({ dir, partitions: 1 });
    const inbox = new Inbox();
    await bus.subscribe('limited', { group: 'after', from: 'earliest' }, async (m) => inbox.push(m));
    await bus.publish('limited', [{ id: 'sentinel', payload: new Uint8Array(1) }]);
    await inbox.until(() => inbox.ids().has('sentinel'), 10_000, () => 'the sentinel');
    expect(inbox.messages.map((m) => m.id)).toEqual([...acked, 'sentinel']);
    await bus.close();
    rmSync(dirname(dir), { recursive: true, force: true });
  });
});
