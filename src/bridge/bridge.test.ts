import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobufjs from 'protobufjs';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { ConfigError, PermanentError, TransportError } from '../core/errors.ts';
import type { Transport } from '../core/transport.ts';
import type { Message } from '../core/message.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory, type MemoryTransport } from '../transports/memory/index.ts';
import { bridge, prepareBridge, type Bridge } from './bridge.ts';
import { parseBridgeConfig } from './parse-config.ts';
import type { BridgeConfig, BridgeMessage } from './config-schema.ts';
import { progressLine } from './progress.ts';

// Routes between two memory transports: everything the bridge does except talking to a broker.
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const open: Array<Bridge | MemoryTransport> = [];
afterEach(async () => {
  for (const item of open.splice(0).toReversed()) await ('stop' in item ? item.stop() : item.close());
});

function pair(): { shop: MemoryTransport; warehouse: MemoryTransport } {
  const shop = memory();
  const warehouse = memory();
  open.push(shop, warehouse);
  return { shop, warehouse };
}

async function collect(t: MemoryTransport, topic: string): Promise<Inbox> {
  const inbox = new Inbox();
  await t.subscribe(topic, { group: 'test', from: 'earliest' }, async (m: Message) => inbox.push(m));
  return inbox;
}

const orders = json<{ orderId: string; status: string; total: number; region?: string }>();

describe('bridge on the memory transport', () => {
  it('filters on JSON fields, transforms, renders the destination from the key and headers, and carries ids, keys and headers', async () => {
    const { shop, warehouse } = pair();
    const config: BridgeConfig = {
      transports: { shop, warehouse },
      routes: [
        {
          name: 'paid-orders',
          from: { transport: 'shop', topic: 'orders.*', start: 'earliest' },
          to: { transport: 'warehouse', topic: 'fulfil.{headers.region}', headers: { 'x-bridged-from': '{topic}' } },
          filter: { json: { status: 'paid', total: { gte: 10 } } },
          format: { in: 'json' },
          transform: (m: BridgeMessage) => ({ payload: { ...(m.payload as object), bridged: true } }),
        },
      ],
    };
    const b = await bridge(config, { logger: quiet });
    open.push(b);
    const eu = await collect(warehouse, 'fulfil.eu');
    const us = await collect(warehouse, 'fulfil.us');
    await shop.publish('orders.placed', [
      orders.encode({ orderId: 'o1', status: 'paid', total: 20 }, { id: 'id-1', key: 'c1', headers: { region: 'eu', tenant: 'acme' } }),
      orders.encode({ orderId: 'o2', status: 'open', total: 20 }, { id: 'id-2', key: 'c1', headers: { region: 'eu' } }),
      orders.encode({ orderId: 'o3', status: 'paid', total: 5 }, { id: 'id-3', key: 'c2', headers: { region: 'us' } }),
      orders.encode({ orderId: 'o4', status: 'paid', total: 99 }, { id: 'id-4', key: 'c2', headers: { region: 'us' } }),
    ]);
    await eu.untilCount(1, 5_000);
    await us.untilCount(1, 5_000);
    const [m1] = eu.messages;
    expect(m1).toMatchObject({ id: 'id-1', key: 'c1', topic: 'fulfil.eu', headers: { region: 'eu', tenant: 'acme', 'x-bridged-from': 'orders.placed' } });
    expect(orders.decode(m1!)).toEqual({ orderId: 'o1', status: 'paid', total: 20, bridged: true });
    expect(us.messages.map((m) => m.id)).toEqual(['id-4']);
    await b.stop(); // drains: the counts are final
    const stats = b.stats()[0]!;
    expect(stats).toMatchObject({ name: 'paid-orders', received: 4, forwarded: 2, filtered: 2 });
    expect(progressLine(b.stats(), undefined, 1_000)).toBe("paid-orders 4 msg/s (2 fwd, 2 filtered) [stopped]");
  });

  it('keeps order per key and gives fanned-out messages ids derived from the source id', async () => {
    const { shop, warehouse } = pair();
    const b = await bridge(
      {
        transports: { shop, warehouse },
        routes: [
          {
            name: 'fan-out',
            from: { transport: 'shop', topic: 'lines', start: 'earliest', concurrency: 8 },
            to: { transport: 'warehouse', topic: 'items' },
            transform: (m: BridgeMessage) => {
              const n = Number(new TextDecoder().decode(m.payload as Uint8Array));
              if (n % 5 === 0) return null; // dropped
              return [{ payload: `${n}a` }, { payload: `${n}b` }];
            },
          },
        ],
      },
      { logger: quiet },
    );
    open.push(b);
    const out = await collect(warehouse, 'items');
    const sent = Array.from({ length: 200 }, (_, i) => ({ id: `m${i}`, key: `k${i % 7}`, payload: new TextEncoder().encode(String(i)) }));
    await shop.publish('lines', sent);
    const expected = sent.filter((_, i) => i % 5 !== 0).length * 2;
    await out.untilCount(expected, 10_000);
    expect(out.messages).toHaveLength(expected);
    const text = (m: Message): string => new TextDecoder().decode(m.payload);
    for (let k = 0; k < 7; k++) {
      const got = out.messages.filter((m) => m.key === `k${k}`).map(text);
      const wantOrdered = sent.map((_, i) => i).filter((i) => i % 7 === k && i % 5 !== 0).flatMap((i) => [`${i}a`, `${i}b`]);
      expect(got, `key k${k}`).toEqual(wantOrdered);
    }
    const ids = out.messages.filter((m) => text(m) === '1a' || text(m) === '1b').map((m) => m.id);
    expect(ids.toSorted()).toEqual(['m1.1', 'm1.2']);
    await b.stop();
    expect(b.stats()[0]).toMatchObject({ dropped: 40, forwarded: 160 });
  });

  it('converts JSON to Protobuf with a schema named in the config and marks the content type', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-proto-'));
    writeFileSync(join(dir, 'order.proto'), 'syntax = "proto3"; package shop; message OrderPlaced { string order_id = 1; int64 total_cents = 2; }');
    const { shop, warehouse } = pair();
    const b = await bridge(
      {
        transports: { shop, warehouse },
        schemas: { order: { proto: 'order.proto', type: 'shop.OrderPlaced' } },
        routes: [{ name: 'to-proto', from: { transport: 'shop', topic: 'orders', start: 'earliest' }, to: { transport: 'warehouse', topic: 'orders.pb' }, format: { in: 'json', out: { protobuf: 'order' } } }],
      },
      { baseDir: dir, logger: quiet },
    );
    open.push(b);
    const out = await collect(warehouse, 'orders.pb');
    await shop.publish('orders', json().encode({ orderId: 'o-9', totalCents: '12345' }, { id: 'p-1', key: 'o-9' }));
    await out.untilCount(1, 5_000);
    const root = protobufjs.parse('syntax = "proto3"; package shop; message OrderPlaced { string order_id = 1; int64 total_cents = 2; }').root;
    const type = root.lookupType('shop.OrderPlaced');
    const m = out.messages[0]!;
    expect(m.headers['content-type']).toBe('application/x-protobuf; messageType=shop.OrderPlaced');
    expect(type.toObject(type.decode(m.payload), { longs: String })).toEqual({ orderId: 'o-9', totalCents: '12345' });
    expect(m.id).toBe('p-1');
  });

  it('converts Protobuf bytes fields to base64 in JSON, as Protobuf\'s JSON mapping does, so a route back to Protobuf gives the same bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-proto-bytes-'));
    const proto = 'syntax = "proto3"; package docs; message Attachment { string name = 1; bytes content = 2; repeated bytes chunks = 3; }';
    writeFileSync(join(dir, 'attachment.proto'), proto);
    const type = protobufjs.parse(proto).root.lookupType('docs.Attachment');
    const { shop, warehouse } = pair();
    const b = await bridge(
      {
        transports: { shop, warehouse },
        schemas: { attachment: { proto: 'attachment.proto', type: 'docs.Attachment' } },
        routes: [
          { name: 'to-json', from: { transport: 'shop', topic: 'files.pb', start: 'earliest' }, to: { transport: 'warehouse', topic: 'files.json' }, format: { in: { protobuf: 'attachment' }, out: 'json' } },
          { name: 'back', from: { transport: 'warehouse', topic: 'files.json', start: 'earliest' }, to: { transport: 'shop', topic: 'files.again' }, format: { in: 'json', out: { protobuf: 'attachment' } } },
        ],
      },
      { baseDir: dir, logger: quiet },
    );
    open.push(b);
    const asJson = await collect(warehouse, 'files.json');
    const again = await collect(shop, 'files.again');
    const original = { name: 'logo.png', content: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255]), chunks: [new Uint8Array([1, 2]), new Uint8Array([3])] };
    await shop.publish('files.pb', { id: 'f-1', payload: type.encode(type.fromObject(original)).finish() });
    await again.untilCount(1, 5_000);
    expect(JSON.parse(new TextDecoder().decode(asJson.messages[0]!.payload))).toEqual({ name: 'logo.png', content: 'iVBORwD/', chunks: ['AQI=', 'Aw=='] });
    const roundTripped = type.toObject(type.decode(again.messages[0]!.payload), { bytes: Array });
    expect(roundTripped).toEqual({ name: 'logo.png', content: [...original.content], chunks: [[1, 2], [3]] });
  });

  it('converts to text only what is text: a JSON object or bytes that are not UTF-8 are dead-lettered with the reason, not forwarded as "[object Object]"', async () => {
    const { shop, warehouse } = pair();
    const b = await bridge(
      {
        transports: { shop, warehouse },
        routes: [
          { name: 'json-to-text', from: { transport: 'shop', topic: 'notes', start: 'earliest' }, to: { transport: 'warehouse', topic: 'notes.text' }, format: { in: 'json', out: 'text' } },
          { name: 'raw-to-text', from: { transport: 'shop', topic: 'blobs', start: 'earliest' }, to: { transport: 'warehouse', topic: 'blobs.text' }, format: { in: 'raw', out: 'text' } },
        ],
      },
      { logger: quiet },
    );
    open.push(b);
    const notes = await collect(warehouse, 'notes.text');
    const blobs = await collect(warehouse, 'blobs.text');
    const dlq = await collect(shop, '*.dlq');
    await shop.publish('notes', [json().encode({ a: 1 }, { id: 'object' }), json().encode('just text', { id: 'string' })]);
    await shop.publish('blobs', [{ id: 'binary', payload: Uint8Array.of(0xff, 0xfe) }, { id: 'utf8', payload: new Uint8Array(new TextEncoder().encode('héllo')) }]);
    await notes.untilCount(1, 5_000);
    await blobs.untilCount(1, 5_000);
    await dlq.untilCount(2, 5_000);
    expect(notes.messages.map((m) => [m.id, new TextDecoder().decode(m.payload), m.headers['content-type']])).toEqual([['string', 'just text', 'text/plain; charset=utf-8']]);
    expect(blobs.messages.map((m) => [m.id, new TextDecoder().decode(m.payload)])).toEqual([['utf8', 'héllo']]);
    const reasons = Object.fromEntries(dlq.messages.map((m) => [m.id, m.headers['x-error']]));
    expect(reasons['object']).toMatch(/text output needs a string, got object/);
    expect(reasons['binary']).toMatch(/not valid UTF-8/);
  });

  it('dead-letters undecoded bytes a route would encode as JSON, instead of forwarding {"type":"Buffer",…}', async () => {
    const { shop, warehouse } = pair();
    const b = await bridge(
      { transports: { shop, warehouse }, routes: [{ name: 'raw-to-json', from: { transport: 'shop', topic: 'in', start: 'earliest' }, to: { transport: 'warehouse', topic: 'out' }, format: { in: 'raw', out: 'json' } }] },
      { logger: quiet },
    );
    open.push(b);
    const out = await collect(warehouse, 'out');
    const dlq = await collect(shop, 'in.dlq');
    await shop.publish('in', { id: 'bytes', payload: new TextEncoder().encode('{"a":1}') });
    await dlq.untilCount(1, 5_000);
    expect(dlq.messages[0]!.headers['x-error']).toMatch(/undecoded bytes \(format.in is raw\)/);
    expect(out.messages).toEqual([]);
  });

  it('dead-letters a message the transform rejects permanently, with the reason, and goes on with the next', async () => {
    const { shop, warehouse } = pair();
    const registry = new Registry();
    const b = await bridge(
      {
        transports: { shop, warehouse },
        routes: [
          {
            name: 'strict',
            from: { transport: 'shop', topic: 'in', start: 'earliest' },
            to: { transport: 'warehouse', topic: 'out' },
            format: { in: 'json' },
            transform: (m: BridgeMessage) => {
              if ((m.payload as { ok: boolean }).ok !== true) throw new PermanentError('not ok');
              return { payload: m.payload };
            },
            deadLetter: { topic: 'rejected.{topic}' },
          },
        ],
      },
      { logger: quiet, registry },
    );
    open.push(b);
    const out = await collect(warehouse, 'out');
    const dlq = await collect(shop, 'rejected.in');
    await shop.publish('in', [json().encode({ ok: false }, { id: 'bad' }), json().encode({ ok: true }, { id: 'good' })]);
    await out.untilCount(1, 5_000);
    await dlq.untilCount(1, 5_000);
    expect(dlq.messages[0]).toMatchObject({ id: 'bad', headers: { 'x-error': 'PermanentError: not ok', 'x-original-topic': 'in', 'x-handler': 'strict' } });
    expect(out.messages.map((m) => m.id)).toEqual(['good']);
    expect(await registry.getSingleMetricAsString('switchyard_messages_dead_lettered_total')).toMatch(/handler="strict"\} 1/);
  });

  it('forwards a header taken from the environment exactly, braces and all, from a config file', async () => {
    const token = 'Bearer {abc"def}{key}';
    const parsed = parseBridgeConfig(
      'transports: { shop: { type: memory }, warehouse: { type: memory } }\n' +
        'routes:\n  - name: auth\n    from: { transport: shop, topic: in, start: earliest }\n    to: { transport: warehouse, topic: out, headers: { authorization: "${TOKEN}" } }\n',
      { env: { TOKEN: token } },
    );
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    const b = await bridge(parsed.config, { logger: quiet });
    open.push(b);
    const out = await collect(b.transport('warehouse') as MemoryTransport, 'out');
    await b.transport('shop')!.publish('in', [{ id: 'm1', key: 'c1', payload: new Uint8Array([1]) }]);
    await out.untilCount(1, 5_000);
    expect(out.messages[0]!.headers['authorization']).toBe(token);
  });

  it('dead-letters every message when the filter function returns no boolean (a missing return), naming the filter, instead of skipping them all', async () => {
    const { shop, warehouse } = pair();
    // The bug this guards against (in a JavaScript module, where nothing checks types): a body
    // without `return`, so every call gives undefined.
    function paidOnly(m: BridgeMessage): void {
      void ((m.payload as { status: string }).status === 'paid');
    }
    const b = await bridge(
      {
        transports: { shop, warehouse },
        routes: [
          {
            name: 'paid',
            from: { transport: 'shop', topic: 'in', start: 'earliest' },
            to: { transport: 'warehouse', topic: 'out' },
            format: { in: 'json' },
            filter: { module: paidOnly as unknown as (m: BridgeMessage) => boolean },
            deadLetter: { topic: 'rejected.{topic}' },
          },
        ],
      },
      { logger: quiet },
    );
    open.push(b);
    const dlq = await collect(shop, 'rejected.in');
    await shop.publish('in', [json().encode({ status: 'paid' }, { id: 'p1' }), json().encode({ status: 'open' }, { id: 'o1' })]);
    await dlq.untilCount(2, 5_000);
    expect(dlq.messages.map((m) => m.id)).toEqual(['p1', 'o1']);
    expect(dlq.messages[0]!.headers['x-error']).toBe(
      'PermanentError: the filter function "paidOnly" returned undefined for message p1; it must return true (forward) or false (skip): is a "return" missing?',
    );
    await b.stop();
    expect(b.stats()[0]).toMatchObject({ received: 2, filtered: 0, forwarded: 0, deadLettered: 2 });
  });

  it('dead-letters a message one of whose outputs to several topics is invalid before forwarding any of them', async () => {
    const { shop, warehouse } = pair();
    const b = await bridge(
      {
        transports: { shop, warehouse },
        routes: [
          {
            name: 'split',
            from: { transport: 'shop', topic: 'in', start: 'earliest' },
            to: { transport: 'warehouse', topic: 'out' },
            format: { in: 'json' },
            // One output per line item, each to its own topic; an item's name is no topic token.
            transform: (m: BridgeMessage) => (m.payload as { items: string[] }).items.map((item) => ({ payload: { item }, topic: `items.${item}` })),
          },
        ],
      },
      { logger: quiet },
    );
    open.push(b);
    const items = await collect(warehouse, 'items.*');
    const dlq = await collect(shop, 'in.dlq');
    await shop.publish('in', [json().encode({ items: ['book', 'pen', 'big box'] }, { id: 'mixed' }), json().encode({ items: ['lamp', 'cup'] }, { id: 'fine' })]);
    await dlq.untilCount(1, 5_000);
    await items.untilCount(2, 5_000);
    expect(dlq.messages[0]).toMatchObject({ id: 'mixed', headers: { 'x-error': expect.stringContaining('"items.big box"') as unknown } });
    await b.stop();
    // Nothing of the dead-lettered message reached the sink: a replay of the dead letter is its only copy.
    expect(items.messages.map((m) => `${m.id} ${m.topic}`)).toEqual(['fine.1 items.lamp', 'fine.2 items.cup']);
    expect(dlq.messages[0]!.headers['x-error']).toContain('nothing of this message was forwarded');
    expect(b.stats()[0]).toMatchObject({ received: 2, forwarded: 1, deadLettered: 1 });
  });

  it('dead-letters a message whose header would add topic levels to the destination, with the reason, and forwards the next', async () => {
    const { shop, warehouse } = pair();
    const b = await bridge(
      { transports: { shop, warehouse }, routes: [{ name: 'ship', from: { transport: 'shop', topic: 'orders.placed', start: 'earliest' }, to: { transport: 'warehouse', topic: 'shipments.{headers.region}' } }] },
      { logger: quiet },
    );
    open.push(b);
    const out = await collect(warehouse, '>');
    const dlq = await collect(shop, 'orders.placed.dlq');
    await shop.publish('orders.placed', [
      { id: 'inject', payload: new Uint8Array(), headers: { region: 'eu.internal.admin' } },
      { id: 'ok', payload: new Uint8Array(), headers: { region: 'eu' } },
    ]);
    await dlq.untilCount(1, 5_000);
    await out.untilCount(1, 5_000);
    expect(dlq.messages[0]).toMatchObject({
      id: 'inject',
      headers: { 'x-error': expect.stringContaining('{headers.region} is "eu.internal.admin", which is not one topic token') as unknown, 'x-original-topic': 'orders.placed' },
    });
    expect(out.messages.map((m) => `${m.id} -> ${m.topic}`)).toEqual(['ok -> shipments.eu']);
  });

  it('dead-letters to the default topic when the deadLetter.topic template renders no valid topic, warns once, and is not held up', async () => {
    const { shop, warehouse } = pair();
    const warnings: Array<{ message: string; fields: Record<string, unknown> | undefined }> = [];
    const logger = { ...quiet, warn: (message: string, fields?: Record<string, unknown>) => warnings.push({ message, fields }) };
    const b = await bridge(
      {
        transports: { shop, warehouse },
        routes: [
          {
            name: 'ship',
            from: { transport: 'shop', topic: 'orders.placed', start: 'earliest' },
            to: { transport: 'warehouse', topic: 'shipments' },
            transform: (m: BridgeMessage) => {
              if (m.headers.fail === 'yes') throw new PermanentError('refused');
              return { payload: m.payload };
            },
            retry: { attempts: 2, initialDelayMs: 10 },
            deadLetter: { topic: 'dlq.{headers.region}' },
          },
        ],
      },
      { logger },
    );
    open.push(b);
    const out = await collect(warehouse, 'shipments');
    const fallback = await collect(shop, 'orders.placed.dlq');
    const regional = await collect(shop, 'dlq.*');
    const long = 'x'.repeat(250); // one token, but dlq.<it> is longer than a topic may be
    await shop.publish('orders.placed', [
      { id: 'wild', payload: new Uint8Array(), headers: { region: '>', fail: 'yes' } },
      { id: 'long', payload: new Uint8Array(), headers: { region: long, fail: 'yes' } },
      { id: 'eu', payload: new Uint8Array(), headers: { region: 'eu', fail: 'yes' } },
      { id: 'next', payload: new Uint8Array(), headers: { region: 'eu' } },
    ]);
    await out.untilCount(1, 5_000);
    await fallback.untilCount(2, 5_000);
    await regional.untilCount(1, 5_000);
    expect(out.messages.map((m) => m.id)).toEqual(['next']);
    expect(fallback.messages.map((m) => [m.id, m.headers['x-error']])).toEqual([
      ['wild', 'PermanentError: refused'],
      ['long', 'PermanentError: refused'],
    ]);
    expect(regional.messages.map((m) => `${m.id} -> ${m.topic}`)).toEqual(['eu -> dlq.eu']);
    const fellBack = warnings.filter((w) => w.message.includes('gives no valid topic'));
    expect(fellBack).toHaveLength(1);
    expect(fellBack[0]!.message).toBe('route "ship": deadLetter.topic "dlq.{headers.region}" gives no valid topic for message wild; dead-lettering to "orders.placed.dlq" instead (logged once per route)');
    expect(fellBack[0]!.fields).toEqual({ error: expect.stringContaining('{headers.region} is ">", which is not one topic token') as unknown });
    await b.stop();
    expect(b.stats()[0]).toMatchObject({ received: 4, forwarded: 1, deadLettered: 3 });
  });

  it('reports each route\'s consumer lag through the observability lag sources', async () => {
    const { shop, warehouse } = pair();
    const gate = Promise.withResolvers<void>();
    const b = await bridge(
      {
        transports: { shop, warehouse },
        routes: [
          {
            name: 'slow',
            from: { transport: 'shop', topic: 'in', start: 'earliest' },
            to: { transport: 'warehouse', topic: 'out' },
            transform: async (m: BridgeMessage) => {
              await gate.promise; // held until the lag was read
              return { payload: m.payload };
            },
          },
        ],
      },
      { logger: quiet },
    );
    open.push(b);
    const out = await collect(warehouse, 'out');
    await shop.publish('in', Array.from({ length: 5 }, (_, i) => ({ id: `l${i}`, payload: new Uint8Array([i]) })));
    const [source] = await b.lagSources();
    expect(source!.name).toBe('bridge:slow');
    expect(await source!.read()).toEqual([expect.objectContaining({ transport: 'memory', topic: 'in', group: 'bridge.slow', messages: 5 })]);
    gate.resolve();
    await out.untilCount(5, 5_000);
    await b.stop();
    expect(await source!.read()).toEqual([expect.objectContaining({ group: 'bridge.slow', messages: 0 })]);
  });

  it('while the sink is down, backs off; stopping then gives the message back unacknowledged at once, and a later run forwards it', async () => {
    const { shop, warehouse } = pair();
    let down = true;
    // The warehouse, unreachable while `down` (the RabbitMQ outage test does this with a real broker).
    const flaky: Transport = {
      name: 'flaky',
      capabilities: warehouse.capabilities,
      connect: () => warehouse.connect(),
      subscribe: (topic, options, handler) => warehouse.subscribe(topic, options, handler),
      close: async () => {},
      publish: async (topic, messages) => {
        if (down) throw new TransportError('connection refused');
        await warehouse.publish(topic, messages);
      },
    };
    const config = (): BridgeConfig => ({
      transports: { shop, flaky },
      routes: [{ name: 'r', from: { transport: 'shop', topic: 'in', start: 'earliest' }, to: { transport: 'flaky', topic: 'out' }, retry: { initialDelayMs: 10, maxDelayMs: 50 } }],
    });
    const first = await bridge(config(), { logger: quiet });
    const retrying = Promise.withResolvers<void>();
    first.on((e) => e.type === 'sink-retry' && e.attempt === 3 && retrying.resolve());
    await shop.publish('in', { id: 'held', key: 'k', payload: new Uint8Array([1]) });
    await retrying.promise;
    expect(first.stats()[0]).toMatchObject({ backingOff: true, forwarded: 0 });
    const started = performance.now();
    await first.stop();
    expect(performance.now() - started, 'stop does not wait out the 30 s drain time').toBeLessThan(5_000);
    const [lag] = await first.lagSources();
    expect(await lag!.read()).toEqual([expect.objectContaining({ group: 'bridge.r', messages: 1 })]);

    down = false;
    const out = await collect(warehouse, 'out');
    const second = await bridge(config(), { logger: quiet });
    open.push(second);
    await out.untilCount(1, 5_000);
    expect(out.messages[0]).toMatchObject({ id: 'held', key: 'k' });
  });

  it('reports problems of modules and transport options together, before anything connects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-mod-'));
    writeFileSync(join(dir, 'transform.ts'), 'export function enrich(m: unknown) { return m; }\n');
    const error = await prepareBridge(
      {
        transports: { k: { type: 'kafka', brokers: 'not a broker' }, m: { type: 'memory' } },
        routes: [{ name: 'r', from: { transport: 'm', topic: 'a' }, to: { transport: 'm', topic: 'b' }, transform: './transform.ts#enrch', filter: { module: './missing.ts' } }],
      },
      { baseDir: dir },
    ).then(
      () => undefined,
      (e: unknown) => e as Error & { problems: string[] },
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toEqual([
      'transports.k: broker "not a broker" must be "host:port"',
      expect.stringMatching(/^routes\[0\]\.filter\.module: cannot load module "\.\/missing\.ts"/),
      'routes[0].transform: module "./transform.ts" has no export "enrch" (did you mean "enrich"?); its functions: enrich',
    ]);
  });
});
