import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Message } from '../../core/message.ts';
import { faultProxy } from '../../testing/fault-proxy.ts';
import { Inbox } from '../../testing/inbox.ts';
import { rabbitmq, type RabbitMQEvent, type RabbitMQOptions, type RabbitMQTransport } from './index.ts';
import { defaultAmqpUrl } from './options.ts';
import { deleteDeclared } from './test-support.ts';

// Faults in the middle of 10,000 publishes and consumes: a closed connection, a broker restart
// and a network partition. Nothing may be lost; duplicates (at-least-once) are counted and printed.
const run = randomBytes(4).toString('hex');
const made: RabbitMQTransport[] = [];
const exec = promisify(execFile);
const rabbitmqctl = (...args: string[]): Promise<{ stdout: string }> => exec('rabbitmqctl', args, { timeout: 60_000 });

const canControlBroker = ((): boolean => {
  try {
    execFileSync('rabbitmqctl', ['-q', 'status'], { stdio: 'ignore', timeout: 30_000 });
    return new URL(defaultAmqpUrl()).hostname.match(/^(127\.0\.0\.1|localhost)$/) !== null;
  } catch {
    return false;
  }
})();
const noBrokerControl = !canControlBroker ? 'rabbitmqctl is not available for a local broker' : undefined;

afterAll(() => deleteDeclared(made));

interface Harness {
  bus: RabbitMQTransport;
  events: RabbitMQEvent[];
  /** When each event arrived (ms since epoch). */
  at: number[];
  inbox: Inbox;
  /** Distinct ids received so far. */
  distinct: Set<string>;
  topic: string;
}

async function harness(name: string, options: RabbitMQOptions): Promise<Harness> {
  const events: RabbitMQEvent[] = [];
  const at: number[] = [];
  const bus = rabbitmq({
    exchange: `switchyard.resilience.${run}`,
    connectionName: `switchyard-${name}-${run}`,
    reconnectDelayMs: { min: 100, max: 1_000 },
    publishTimeoutMs: 60_000,
    onEvent: (e) => {
      events.push(e);
      at.push(Date.now());
    },
    ...options,
  });
  made.push(bus);
  const topic = `resilience.${name}.${run}`;
  const inbox = new Inbox();
  const distinct = new Set<string>();
  await bus.subscribe(topic, { group: 'g', concurrency: 16 }, async (m: Message) => {
    distinct.add(m.id);
    inbox.push(m);
  });
  return { bus, events, at, inbox, distinct, topic };
}

/**
 * Publishes at least `total` messages in awaited batches and calls `fault` once `faultAt` were
 * confirmed. Publishing goes on until the fault has visibly hit (`hit()`) and 2,500 more were
 * published, so the fault always lands in the middle of the stream, never after it.
 */
async function publishAll(h: Harness, total: number, faultAt: number, fault: () => void, hit: () => boolean): Promise<string[]> {
  const ids: string[] = [];
  const batch = 250;
  let hitAt = -1;
  for (let i = 0; i < total || hitAt < 0 || i < hitAt + 2_500; i += batch) {
    if (i === faultAt) fault();
    if (hitAt < 0 && i >= faultAt && hit()) hitAt = i;
    if (i > 200_000) throw new Error('the fault never hit the transport');
    const messages = Array.from({ length: batch }, (_, j) => ({ id: `m-${i + j}`, key: `k-${(i + j) % 64}`, payload: Buffer.from(`payload ${i + j}`) }));
    ids.push(...messages.map((m) => m.id));
    await h.bus.publish(h.topic, messages);
  }
  return ids;
}

const disconnected = (h: Harness) => (): boolean => h.events.some((e) => e.type === 'disconnected');

async function expectAll(h: Harness, ids: string[], what: string): Promise<void> {
  // Inbox.ids() builds a set per call: count distinct ids as they arrive instead (10,000+ messages).
  await h.inbox.until(() => h.distinct.size >= ids.length, 60_000, () => `all ${ids.length} messages (got ${h.distinct.size} distinct)`);
  const got = h.inbox.ids();
  expect(ids.filter((id) => !got.has(id))).toEqual([]);
  for (const m of h.inbox.messages) expect(Buffer.from(m.payload).toString()).toBe(`payload ${m.id.slice(2)}`);
  const duplicates = h.inbox.messages.length - got.size;
  console.log(`[rabbitmq ${what}] ${ids.length} published, ${got.size} distinct received, ${duplicates} duplicates, events: ${summarize(h.events)}`);
}

function summarize(events: RabbitMQEvent[]): string {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
  return [...counts].map(([type, n]) => `${type}×${n}`).join(', ');
}

async function connectionPids(name: string): Promise<string[]> {
  const { stdout } = await rabbitmqctl('-q', '--no-table-headers', 'list_connections', 'pid', 'client_properties');
  return stdout
    .split('\n')
    .filter((line) => line.includes(name))
    .map((line) => line.split('\t')[0]!);
}

describe('rabbitmq resilience', () => {
  it.skipIf(noBrokerControl)(
    'loses nothing when the broker closes the connection in the middle of 10,000 publishes and consumes',
    async () => {
      const h = await harness('close', {});
      const pids = await connectionPids(`switchyard-close-${run}`);
      expect(pids).toHaveLength(1);
      let closing: Promise<unknown> | undefined;
      // Only our own connection: other engineers share this broker. (rabbitmqctl
      // close_all_connections does the same to every client.)
      const ids = await publishAll(h, 10_000, 5_000, () => {
        closing = Promise.all(pids.map((pid) => rabbitmqctl('close_connection', pid, 'switchyard resilience test')));
      }, disconnected(h));
      await closing;
      await expectAll(h, ids, 'connection closed by broker');
      expect(h.events.some((e) => e.type === 'disconnected')).toBe(true);
    },
    120_000,
  );

  it.skipIf(noBrokerControl ?? (process.env.SWITCHYARD_SKIP_BROKER_RESTART ? 'SWITCHYARD_SKIP_BROKER_RESTART is set' : undefined))(
    'recovers by itself from a broker restart (stop_app, start_app) and loses nothing',
    async () => {
      const h = await harness('restart', {});
      let restart: Promise<void> | undefined;
      const ids = await publishAll(h, 3_000, 1_500, () => {
        restart = (async () => {
          try {
            await rabbitmqctl('stop_app');
          } finally {
            await rabbitmqctl('start_app');
          }
        })();
      }, disconnected(h));
      await restart;
      await expectAll(h, ids, 'broker restart');
      expect(h.events.some((e) => e.type === 'disconnected')).toBe(true);
    },
    120_000,
  );

  it(
    'detects a 10-second partition by heartbeat, reconnects and loses nothing of 10,000 messages',
    async () => {
      const broker = new URL(defaultAmqpUrl());
      const proxy = await faultProxy({ target: { host: broker.hostname, port: Number(broker.port || 5672) } });
      try {
        const url = new URL(broker.href);
        url.hostname = proxy.host;
        url.port = String(proxy.port);
        const h = await harness('partition', { url: url.href, heartbeatSeconds: 2, connectionTimeoutMs: 2_000 });
        let healedAt = 0;
        let partitionedAt = 0;
        let healing: Promise<void> | undefined;
        const ids = await publishAll(h, 10_000, 5_000, () => {
          partitionedAt = Date.now();
          proxy.blackhole();
          // The fault lasts 10 s of wall-clock time; this timer is the fault, not a synchronisation.
          healing = new Promise((resolve) =>
            setTimeout(() => {
              healedAt = Date.now();
              proxy.heal();
              resolve();
            }, 10_000),
          );
        }, () => true);
        await healing;
        await expectAll(h, ids, 'partition');
        const detected = h.events.findIndex((e, i) => e.type === 'disconnected' && h.at[i]! >= partitionedAt);
        expect(detected, 'a disconnect was reported').toBeGreaterThanOrEqual(0);
        // Found dead by the heartbeat while the partition still lasted, not after it healed.
        expect(h.at[detected]!).toBeLessThan(healedAt);
        const reconnected = h.events.findIndex((e, i) => e.type === 'connected' && h.at[i]! >= healedAt);
        console.log(
          `[rabbitmq partition] heartbeat 2 s: dead connection detected after ${h.at[detected]! - partitionedAt} ms of partition; ` +
            `reconnected ${reconnected >= 0 ? `${h.at[reconnected]! - healedAt} ms after healing` : '(no reconnect event)'}`,
        );
      } finally {
        await proxy.close();
      }
    },
    120_000,
  );
});
