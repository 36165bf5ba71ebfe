import { afterAll, beforeAll } from 'vitest';
import { startOwnCluster, usingMock, type OwnCluster } from './test-cluster.ts';

/** What a test file keeps open on its private cluster: transports and subscriptions. */
interface Closable {
  close(): Promise<unknown>;
}

/** A test file's private mock cluster (see `privateCluster()`). */
export interface PrivateCluster {
  /** Bootstrap list of the running cluster. */
  readonly brokers: string[];
  /** Sends a control command (`create-topic`, `push-errors`, `broker-down`…); resolves to the reply. */
  control(command: string): Promise<string>;
  /** Closes `item` after the file's tests, before the cluster stops (last kept, first closed). */
  keep<T extends Closable>(item: T): T;
}

/**
 * Gives the calling test file a private librdkafka mock cluster (NOT Apache Kafka; random ports,
 * stopped afterwards), so faults it injects never reach other files' tests: started in
 * `beforeAll` when the tests run against the mock (`usingMock()`), stopped in `afterAll` once
 * everything handed to `keep()` was closed. Call it at the top level of the file; use it in tests
 * skipped unless `usingMock()`.
 */
export function privateCluster(args: string[] = []): PrivateCluster {
  let own: OwnCluster | undefined;
  const open: Closable[] = [];
  beforeAll(async () => {
    if (usingMock()) own = await startOwnCluster(args);
  });
  afterAll(async () => {
    for (const item of open.splice(0).reverse()) await item.close().catch(() => undefined);
    await own?.stop();
  });
  const running = (): OwnCluster => {
    if (!own) throw new Error('the private Kafka mock cluster runs only when the tests use the mock (usingMock()), from beforeAll on');
    return own;
  };
  return {
    get brokers() {
      return running().brokers;
    },
    control: (command) => running().control(command),
    keep(item) {
      open.push(item);
      return item;
    },
  };
}
