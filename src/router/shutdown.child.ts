// A consumer process for the graceful-shutdown tests: runs a Router until SIGTERM and records
// each finished message in a file. Run by shutdown.test.ts; not part of the package.
//   TRANSPORT=memory|embedded DIR=… TOPIC=… COUNT=… (memory: messages it publishes itself)
//   LOG=<file> WORK_MS=<per-message work>
//   STUCK=1: handlers ignore their signal and never finish; DRAIN_MS, GRACE_MS: the router's
//   drainTimeoutMs and abortGraceMs. Prints "stopping" when the shutdown begins.
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
  // With a handler that never settles, its subscription's drain timer is what holds the process
  // after run() resolved: the router sets it a second past its own drain time and grace.
  bus = memory();
}

const router = new Router({
  drainTimeoutMs: Number(env.DRAIN_MS ?? 10_000),
  ...(env.GRACE_MS ? { abortGraceMs: Number(env.GRACE_MS) } : {}),
});
router.inspector.on((e) => e.type === 'router-state' && e.state === 'stopping' && process.stdout.write('stopping\n'));
router.handle('work', { from: bus, topic, group: 'workers', codec, concurrency: 8, start: 'earliest' }, async (msg) => {
  process.stdout.write(`start ${msg.id}\n`);
  if (env.STUCK === '1') await new Promise(() => {}); // a call that takes no signal and never returns
  await new Promise((r) => setTimeout(r, workMs));
  appendFileSync(log, `${msg.id}\n`);
  process.stdout.write(`done ${msg.id}\n`);
});

await router.start();
if (env.TRANSPORT !== 'embedded') {
  const count = Number(env.COUNT ?? 100);
  await bus.publish(topic, Array.from({ length: count }, (_, n) => codec.encode({ n }, { key: `k${n % 16}` })));
}
// Stands in for a service's other handles (an HTTP server, a pool): signal listeners alone do not
// keep Node running, and with every handler stuck nothing else would.
const keepAlive = setInterval(() => {}, 60_000);
const running = router.run(); // returns after SIGTERM/SIGINT: intake stopped, in-flight drained, committed, closed
// After run() was called: it installs its signal listeners before its first await.
process.stdout.write('ready\n');
await running;
clearInterval(keepAlive);
process.stdout.write(`stopped ${JSON.stringify(router.inspector.handler('work')?.counters)}\n`);
