import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Message } from '../core/message.ts';
import { faultProxy, type FaultProxy } from '../testing/fault-proxy.ts';
import { Inbox } from '../testing/inbox.ts';
import type { EmbeddedTransport } from '../transports/embedded/index.ts';
import { rabbitmq, type RabbitMQTransport } from '../transports/rabbitmq/index.ts';
import { defaultAmqpUrl } from '../transports/rabbitmq/options.ts';
import { deleteDeclared } from '../transports/rabbitmq/test-support.ts';
import { bridge, type Bridge, type BridgeEvent } from './bridge.ts';
import { parseBridgeConfig } from './parse-config.ts';

// Sink outage: a route embedded → RabbitMQ runs through a TCP fault proxy. Mid-run every
// connection is reset and the proxy swallows all bytes for several seconds (RabbitMQ unreachable),
// then heals. The route must back off while the sink is down, resume by itself, and lose nothing.

const run = randomBytes(4).toString('hex');
const COUNT = 4_000;
const KEYS = 20;
const OUTAGE_MS = 4_000;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(join(tmpdir(), 'bridge-outage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bridge sink outage', () => {
  it('backs off while RabbitMQ is unreachable, resumes when it is back, and loses nothing', async () => {
    const broker = new URL(defaultAmqpUrl());
    const proxy: FaultProxy = await faultProxy({ target: { host: broker.hostname, port: Number(broker.port || 5672) } });
    const proxied = new URL(defaultAmqpUrl());
    proxied.host = `${proxy.host}:${proxy.port}`;
    const exchange = `switchyard.bridge-outage.${run}`;
    const topic = `outage.${run}.orders`;
    const yaml = `
transports:
  local: { type: embedded, dir: "\${DATA_DIR}" }
  rabbit:
    type: rabbitmq
    url: "\${AMQP_URL}"
    exchange: "${exchange}"
    connectionTimeoutMs: 1000
    publishTimeoutMs: 1500
    publishAttempts: 2
    heartbeatSeconds: 1
    reconnectDelayMs: { min: 100, max: 500 }
routes:
  - name: to-rabbit
    from: { transport: local, topic: "${topic}", start: earliest, concurrency: 8 }
    to: { transport: rabbit, topic: "${topic}" }
    retry: { initialDelayMs: 100, maxDelayMs: 1000 }
`;
    const parsed = parseBridgeConfig(yaml, { env: { DATA_DIR: join(dir, 'data'), AMQP_URL: proxied.href } });
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));

    // The consumer that checks the result talks to RabbitMQ directly, not through the proxy.
    const verify: RabbitMQTransport = rabbitmq({ exchange, connectionName: `bridge-outage-verify-${run}` });
    const inbox = new Inbox();
    await verify.subscribe(topic, { group: 'verify', concurrency: 16 }, async (m: Message) => inbox.push(m));

    const events: Array<BridgeEvent & { at: number }> = [];
    let b: Bridge | undefined;
    try {
      b = await bridge(parsed.config, { logger: quiet });
      b.on((e) => events.push({ ...e, at: Date.now() }));
      const source = b.transport('local') as EmbeddedTransport;
      const publish = async (from: number, to: number): Promise<void> => {
        for (let start = from; start < to; start += 100) {
          const batch = Array.from({ length: Math.min(100, to - start) }, (_, j) => {
            const seq = start + j;
            return { id: `o-${run}-${seq}`, key: `k-${seq % KEYS}`, payload: new TextEncoder().encode(String(seq)) };
          });
          await source.publish(topic, batch);
        }
      };

      await publish(0, COUNT / 2);
      await inbox.until(() => inbox.distinct >= COUNT / 4, 60_000, () => `a quarter of the messages before the outage (got ${inbox.distinct})`);

      // The outage: connections reset, then nothing gets through (new connections included).
      const cutAt = Date.now();
      proxy.reset();
      proxy.blackhole();
      await publish(COUNT / 2, COUNT);
      const backingOff = new Promise<void>((resolve) => {
        const done = (): void => {
          off();
          resolve();
        };
        const off = b!.on((e) => {
          if (e.type === 'sink-retry') done();
        });
        if (events.some((e) => e.type === 'sink-retry')) done();
      });
      await backingOff;
      // Holding the fault for its duration is the point of the test, not a synchronisation.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - cutAt))));
      expect(b.stats()[0]!.backingOff, 'still backing off at the end of the outage').toBe(true);
      const healedAt = Date.now();
      proxy.heal();

      await inbox.until(() => inbox.distinct >= COUNT, 120_000, () => `${COUNT} distinct messages (got ${inbox.distinct}; ${JSON.stringify(b!.stats())})`);
      const recoveredAt = Date.now();

      // Every id arrived; duplicates (at-least-once, a publish cut before its confirm) are allowed.
      const want = new Set(Array.from({ length: COUNT }, (_, i) => `o-${run}-${i}`));
      expect(new Set(inbox.messages.map((m) => m.id))).toEqual(want);
      // Order per key: the first arrival of each message comes in publish order.
      const seen = new Set<string>();
      const last = new Map<string, number>();
      for (const m of inbox.messages) {
        if (seen.has(m.id)) continue;
        seen.add(m.id);
        const seq = Number(new TextDecoder().decode(m.payload));
        expect(seq, `order of key ${m.key}`).toBeGreaterThan(last.get(m.key) ?? -1);
        last.set(m.key, seq);
      }
      const retries = events.filter((e) => e.type === 'sink-retry');
      expect(retries.length).toBeGreaterThan(0);
      expect(events.some((e) => e.type === 'sink-recovered' && e.at >= healedAt)).toBe(true);
      expect(b.stats()[0]).toMatchObject({ deadLettered: 0, backingOff: false });
      console.log(
        `outage ${healedAt - cutAt} ms; ${retries.length} sink retries; all ${COUNT} delivered ${recoveredAt - healedAt} ms after healing; ` +
          `${inbox.messages.length - COUNT} duplicates`,
      );
    } finally {
      await b?.stop();
      await proxy.close();
      const rabbit = b?.transport('rabbit') as RabbitMQTransport | undefined;
      await deleteDeclared([verify, ...(rabbit ? [rabbit] : [])], { exchanges: [exchange] });
    }
  }, 240_000);
});
