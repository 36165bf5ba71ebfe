// The embedded durable broker: a log on local disk, no server to run. This process owns the
// data directory; a second process (this file again, with `publisher`) shares the broker through
// the owner's Unix socket without any configuration. Run: node examples/03-embedded/main.ts [DIR]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { json } from 'switchyard';
import { embedded, tombstone } from 'switchyard/embedded';

interface OrderPlaced {
  orderId: string;
  customerId: string;
  total: number;
}
const orders = json<OrderPlaced>();

if (process.argv[2] === 'publisher') {
  // #region second-process
  // Another process on the same machine: same call, same directory. The owner holds the lock,
  // so this transport connects through <dir>/broker.sock instead of opening the files.
  const bus = embedded({ dir: process.argv[3]! });
  await bus.publish('orders.placed', [
    orders.encode({ orderId: 'o-1', customerId: 'alice', total: 19.99 }, { key: 'alice' }),
    orders.encode({ orderId: 'o-2', customerId: 'bob', total: 5 }, { key: 'bob' }),
    orders.encode({ orderId: 'o-3', customerId: 'alice', total: 42.5 }, { key: 'alice' }),
  ]); // resolved: the owner has the records on disk (fsync'd, group commit)
  console.log(`publisher: published 3 orders as ${bus.role}`);
  await bus.close();
  // #endregion second-process
  process.exit(0);
}

// A folder given on the command line keeps its data (run again: the group continues); a temporary
// one is removed at the end, or every run would leave a broker folder behind in the temp dir.
const given = process.argv[2];
const dir = given ?? mkdtempSync(join(tmpdir(), 'switchyard-example-'));

// #region open
const bus = embedded({
  dir, // created with mode 0700; this process becomes its owner
  fsync: 'batch', // the default: group commit, publish() resolves once the records are on disk
  partitions: 4, // for topics created without their own setting; keys pick partitions like Kafka
  retention: { maxAgeMs: 7 * 24 * 60 * 60 * 1000 }, // whole segments older than a week go
  topics: { 'customers.state': { compact: true, partitions: 1 } }, // latest value per key
});
// #endregion open

// #region consume
const done = Promise.withResolvers<void>();
let revenue = 0;
await bus.subscribe('orders.*', { group: 'billing', from: 'earliest', concurrency: 4 }, async (msg) => {
  const order = orders.decode(msg);
  revenue += order.total;
  console.log(`billing: ${order.orderId} for ${order.customerId} from partition ${msg.partition} offset ${msg.offset}`);
  if (order.orderId === 'o-3') done.resolve();
});
// #endregion consume

// The second process publishes through this one.
const publisher = new Promise<string>((resolve, reject) =>
  execFile(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'publisher', dir], (error, stdout) =>
    error ? reject(error) : resolve(stdout.trim()),
  ),
);
console.log(await publisher);
await done.promise;

// #region compaction
const customers = json<{ name: string; tier: string }>();
await bus.publish('customers.state', customers.encode({ name: 'Alice', tier: 'gold' }, { key: 'alice' }));
await bus.publish('customers.state', customers.encode({ name: 'Alice', tier: 'platinum' }, { key: 'alice' }));
await bus.publish('customers.state', tombstone('bob')); // compaction removes the key "bob"
// #endregion compaction

// #region inspect
for (const t of await bus.inspect()) {
  const end = t.partitions.reduce((n, p) => n + p.endOffset, 0);
  const lag = t.groups.map((g) => `${g.group} lag ${g.lag}`).join(', ') || 'no groups';
  console.log(`topic ${t.topic}: ${t.partitions.length} partition(s), ${end} message(s), ${lag}`);
}
await bus.close(); // drains handlers, commits positions, closes files, releases the lock
// #endregion inspect

console.log(`embedded: revenue ${revenue.toFixed(2)}`);

if (given === undefined) rmSync(dir, { recursive: true, force: true });
