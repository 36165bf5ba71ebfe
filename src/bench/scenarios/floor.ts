import { loopbackTcp, rawAppend } from '../floor.ts';
import type { Scenario } from '../types.ts';

/** The physical floor of this machine: disk appends and loopback TCP. */
export const floor: Scenario = {
  name: 'floor',
  title: 'Floor: raw disk append and loopback TCP',
  async cases(ctx) {
    const records = ctx.quick ? 100_000 : 500_000;
    const cases = [];
    for (const recordSize of [256, 4096]) {
      const n = recordSize === 256 ? records : records / 8;
      cases.push({
        name: `disk append ${recordSize} B, fdatasync per 1,000 records`,
        unit: 'records/s',
        ours: { name: 'write+fsync', run: () => rawAppend({ recordSize, records: n, batch: 1_000, fsync: true }) },
      });
      cases.push({
        name: `disk append ${recordSize} B, no fsync`,
        unit: 'records/s',
        ours: { name: 'write', run: () => rawAppend({ recordSize, records: n, batch: 1_000, fsync: false }) },
      });
    }
    cases.push({
      name: 'loopback TCP between two processes, 256 B frames',
      unit: 'frames/s',
      ours: { name: 'tcp', run: () => loopbackTcp(ctx.quick ? 1_000_000 : 4_000_000, 256) },
    });
    return cases;
  },
};
