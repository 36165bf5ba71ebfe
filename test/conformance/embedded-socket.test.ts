import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { embedded, type EmbeddedTransport } from '../../src/transports/embedded/index.ts';
import { spawnOwner, type OwnerProcess } from '../../src/transports/embedded/fixtures/spawn-owner.ts';
import { describeTransport } from '../../src/testing/index.ts';

// A child process owns the data directory; every transport of this suite is a second process's
// view of it, connected through the owner's Unix socket.
const dir = mkdtempSync(join(tmpdir(), 'sy-embedded-sock-'));
let owner: OwnerProcess | undefined;
beforeAll(async () => {
  owner = await spawnOwner(dir, 3);
});
afterAll(async () => {
  await owner?.stop();
});

const throughSocket = async (): Promise<EmbeddedTransport> => {
  const t = embedded({ dir });
  await t.connect();
  if (t.role !== 'client') throw new Error(`expected a socket client, got ${t.role}`);
  return t;
};
describeTransport('embedded (through the owner socket)', throughSocket, embedded({ dir }).capabilities);
