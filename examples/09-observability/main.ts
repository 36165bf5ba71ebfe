// Observability on the memory transport: Prometheus metrics at /metrics, OpenTelemetry trace
// context in headers, a consumer-lag monitor with lag.high / lag.recovered events, and health
// endpoints. Swap `memory()` for `kafka({ brokers })` and the metric names stay the same.
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { deadLetter, json, memory, PermanentError, retry, Router } from 'switchyard';
import { health, healthHandler, instrument, lagMonitor, memoryLagSource, metrics, metricsHandler, routes, serve, tracing } from 'switchyard/observability';

interface OrderPlaced {
  orderId: string;
  total: number;
}
const orders = json<OrderPlaced>();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';

// #region instrument
const registry = new Registry();
const bus = instrument(memory(), { registry }); // counts publishes, puts traceparent in headers

const router = new Router({ logger: quiet });
router.use(metrics({ registry }), tracing(), retry({ attempts: 2, initialDelayMs: 10 }), deadLetter({ maxAttempts: 2 }));
router.handle('billing', { from: bus, topic: 'orders.placed', group: 'billing', codec: orders }, async (msg, ctx) => {
  if (msg.payload.total < 0) throw new PermanentError(`order ${msg.payload.orderId} has a negative total`);
  ctx.publish('payments.charged', orders.encode(msg.payload)); // carries the trace on
});
// #endregion instrument

// #region serve
const ready = health({ routers: [router], transports: [bus], stallMs: 30_000 });
// 127.0.0.1 unless told otherwise (another host needs a token).
const server = await serve(
  routes({
    '/metrics': metricsHandler({ registry }),
    '/livez': healthHandler(ready, 'live'),
    '/readyz': healthHandler(ready, 'ready'),
  }),
  { port: Number(process.env.METRICS_PORT ?? 0) },
);
// #endregion serve
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// #region lag
const monitor = lagMonitor({ sources: [memoryLagSource(bus)], intervalMs: 10_000, high: { messages: 3 }, registry });
monitor.on((e) => {
  if (e.type === 'lag.high') console.log(`lag.high: group ${e.reading.group} is ${e.reading.messages} behind on ${e.reading.topic}`);
  if (e.type === 'lag.recovered') console.log(`lag.recovered: group ${e.reading.group} is ${e.reading.messages} behind`);
});
monitor.start();
// #endregion lag

// An audit group that falls behind while paused, then catches up.
let audited = 0;
const caughtUp = Promise.withResolvers<void>();
const audit = await bus.subscribe('orders.placed', { group: 'audit' }, async () => {
  if (++audited === 5) caughtUp.resolve();
});
audit.pause();
// Billing settles every order: four payments, one dead letter.
let settled = 0;
const billed = Promise.withResolvers<void>();
const watch = async (msg: { topic: string; headers: Record<string, string> }): Promise<void> => {
  if (msg.topic === 'payments.charged' && settled === 0) console.log(`payments.charged continues the caller's trace: ${msg.headers.traceparent?.startsWith(`00-${traceId}-`)}`);
  if (++settled === 5) billed.resolve();
};
const watchers = [
  await bus.subscribe('payments.charged', { group: 'watch' }, watch),
  await bus.subscribe('orders.placed.dlq', { group: 'watch' }, watch),
];

await router.start();
// A trace started upstream (an HTTP request, say): without an OpenTelemetry SDK, tracing() passes it on.
const headers = { traceparent: `00-${traceId}-00f067aa0ba902b7-01` };
await bus.publish('orders.placed', [
  orders.encode({ orderId: 'o-1', total: 19.99 }, { headers }),
  orders.encode({ orderId: 'o-2', total: 5 }, { headers }),
  orders.encode({ orderId: 'o-3', total: -1 }, { headers }),
  orders.encode({ orderId: 'o-4', total: 42.5 }, { headers }),
  orders.encode({ orderId: 'o-5', total: 7 }, { headers }),
]);
await billed.promise;
await monitor.sample(); // billing is done; audit is 5 behind
audit.resume();
await caughtUp.promise;
await audit.close(); // acknowledges what it handled
await monitor.sample(); // audit is 0 behind
await router.stop(); // every delivery settled

const text = await (await fetch(`${base}/metrics`)).text();
for (const line of text.split('\n')) {
  if (/^switchyard_messages_(consumed|acked|dead_lettered)_total\{.*handler="billing"/.test(line)) console.log(line);
}
console.log(`readyz after stop: ${(await fetch(`${base}/readyz`)).status}`);
monitor.stop();
for (const w of watchers) await w.close();
await bus.close();
server.close();
