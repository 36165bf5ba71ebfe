// A consumer process for the graceful-shutdown tests: runs a Router until SIGTERM and records
// each finished message in a file. Run by shutdown.test.ts; not part of the package.
//   TRANSPORT=memory|embedded DIR=… TOPIC=… COUNT=… (memory: messages it publishes itself)
//   LOG=<file> WORK_MS=<per-message work>
import { appendFileSync } from 'node:fs';
import { json } from '../codecs/json.ts';
import type { Transport } from '../core/transport.ts';
import { memory } from '../transports/memory/index.ts';
import { Router } from './router.ts';

const env = process.env;
const topic = env.TOPIC!;
const log = env.LOG!;
const workMs = Number(env.WORK_MS ?? 20);
const codec = json<{ n: number }>();

let bus: Transport;
if (env.TRANSPORT === 'embedded') {
  const { embedded } = await import('../transports/embedded/index.ts');
  bus = embedded({ dir: env.DIR! });
} else {
  bus = memory();
}

const router = new Router({ drainTimeoutMs: 10_000 });
router.handle('work', { from: bus, topic, group: 'workers', codec, concurrency: 8, start: 'earliest' }, async (msg) => {
  process.stdout.write(`start ${msg.id}\n`);
  await new Promise((r) => setTimeout(r, workMs));
  appendFileSync(log, `${msg.id}\n`);
  process.stdout.write(`done ${msg.id}\n`);
});

await router.start();
if (env.TRANSPORT !== 'embedded') {
  const count = Number(env.COUNT ?? 100);
  await bus.publish(topic, Array.from({ length: count }, (_, n) => codec.encode({ n }, { key: `k${n % 16}` })));
}
process.stdout.write('ready\n');
await router.run(); // returns after SIGTERM/SIGINT: intake stopped, in-flight drained, committed, closed
process.stdout.write(`stopped ${JSON.stringify(router.inspector.handler('work')?.counters)}\n`);
