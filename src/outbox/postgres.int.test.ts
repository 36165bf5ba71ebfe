import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TransportError } from '../core/errors.ts';
import { json } from '../codecs/json.ts';
import { Inbox } from '../testing/inbox.ts';
import { embedded } from '../transports/embedded/index.ts';
import { memory } from '../transports/memory/index.ts';
import { postgresOutbox } from './postgres.ts';

const PG_URL = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const pool = new pg.Pool({ connectionString: PG_URL, max: 16 });
const tables: string[] = [];
const codec = json<{ key: string; seq: number; tx: number }>();

const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const t of tables) await pool.query(`DROP TABLE IF EXISTS ${t}`);
  await pool.end();
});

describe('postgresOutbox', () => {
  it('publishes exactly the committed rows of 5,000 enqueued (half rolled back), in order per key, with two relays running', async () => {
    const table = `outbox_${run}`;
    tables.push(table);
    const box = postgresOutbox({ pool, table });
    await box.migrate();
    const bus = memory();
    const topic = `outbox.${run}`;
    const got = new Inbox();
    await bus.subscribe(topic, { group: 'g', concurrency: 1 }, async (m) => got.push(m));
    const errors: Error[] = [];
    const relays = [1, 2].map(() => box.relay({ transport: bus, batchSize: 50, pollIntervalMs: 5, onError: (e) => errors.push(e) }));

    const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
    const committed: string[] = [];
    let tx = 0;
    // Each key's transactions run one after another; keys run in parallel. 50 transactions of 5 rows per key.
    await Promise.all(
      keys.map(async (key) => {
        let seq = 0;
        for (let t = 0; t < 50; t++) {
          const txId = ++tx;
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            const batch = Array.from({ length: 5 }, () => codec.encode({ key, seq: seq++, tx: txId }, { key, id: `${run}-${txId}-${seq}` }));
            await box.enqueue(client, topic, batch.slice(0, 2));
            await box.enqueue(client, topic, batch.slice(2));
            if (Math.random() < 0.5) {
              await client.query('ROLLBACK');
            } else {
              await client.query('COMMIT');
              committed.push(...batch.map((m) => m.id!));
            }
          } finally {
            client.release();
          }
        }
      }),
    );
    expect(tx * 5).toBe(5_000);
    await got.untilCount(committed.length, 60_000);
    await Promise.all(relays.map((r) => r.stop()));
    expect(errors).toEqual([]);
    expect(await box.pending()).toBe(0);
    expect(got.messages).toHaveLength(committed.length);
    expect(new Set(got.messages.map((m) => m.id))).toEqual(new Set(committed));
    // In order per key: sequence numbers of one key only grow.
    const last = new Map<string, number>();
    for (const m of got.messages) {
      const { key, seq } = codec.decode(m);
      expect(m.key).toBe(key);
      expect(seq).toBeGreaterThan(last.get(key) ?? -1);
      last.set(key, seq);
    }
    console.info(`outbox: ${committed.length} committed of 5000; relays published ${relays.map((r) => r.published).join(' + ')}`);
    await bus.close();
  });

  it('rejects an unsafe table name and invalid messages before touching the database', async () => {
    expect(() => postgresOutbox({ pool, table: 'x; DROP TABLE y' })).toThrow(/identifier/);
    const box = postgresOutbox({ pool, table: `outbox_never_${run}` });
    await expect(box.enqueue(pool, 'bad..topic', { payload: new Uint8Array() })).rejects.toThrow(/empty token/);
  });

  it("refuses a message whose id, key or header PostgreSQL cannot store (NUL, lone surrogate) before the INSERT, so the caller's transaction still commits", async () => {
    const table = `outbox_text_${run}`;
    tables.push(table);
    const box = postgresOutbox({ pool, table });
    await box.migrate();
    const topic = `outbox-text.${run}`;
    const bad: Array<[string, { id?: string; key?: string; headers?: Record<string, string> }]> = [
      ['key', { key: 'order\u00001' }],
      ['id', { id: 'id\u00001' }],
      ['header "trace"', { headers: { trace: 'a\u0000b' } }],
      ['header name "x\\u0000"', { headers: { 'x\u0000': 'v' } }],
      ['key', { key: 'order-\ud800' }],
      ['header "trace"', { headers: { trace: '\udfff' } }],
    ];
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`CREATE TEMP TABLE orders_${run} (id text) ON COMMIT DROP`);
      await client.query(`INSERT INTO orders_${run} VALUES ('o-1')`);
      for (const [field, init] of bad) {
        const refused = box.enqueue(client, topic, { ...init, payload: new Uint8Array([1]) });
        await expect(refused).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringContaining(`"${topic}": ${field} contains`) as unknown });
      }
      // The transaction is intact: the business row and a good message commit together.
      await box.enqueue(client, topic, { key: 'order-1', payload: new Uint8Array([2]) });
      expect((await client.query(`SELECT count(*)::int AS n FROM orders_${run}`)).rows[0].n).toBe(1);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await box.pending()).toBe(1);
  });

  it('keeps rows whose publish failed pending, marks the ones published before the failure, and loses nothing', async () => {
    const table = `outbox_fail_${run}`;
    tables.push(table);
    const box = postgresOutbox({ pool, table });
    await box.migrate();
    const bus = memory();
    const got = new Inbox();
    await bus.subscribe(`outbox-fail.${run}.>`, { group: 'g' }, async (m) => got.push(m));
    // Two topics alternate, so a round makes several publish calls; the third call fails once.
    await box.enqueue(pool, `outbox-fail.${run}.a`, [1, 2].map((seq) => codec.encode({ key: 'k', seq, tx: 0 }, { key: 'k' })));
    await box.enqueue(pool, `outbox-fail.${run}.b`, [3].map((seq) => codec.encode({ key: 'k', seq, tx: 0 }, { key: 'k' })));
    await box.enqueue(pool, `outbox-fail.${run}.a`, [4, 5].map((seq) => codec.encode({ key: 'k', seq, tx: 0 }, { key: 'k' })));
    let calls = 0;
    const published: number[] = [];
    const flaky = Object.create(bus) as typeof bus;
    flaky.publish = async (topic, messages) => {
      if (++calls === 3) throw new Error('broker unavailable');
      await bus.publish(topic, messages);
      for (const m of Array.isArray(messages) ? messages : [messages]) published.push(codec.decode({ ...m, topic, id: '' } as never).seq);
    };
    await expect(box.relayOnce({ transport: flaky })).rejects.toThrow(/unavailable/);
    expect(await box.pending()).toBe(2);
    expect(await box.relayOnce({ transport: flaky })).toBe(2);
    await got.untilCount(5, 5_000);
    // Published in enqueue order (the subscriber's two topics are not ordered with each other).
    expect(published).toEqual([1, 2, 3, 4, 5]);
    expect(got.messages.map((m) => codec.decode(m).seq).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(await box.pending()).toBe(0);
    await bus.close();
  });

  it('sets aside a row the transport refuses after maxAttempts, while other keys go on and its own key waits behind it', async () => {
    const table = `outbox_poison_${run}`;
    tables.push(table);
    const box = postgresOutbox({ pool, table });
    await box.migrate();
    const bus = memory();
    const topic = `outbox-poison.${run}`;
    const got = new Inbox();
    await bus.subscribe(`${topic}.>`, { group: 'g', concurrency: 1 }, async (m) => got.push(m));
    // The broker refuses what is marked poison, as it would an oversized message or a forbidden topic.
    let refuse = true;
    const picky = Object.create(bus) as typeof bus;
    picky.publish = async (to, messages) => {
      const list = Array.isArray(messages) ? messages : [messages];
      if (refuse && list.some((m) => codec.decode({ ...m, topic: to, id: '' } as never).tx < 0)) {
        throw new TransportError('message refused by the broker', { retryable: false });
      }
      await bus.publish(to, messages);
    };
    const row = (key: string, seq: number, tx = 0) => codec.encode({ key, seq, tx }, { key, id: `${key}-${seq}` });
    // One topic, so the poison row shares a publish call with rows of other keys.
    await box.enqueue(pool, `${topic}.a`, [row('k1', 1), row('x', 1, -1), row('k2', 1), row('x', 2), row('k1', 2)]);
    const errors: TransportError[] = [];
    const relay = { transport: picky, maxAttempts: 2, onError: (e: Error) => errors.push(e as TransportError) };

    expect(await box.relayOnce(relay)).toBe(3); // k1-1, k2-1, k1-2; x-2 waits behind x-1
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/refused row \d+ \(message x-1 to "outbox-poison\..*\.a"\): message refused by the broker; it stays pending/);
    expect(errors[0]!.retryable).toBe(true);
    expect(await box.pending()).toBe(2);

    expect(await box.relayOnce(relay)).toBe(0); // refused a second time: set aside; x-2 still waits this round
    expect(errors[1]!.message).toMatch(/set aside after 2 refusals.*requeueFailed\(\)/);
    expect(errors[1]!.retryable).toBe(false);
    const failed = await box.failed();
    expect(failed.map((f) => [f.messageId, f.key, f.attempts, f.lastError])).toEqual([['x-1', 'x', 2, 'message refused by the broker']]);
    expect(await box.pending()).toBe(1);

    expect(await box.relayOnce(relay)).toBe(1); // x-2, no longer behind anything pending
    refuse = false; // the cause fixed
    expect(await box.requeueFailed()).toBe(1);
    expect(await box.relayOnce(relay)).toBe(1);
    expect(await box.failed()).toEqual([]);
    expect(await box.pending()).toBe(0);
    await got.untilCount(5, 5_000);
    expect(got.messages.map((m) => m.id)).toEqual(['k1-1', 'k2-1', 'k1-2', 'x-2', 'x-1']);
    await bus.close();
  });

  it('ends the round at a failure trying again may cure, counting no attempt against any row', async () => {
    const table = `outbox_down_${run}`;
    tables.push(table);
    const box = postgresOutbox({ pool, table });
    await box.migrate();
    const bus = memory();
    const down = Object.create(bus) as typeof bus;
    down.publish = () => Promise.reject(new TransportError('connection refused', { retryable: true }));
    await box.enqueue(pool, `outbox-down.${run}`, [codec.encode({ key: 'k', seq: 1, tx: 0 }, { key: 'k' })]);
    for (let i = 0; i < 3; i++) await expect(box.relayOnce({ transport: down, maxAttempts: 1 })).rejects.toThrow(/connection refused/);
    expect(await box.failed()).toEqual([]);
    expect(await box.pending()).toBe(1);
    await bus.close();
  });
});

describe('postgresOutbox: rows without a key promise no order, so none waits for another', () => {
  /** An outbox table and an embedded broker (on disk) whose topic `topic` a consumer reads. */
  async function setUp(name: string) {
    const table = `outbox_${name}_${run}`;
    tables.push(table);
    const box = postgresOutbox({ pool, table });
    await box.migrate();
    const dir = mkdtempSync(join(tmpdir(), 'sy-outbox-'));
    dirs.push(dir);
    const bus = embedded({ dir, share: false });
    const topic = `outbox-${name}.${run}`;
    const got = new Inbox();
    await bus.subscribe(topic, { group: 'g', from: 'earliest' }, async (m) => got.push(m));
    return { box, bus, topic, got };
  }
  const keyless = (seq: number, tx = 0) => codec.encode({ key: '', seq, tx }, { id: `none-${seq}` });

  it('lets a second relay publish keyless rows while the first still holds older ones', async () => {
    const { box, bus, topic, got } = await setUp('keyless_share');
    await box.enqueue(pool, topic, [1, 2, 3, 4].map((seq) => keyless(seq)));
    // The first relay takes rows 1-2 and is stuck publishing them (a slow broker): it keeps them locked.
    let entered!: () => void;
    const publishing = new Promise<void>((resolve) => (entered = resolve));
    let unblock!: () => void;
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    const slow = Object.create(bus) as typeof bus;
    slow.publish = async (to, messages) => {
      entered();
      await blocked;
      await bus.publish(to, messages);
    };
    const first = box.relayOnce({ transport: slow, batchSize: 2 });
    await publishing;
    // The second relay skips the locked rows and takes 3-4: nothing orders them after 1-2.
    expect(await box.relayOnce({ transport: bus, batchSize: 2 })).toBe(2);
    await got.untilCount(2, 5_000);
    expect(got.messages.map((m) => m.id)).toEqual(['none-3', 'none-4']);
    unblock();
    expect(await first).toBe(2);
    await got.untilCount(4, 5_000);
    expect(await box.pending()).toBe(0);
    await bus.close();
  });

  it('publishes every other keyless row past one the transport refuses, then sets that one aside; keyed rows keep their order', async () => {
    const { box, bus, topic, got } = await setUp('keyless_poison');
    let refuse = true;
    const picky = Object.create(bus) as typeof bus;
    picky.publish = async (to, messages) => {
      const list = Array.isArray(messages) ? messages : [messages];
      if (refuse && list.some((m) => codec.decode({ ...m, topic: to, id: '' } as never).tx < 0)) {
        throw new TransportError('message refused by the broker', { retryable: false });
      }
      await bus.publish(to, messages);
    };
    const keyed = (seq: number, tx = 0) => codec.encode({ key: 'k', seq, tx }, { key: 'k', id: `k-${seq}` });
    await box.enqueue(pool, topic, [keyless(1, -1), keyless(2), keyed(1), keyless(3), keyed(2, -1), keyed(3)]);
    const errors: TransportError[] = [];
    const relay = { transport: picky, maxAttempts: 2, onError: (e: Error) => errors.push(e as TransportError) };

    expect(await box.relayOnce(relay)).toBe(3); // none-2, k-1, none-3; k-3 waits behind k-2
    expect(errors.map((e) => e.message.replace(/row \d+/, 'row N'))).toEqual([
      expect.stringMatching(/refused row N \(message none-1 .*it stays pending and is tried again next round \(it has no key, so no other row waits for it\)/),
      expect.stringMatching(/refused row N \(message k-2 .*the rows of key "k" behind it wait/),
    ]);
    await box.enqueue(pool, topic, [keyless(4)]);
    expect(await box.relayOnce({ ...relay, batchSize: 1 })).toBe(0); // none-1 alone, refused a second time: set aside
    expect(await box.relayOnce(relay)).toBe(1); // none-4, held up by nothing; k-2 refused again (set aside), k-3 waits this round
    expect((await box.failed()).map((f) => f.messageId)).toEqual(['none-1', 'k-2']);
    expect(await box.relayOnce(relay)).toBe(1); // k-3
    refuse = false;
    expect(await box.requeueFailed()).toBe(2);
    expect(await box.relayOnce(relay)).toBe(2);
    await got.untilCount(7, 5_000);
    expect(got.messages.map((m) => m.id)).toEqual(['none-2', 'k-1', 'none-3', 'none-4', 'k-3', 'none-1', 'k-2']);
    expect(await box.pending()).toBe(0);
    await bus.close();
  });
});
