// The writer process of the embedded saga store's SIGKILL test: creates instances and updates
// them one write at a time, printing "ok <id> <version>" once each write resolved. Not part of
// the package.   node embedded-saga-store.child.ts <dir> <round> <fsync>
import type { FsyncMode } from '../transports/embedded/partition-log.ts';
import { embeddedSagaStore } from './embedded-saga-store.ts';
import type { SagaRecord } from './saga-store.ts';

const [dir, round, fsync] = process.argv.slice(2) as [string, string, FsyncMode];
const store = embeddedSagaStore({ dir, fsync });
process.stdout.write('ready\n');
const writer = async (w: number): Promise<void> => {
  for (let i = 0; ; i++) {
    let record: SagaRecord = await store.create({ id: `r${round}-w${w}-${i}`, saga: 'crash', status: 'initiated', input: { w, i }, step: 0, history: [] });
    process.stdout.write(`ok ${record.id} ${record.version}\n`);
    for (let step = 0; step < 4; step++) {
      record = await store.update({
        ...record,
        status: 'in_progress',
        step: step + 1,
        history: [...record.history, { step: `s${step}`, index: step, kind: 'action', outcome: 'completed', attempts: 1, at: Date.now(), output: { step } }],
      });
      process.stdout.write(`ok ${record.id} ${record.version}\n`);
    }
  }
};
// Several writers at once, so group commits carry more than one write.
await Promise.all([0, 1, 2, 3].map(writer));
