import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import type { Snapshot, SnapshotStore } from './snapshots.ts';
import { ensurePrivateDir } from '../transports/embedded/private-dir.ts';

interface SnapshotFile extends Omit<Snapshot, 'state'> {
  state: string;
}

/**
 * Snapshots as files next to an embedded event store: one file per (stream, name), replaced
 * atomically (write, fsync, rename). A save never replaces a newer snapshot of the same schema.
 *
 * @example
 * ```ts
 * const snapshots = embeddedSnapshotStore({ dir: './data/snapshots' });
 * const orders = commandHandler({ store, decider, snapshots: { store: snapshots, policy: { every: 100 } } });
 * ```
 */
export function embeddedSnapshotStore(options: { dir: string }): SnapshotStore {
  if (typeof options?.dir !== 'string' || options.dir === '') throw new ConfigError('embeddedSnapshotStore: dir must be a directory path');
  const { dir } = options;
  ensurePrivateDir(dir); // as the broker's: 0700, an existing looser one tightened with a warning
  const fileOf = (streamId: string, name: string): string =>
    join(dir, `${createHash('sha256').update(`${name}\u0000${streamId}`).digest('hex').slice(0, 40)}.json`);
  // Saves of one file run one after another, so "never move backwards" holds in this process.
  const queues = new Map<string, Promise<unknown>>();

  const read = async (file: string): Promise<Snapshot | undefined> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const stored = JSON.parse(text) as SnapshotFile;
    return { ...stored, state: new Uint8Array(Buffer.from(stored.state, 'base64')) };
  };

  return {
    load: (streamId, name) => read(fileOf(streamId, name)),
    save(snapshot) {
      const file = fileOf(snapshot.streamId, snapshot.name);
      const run = (queues.get(file) ?? Promise.resolve()).then(async () => {
        const existing = await read(file);
        if (existing && existing.schemaVersion === snapshot.schemaVersion && existing.version > snapshot.version) return;
        const body: SnapshotFile = { ...snapshot, state: Buffer.from(snapshot.state).toString('base64') };
        await writeFile(`${file}.tmp`, JSON.stringify(body), { mode: 0o600, flush: true });
        await rename(`${file}.tmp`, file);
      });
      queues.set(file, run.catch(() => undefined));
      return run;
    },
    async delete(streamId, name) {
      if (name !== undefined) return rm(fileOf(streamId, name), { force: true });
      for (const entry of await readdir(dir)) {
        if (!entry.endsWith('.json')) continue;
        const snapshot = await read(join(dir, entry));
        if (snapshot?.streamId === streamId) await rm(join(dir, entry), { force: true });
      }
    },
  };
}
