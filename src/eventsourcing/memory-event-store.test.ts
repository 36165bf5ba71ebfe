import { describeEventStore } from '../testing/index.ts';
import { memoryCheckpointStore } from './checkpoints.ts';
import { memoryEventStore } from './memory-event-store.ts';
import { memorySnapshotStore } from './snapshots.ts';

describeEventStore('memory', (options) => ({
  store: memoryEventStore(options),
  snapshots: memorySnapshotStore(),
  checkpoints: memoryCheckpointStore(),
}));
