/**
 * The second process for the embedded benchmark: `node embedded-owner.ts DIR FSYNC` owns the data
 * directory, prints "ready", and closes when its stdin ends.
 */
import { embedded } from '../transports/embedded/index.ts';
import type { FsyncMode } from '../transports/embedded/index.ts';

const [dir, fsync] = process.argv.slice(2);
if (!dir) throw new Error('usage: node embedded-owner.ts DIR [always|batch|never]');
const bus = embedded({ dir, fsync: (fsync ?? 'batch') as FsyncMode, partitions: 1 });
await bus.connect();
process.stdout.write('ready\n');
process.stdin.on('end', () => void bus.close().then(() => process.exit(0)));
process.stdin.resume();
