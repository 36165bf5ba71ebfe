import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embedded } from '../../src/transports/embedded/index.ts';
import { describeTransport } from '../../src/testing/index.ts';

// Every transport the suite opens shares one data directory, hence one broker in this process;
// three partitions per topic so keys spread and per-partition order is exercised.
const dir = mkdtempSync(join(tmpdir(), 'sy-embedded-'));
describeTransport('embedded', () => embedded({ dir, partitions: 3 }), embedded({ dir }).capabilities);
