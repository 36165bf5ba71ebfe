import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineCodec } from '../core/codec.ts';
import { DecodeError } from '../core/errors.ts';
import type { OutgoingMessage } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import { deadLetter } from '../middleware/dead-letter.ts';
import { harness, record } from '../middleware/harness.test-support.ts';
import { retry } from '../middleware/retry.ts';
import { Inbox } from '../testing/inbox.ts';
import { embedded } from '../transports/embedded/index.ts';
import { listDeadLetters, replayDeadLetters } from './dlq.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe('poison messages and the dead-letter topic', () => {
  it('sends exactly the malformed payloads among 10,000 good ones to the DLQ without stalling, and replays them once the handler is fixed', async () => {
    let fixed = false;
    // JSON, until "fixed": then it also repairs the truncated payloads the producer sent.
    const codec = defineCodec<{ n: number }>({
      contentType: 'application/json',
      toBytes: (v) => encoder.encode(JSON.stringify(v)),
      fromBytes: (bytes, at) => {
        const text = decoder.decode(bytes);
        try {
          return JSON.parse(text);
        } catch (error) {
          if (fixed) return JSON.parse(`${text}}`);
          throw new DecodeError(at, `malformed JSON: ${(error as Error).message}`);
        }
      },
    });
    const seen = new Set<number>();
    const h = await harness(
      'poison',
      [retry({ attempts: 3, initialDelayMs: 1, jitter: 0 }), deadLetter()],
      async (msg, _ctx, h) => {
        seen.add(msg.payload.n);
        record(h.done, msg);
      },
      { codec, route: { concurrency: 8 } },
    );
    const poisonIds = new Set<string>();
    const batch = [];
    for (let i = 0; i < 10_100; i++) {
      const key = `k${i % 50}`;
      if (i % 101 === 50) {
        const id = `poison-${i}`;
        poisonIds.add(id);
        batch.push({ id, key, payload: encoder.encode(`{"n": ${i}`) });
      } else batch.push(codec.encode({ n: i }, { key }));
    }
    expect(poisonIds.size).toBe(100);
    for (let i = 0; i < batch.length; i += 500) await h.bus.publish(h.topic, batch.slice(i, i + 500));
    await h.done.untilCount(10_000, 30_000);
    await h.dlq.untilCount(100, 30_000);
    expect(new Set(h.dlq.messages.map((m) => m.id))).toEqual(poisonIds);
    for (const m of h.dlq.messages) {
      expect(m.headers['x-error']).toMatch(/^DecodeError: cannot decode message poison-\d+ on ".*": malformed JSON/);
      expect(m.headers['x-attempts']).toBe('1');
    }
    const listed = await listDeadLetters(h.bus, `${h.topic}.dlq`, { idleMs: 100 });
    expect(new Set(listed.map((d) => d.id))).toEqual(poisonIds);
    expect(listed[0]).toMatchObject({ originalTopic: h.topic, handler: 'poison', attempts: 1 });

    fixed = true;
    const one = [...poisonIds][0]!;
    expect(await replayDeadLetters(h.bus, `${h.topic}.dlq`, { ids: [one], idleMs: 100 })).toEqual([one]);
    await h.done.untilCount(10_001, 10_000);
    expect((await listDeadLetters(h.bus, `${h.topic}.dlq`, { idleMs: 100 })).length).toBe(99);
    const replayed = await replayDeadLetters(h.bus, `${h.topic}.dlq`, { idleMs: 100 });
    expect(replayed).toHaveLength(99);
    await h.done.untilCount(10_100, 10_000);
    expect(seen.size).toBe(10_100);
    expect(await listDeadLetters(h.bus, `${h.topic}.dlq`, { idleMs: 100 })).toEqual([]);
    // Replayed messages keep their id and key, without the dead-letter headers; they say when they were replayed.
    const again = h.done.messages.find((m) => m.id === one)!;
    expect(again.key).toMatch(/^k\d+$/);
    expect(Object.keys(again.headers).filter((k) => k.startsWith('x-'))).toEqual(['x-republished-at']);
    expect(Date.parse(again.headers['x-republished-at']!)).toBeGreaterThan(Date.now() - 60_000);
    await h.stop();
  });

  it('replays what it can and reports the letters it cannot, which stay in the DLQ without pinning it: a second replay sends nothing twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-dlq-'));
    const bus = embedded({ dir, fsync: 'never' });
    const dlq = `replay.${Date.now().toString(36)}.dlq`;
    const letter = (id: string, originalTopic?: string): OutgoingMessage => ({
      id,
      payload: encoder.encode(id),
      headers: { 'x-error': 'boom', ...(originalTopic ? { 'x-original-topic': originalTopic } : {}) },
    });
    // The unreplayable ones come first: left unacknowledged, they would hold the group's position back.
    await bus.publish(dlq, [letter('no-origin'), letter('wildcard', 'orders.>'), letter('good-1', 'orders.placed'), letter('good-2', 'orders.placed')]);
    const got = new Inbox();
    await bus.subscribe('orders.placed', { group: 'g', from: 'earliest' }, async (m) => got.push(m));
    const skipped: string[] = [];
    const onSkip = (id: string, reason: string): void => void skipped.push(`${id}: ${reason}`);

    expect(await replayDeadLetters(bus, dlq, { idleMs: 100, onSkip })).toEqual(['good-1', 'good-2']);
    expect(skipped).toEqual([
      'no-origin: it has no x-original-topic header, so where it came from is unknown',
      expect.stringMatching(/^wildcard: publishing it to "orders\.>" failed: topic "orders\.>": token ">" may only contain/),
    ]);
    expect(await replayDeadLetters(bus, dlq, { idleMs: 100, onSkip })).toEqual([]);
    expect((await listDeadLetters(bus, dlq, { idleMs: 100 })).map((d) => d.id).sort()).toEqual(['no-origin', 'wildcard']);
    await got.untilCount(2, 5_000);
    expect(got.messages.map((m) => m.id)).toEqual(['good-1', 'good-2']); // once each
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Regression: the letters a full pass held beyond its limit went back to the DLQ group a turn of
  // the event loop late, so a second pass through the same transport took the letters behind them
  // first and stopped its commit 50 short (19,950 instead of 20,000); after a restart those 50
  // replayed letters were replayed again.
  it('replays 20,050 letters in passes of 10,000 through one transport, each letter once, the DLQ group committing exactly what was replayed, across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-dlq-'));
    const dlq = 'passes.dlq';
    const total = 20_050;
    const letters: OutgoingMessage[] = Array.from({ length: total }, (_, i) => ({
      id: `l-${i}`,
      payload: encoder.encode(String(i)),
      headers: { 'x-error': 'boom', 'x-original-topic': 'passes' },
    }));
    const committed = async (bus: ReturnType<typeof embedded>): Promise<number | undefined> =>
      (await bus.inspect()).find((t) => t.topic === dlq)?.groups.find((g) => g.group === 'switchyard.dlq')?.partitions[0]?.committed;
    let bus = embedded({ dir, fsync: 'never' });
    for (let i = 0; i < total; i += 1_000) await bus.publish(dlq, letters.slice(i, i + 1_000));

    const first = await replayDeadLetters(bus, dlq, { idleMs: 100, limit: 10_000 });
    expect(new Set(first)).toEqual(new Set(letters.slice(0, 10_000).map((l) => l.id)));
    expect(await committed(bus)).toBe(10_000);
    const second = await replayDeadLetters(bus, dlq, { idleMs: 100, limit: 10_000 });
    expect(new Set(second)).toEqual(new Set(letters.slice(10_000, 20_000).map((l) => l.id))); // the oldest left
    expect(await committed(bus)).toBe(20_000);
    await bus.close();

    bus = embedded({ dir, fsync: 'never' });
    const third = await replayDeadLetters(bus, dlq, { idleMs: 100, limit: 10_000 });
    expect(new Set(third)).toEqual(new Set(letters.slice(20_000).map((l) => l.id)));
    const replayed = [...first, ...second, ...third];
    expect(new Set(replayed).size).toBe(total);
    expect(replayed).toHaveLength(total); // none twice
    expect((await bus.inspect()).find((t) => t.topic === 'passes')?.partitions[0]?.endOffset).toBe(total);
    expect(await listDeadLetters(bus, dlq, { idleMs: 100 })).toEqual([]);
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Regression: a replay ran up to `limit` (10,000) publishes at once, which held their letters
  // in memory and made an interrupted replay (Ctrl-C) wait for thousands of them.
  it('replays with at most 256 publishes in flight, and as many letters as its limit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-dlq-'));
    const bus = embedded({ dir, fsync: 'never' });
    const dlq = 'window.dlq';
    await bus.publish(dlq, Array.from({ length: 3_000 }, (_, i) => ({ id: `w-${i}`, payload: encoder.encode(String(i)), headers: { 'x-original-topic': 'window' } })));
    let inFlight = 0;
    let most = 0;
    // The real transport, with its publishes to the original topic counted while they run.
    const counted: Transport = {
      name: bus.name,
      capabilities: bus.capabilities,
      connect: () => bus.connect(),
      close: () => bus.close(),
      subscribe: (topic, options, handler) => bus.subscribe(topic, options, handler),
      publish: async (topic, messages) => {
        if (topic === dlq) return bus.publish(topic, messages);
        most = Math.max(most, ++inFlight);
        try {
          await bus.publish(topic, messages);
        } finally {
          inFlight--;
        }
      },
    };
    expect(await replayDeadLetters(counted, dlq, { idleMs: 100, limit: 2_500 })).toHaveLength(2_500);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(256);
    expect((await listDeadLetters(bus, dlq, { idleMs: 100 })).map((d) => d.id)).toEqual(Array.from({ length: 500 }, (_, i) => `w-${2_500 + i}`));
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
