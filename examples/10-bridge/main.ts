// The bridge: routes that move messages between transports, with filters, transforms and format
// conversion, acknowledging each source message only after the sink confirmed its output.
// Part 1 builds a bridge in code between two memory transports; part 2 runs bridge.yaml (two
// embedded brokers, a transform module and a JSON → Protobuf route) — the same file
// `switchyard bridge examples/10-bridge/bridge.yaml` runs.
// Run: node --conditions=switchyard-source examples/10-bridge/main.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { json, memory, type Message, type Transport } from 'switchyard';
import { bridge, loadBridgeConfig, progressLine, type BridgeMessage } from 'switchyard/bridge';

interface Order {
  orderId: string;
  customerId: string;
  status: 'paid' | 'open';
  total: number;
}
const orders = json<Order>();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sample: Order[] = [
  { orderId: 'o-1', customerId: 'c-1', status: 'paid', total: 120 },
  { orderId: 'o-2', customerId: 'c-2', status: 'open', total: 35 },
  { orderId: 'o-3', customerId: 'c-3', status: 'paid', total: 18.5 },
];
const region = (o: Order): string => (o.customerId === 'c-3' ? 'us' : 'eu');

/** Subscribes to `topic` and resolves with the first `count` messages, by id (keys arrive in any order). */
async function take(bus: Transport, topic: string, count: number): Promise<Message[]> {
  const got: Message[] = [];
  const done = Promise.withResolvers<Message[]>();
  await bus.subscribe(topic, { group: 'example', from: 'earliest' }, async (m) => {
    if (got.push(m) === count) done.resolve(got.toSorted((a, b) => a.id.localeCompare(b.id)));
  });
  return done.promise;
}

// ── Part 1: in code ─────────────────────────────────────────────────────────────────────────
// #region code
const shop = memory();
const warehouse = memory();
const inCode = await bridge(
  {
    transports: { shop, warehouse }, // ready transports, or specs: { type: 'kafka', brokers: [...] }
    routes: [
      {
        name: 'paid-to-shipments',
        from: { transport: 'shop', topic: 'orders.placed', start: 'earliest' },
        to: { transport: 'warehouse', topic: 'shipments.{headers.region}' },
        filter: { json: { status: 'paid' } },
        transform: (msg: BridgeMessage) => {
          const order = msg.payload as Order;
          return { payload: { shipmentFor: order.orderId, insured: order.total >= 100 } };
        },
      },
    ],
  },
  { logger: quiet },
);
// #endregion code
const shipped = take(warehouse, 'shipments.*', 2);
await shop.publish('orders.placed', sample.map((o) => orders.encode(o, { id: `id-${o.orderId}`, key: o.customerId, headers: { region: region(o) } })));
for (const m of await shipped) console.log(`in code: ${m.topic} key=${m.key} id=${m.id} ${new TextDecoder().decode(m.payload)}`);
await inCode.stop();
console.log(`in code: ${progressLine(inCode.stats(), undefined, 1_000)}`);
await shop.close();
await warehouse.close();

// ── Part 2: from bridge.yaml, on two embedded brokers ─────────────────────────────────────────
const data = mkdtempSync(join(tmpdir(), 'switchyard-bridge-example-'));
process.on('exit', () => rmSync(data, { recursive: true, force: true }));
// #region file
const { config, baseDir } = await loadBridgeConfig(join(import.meta.dirname, 'bridge.yaml'), { ...process.env, BRIDGE_DATA: data });
const fromFile = await bridge(config, { baseDir, logger: quiet }); // everything is checked before anything connects
// #endregion file
const target = fromFile.transport('warehouse')!;
const shipments = take(target, 'shipments.*', 2);
const archived = take(target, 'archive.placed', 3);
await fromFile.transport('shop')!.publish('orders.placed', sample.map((o) => orders.encode(o, { id: `id-${o.orderId}`, key: o.customerId, headers: { region: region(o) } })));
for (const m of await shipments) console.log(`from file: ${m.topic} key=${m.key} id=${m.id} x-shipment=${m.headers['x-shipment']} ${new TextDecoder().decode(m.payload)}`);
for (const m of await archived) console.log(`from file: ${m.topic} id=${m.id} ${m.headers['content-type']} (${m.payload.byteLength} bytes)`);
await fromFile.stop();
console.log(`from file: ${progressLine(fromFile.stats(), undefined, 1_000)}`);
