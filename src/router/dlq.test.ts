import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineCodec } from '../core/codec.ts';
import { DecodeError } from '../core/errors.ts';
import type { OutgoingMessage } from '../core/message.ts';
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
});
