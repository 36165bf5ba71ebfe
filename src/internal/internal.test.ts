import { describe, expect, it, vi } from 'vitest';
import { isClosedError, isTimeoutError } from '../core/errors.ts';
import { consoleLogger } from './console-logger.ts';
import { ContiguousCommit } from './contiguous-commit.ts';
import { KeyedQueue } from './keyed-queue.ts';
import { drainWithin, waitAtMost, withTimeout } from './with-timeout.ts';

describe('ContiguousCommit', () => {
  it('advances only over the contiguous acknowledged prefix', () => {
    const c = new ContiguousCommit(10);
    expect(c.ack(12)).toBe(false);
    expect(c.ack(11)).toBe(false);
    expect(c.committed).toBe(10);
    expect(c.ack(10)).toBe(true);
    expect(c.committed).toBe(13);
    expect(c.ack(5)).toBe(false);
    c.skipTo(20);
    expect(c.committed).toBe(20);
  });

  it('skips a gap of any size in one step, forgetting the acknowledgements inside it and keeping those after it', () => {
    const c = new ContiguousCommit(0);
    c.ack(5); // inside the gap
    c.ack(2 ** 40 + 1); // after it
    c.skipTo(2 ** 40); // a walk of 2^40 offsets would never end
    expect(c.committed).toBe(2 ** 40);
    expect(c.ack(2 ** 40)).toBe(true);
    expect(c.committed).toBe(2 ** 40 + 2);
    c.skipTo(3); // behind the position: nothing moves
    expect(c.committed).toBe(2 ** 40 + 2);
  });
});

describe('KeyedQueue', () => {
  it('holds back a busy key, lets other keys overtake, and keeps each key in order', () => {
    const q = new KeyedQueue<{ seq: number; key: string }>();
    for (const [seq, key] of [[0, 'a'], [1, 'a'], [2, 'b'], [3, ''], [4, '']] as const) q.push({ seq, key });
    const first = q.take()!;
    expect(first.seq).toBe(0);
    expect(q.take()!.seq).toBe(2); // a is busy: b overtakes
    expect(q.take()!.seq).toBe(3); // no key: never held back
    expect(q.take()!.seq).toBe(4);
    expect(q.take()).toBeUndefined(); // only a's second message is left, and a is busy
    q.release(first);
    expect(q.take()!.seq).toBe(1);
  });

  it('keeps order, key exclusivity and redelivery placement through deep queues', () => {
    const q = new KeyedQueue<{ seq: number; key: string }>();
    const n = 5_000;
    for (let seq = 0; seq < n; seq++) q.push({ seq, key: seq % 3 === 0 ? '' : `k${seq % 7}` });
    const taken: number[] = [];
    const busy = new Map<string, { seq: number; key: string }>();
    const failed = new Set<number>();
    for (let round = 0; q.size > 0 || busy.size > 0; round++) {
      for (let e = q.take(); e; e = q.take()) {
        if (e.key !== '') {
          expect(busy.has(e.key)).toBe(false);
          busy.set(e.key, e);
        }
        taken.push(e.seq);
        if (taken.length % 997 === 0 && e.key !== '' && !failed.has(e.seq)) {
          failed.add(e.seq);
          // A failure: the entry goes back (before later ones) once its key is released.
          busy.delete(e.key);
          q.release(e);
          q.push(e);
          taken.pop();
        }
      }
      for (const e of busy.values()) q.release(e);
      busy.clear();
      expect(round).toBeLessThan(n);
    }
    expect(taken.toSorted((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    // Each key's entries were taken in stream order.
    const lastOfKey = new Map<number, number>();
    for (const seq of taken) {
      if (seq % 3 === 0) continue;
      expect(seq).toBeGreaterThan(lastOfKey.get(seq % 7) ?? -1);
      lastOfKey.set(seq % 7, seq);
    }
    expect(q.drain()).toEqual([]);
  });

  it('puts a redelivered entry back before later entries', () => {
    const q = new KeyedQueue<{ seq: number; key: string }>();
    q.push({ seq: 5, key: 'x' });
    q.push({ seq: 7, key: 'y' });
    q.push({ seq: 3, key: 'z' });
    expect(q.drain().map((e) => e.seq)).toEqual([3, 5, 7]);
  });

  it('lets thousands of messages pass a key busy all along, then gives that key its turn in order', () => {
    const q = new KeyedQueue<{ seq: number; key: string }>();
    const n = 10_000;
    for (let seq = 0; seq < n; seq++) q.push({ seq, key: seq % 100 === 0 ? 'slow' : `k${seq % 50}` });
    const stuck = q.take()!; // seq 0, key "slow": busy for the whole run
    expect(stuck.seq).toBe(0);
    const passed: number[] = [];
    for (let e = q.take(); e; e = q.take()) {
      passed.push(e.seq);
      q.release(e);
    }
    expect(passed).toEqual(Array.from({ length: n }, (_, i) => i).filter((seq) => seq % 100 !== 0));
    expect(q.size).toBe(n / 100 - 1); // the slow key's other messages still wait
    // The slow message fails and is delivered again: it goes back first, before its key's later ones.
    q.release(stuck);
    q.push(stuck);
    const slow: number[] = [];
    for (let e = q.take(); e; e = q.take()) {
      slow.push(e.seq);
      q.release(e);
    }
    expect(slow).toEqual(Array.from({ length: n / 100 }, (_, i) => i * 100));
    expect(q.size).toBe(0);
  });

  it('puts a redelivered entry back into the place it was taken from', () => {
    const q = new KeyedQueue<{ seq: number; key: string }>();
    for (const [seq, key] of [[0, 'a'], [1, 'a'], [2, 'b'], [3, 'c']] as const) q.push({ seq, key });
    const a = q.take()!;
    const b = q.take()!; // seq 1 waits for a: b is taken from behind it
    expect([a.seq, b.seq]).toEqual([0, 2]);
    expect(q.size).toBe(2);
    q.release(b);
    q.push(b); // b failed: back where it was, between a's second message and c
    expect(q.size).toBe(3);
    q.release(a);
    expect([q.take()!.seq, q.take()!.seq, q.take()!.seq]).toEqual([1, 2, 3]);
    expect(q.size).toBe(0);
  });

  it("gives a key's waiting entry out once, after a redelivery that overtook it", () => {
    const q = new KeyedQueue<{ seq: number; key: string }>();
    for (const [seq, key] of [[0, 'a'], [1, 'b'], [2, 'a'], [3, '']] as const) q.push({ seq, key });
    const a0 = q.take()!;
    const b1 = q.take()!;
    expect([a0.seq, b1.seq]).toEqual([0, 1]);
    q.release(a0); // a's next (seq 2) may go now...
    q.push(a0); // ...but a0 failed and comes back first
    expect(q.size).toBe(3);
    expect(q.take()!.seq).toBe(0);
    expect(q.take()!.seq).toBe(3); // a is busy again: seq 2 waits, the unkeyed entry goes
    expect(q.take()).toBeUndefined();
    q.release(a0);
    expect(q.take()!.seq).toBe(2);
    expect(q.take()).toBeUndefined();
    expect(q.size).toBe(0);
  });

  it('drains waiting entries of every kind in stream order, and busy keys stay busy until released', () => {
    const q = new KeyedQueue<{ seq: number; key: string }>();
    for (let seq = 0; seq < 20; seq++) q.push({ seq, key: seq % 4 === 0 ? '' : `k${seq % 3}` });
    const busy = [q.take()!, q.take()!, q.take()!, q.take()!]; // 0 (unkeyed), 1 k1, 2 k2, 3 k0
    expect(busy.map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    const drained = q.drain().map((e) => e.seq);
    expect(drained).toEqual(Array.from({ length: 16 }, (_, i) => i + 4));
    expect(q.size).toBe(0);
    q.push({ seq: 30, key: 'k1' });
    expect(q.take()).toBeUndefined(); // k1 is still in flight
    q.release(busy[1]!);
    expect(q.take()!.seq).toBe(30);
  });
});

describe('withTimeout', () => {
  it('rejects with TimeoutError naming the operation when the deadline passes', async () => {
    const error = await withTimeout(new Promise(() => {}), 20, 'publish to "orders"').catch((e: unknown) => e);
    expect(isTimeoutError(error)).toBe(true);
    expect((error as Error).message).toBe('publish to "orders" timed out after 20 ms');
    await expect(withTimeout(Promise.resolve(7), 1000, 'x')).resolves.toBe(7);
  });
});

describe('waitAtMost', () => {
  it('resolves when the promise settles, failed or not, or when the time is up, whichever comes first', async () => {
    const order: string[] = [];
    await waitAtMost(new Promise(() => {}), 20).then(() => order.push('gave up on a promise that never settles'));
    await waitAtMost(Promise.reject(new Error('ignored')), 60_000).then(() => order.push('a rejection ends the wait'));
    await waitAtMost(undefined, 60_000).then(() => order.push('nothing to wait for'));
    expect(order).toEqual(['gave up on a promise that never settles', 'a rejection ends the wait', 'nothing to wait for']);
  });
});

describe('drainWithin', () => {
  it('resolves true when the handlers settle in time, their signal untouched', async () => {
    const abort = new AbortController();
    await expect(drainWithin(Promise.resolve(), 60_000, abort)).resolves.toBe(true);
    await expect(drainWithin(Promise.reject(new Error('a failed handler settled too')), 60_000, abort)).resolves.toBe(true);
    expect(abort.signal.aborted).toBe(false);
  });

  it('when the time is up, aborts the signal with a ClosedError and resolves false', async () => {
    const abort = new AbortController();
    await expect(drainWithin(new Promise(() => {}), 20, abort)).resolves.toBe(false);
    expect(isClosedError(abort.signal.reason)).toBe(true);
  });

  it('caps a time longer than a Node timer can hold instead of giving up at once', async () => {
    const abort = new AbortController();
    let settle!: () => void;
    const draining = drainWithin(new Promise<void>((resolve) => (settle = resolve)), 1e12, abort);
    await new Promise((resolve) => setTimeout(resolve, 20));
    settle();
    await expect(draining).resolves.toBe(true);
    expect(abort.signal.aborted).toBe(false);
  });
});

describe('consoleLogger', () => {
  it('writes each warning on one line, however long its fields', () => {
    const lines: unknown[][] = [];
    const spy = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void lines.push(args));
    try {
      consoleLogger().warn('handler "h" dead-lettered message m1 to "t.dlq"', { error: `DecodeError: ${'x'.repeat(200)}`, attempt: 3 });
      consoleLogger('switchyard saga').warn('no fields');
    } finally {
      spy.mockRestore();
    }
    expect(lines).toHaveLength(2);
    expect(lines[0]).toHaveLength(1);
    expect(lines[0]![0]).toMatch(/^switchyard: handler "h" dead-lettered message m1 to "t\.dlq" \{ error: 'DecodeError: x+', attempt: 3 \}$/);
    expect(lines[1]).toEqual(['switchyard saga: no fields']);
  });

  it('masks credentials in the message and the fields, as pinoLogger does', () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'warn').mockImplementation((line: string) => void lines.push(line));
    try {
      consoleLogger().warn('connecting to amqp://app:s3cret@mq:5672/ failed', { url: new URL('postgres://pg:pgpw@db/test'), password: 'hunter2', conninfo: 'host=db password=pgpw2' });
    } finally {
      spy.mockRestore();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('amqp://app:***@mq:5672/');
    expect(lines[0]).toContain('postgres://pg:***@db/test');
    for (const secret of ['s3cret', 'pgpw', 'hunter2']) expect(lines[0]).not.toContain(secret);
  });
});
