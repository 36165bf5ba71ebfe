import { describe, expect, it } from 'vitest';
import { isTimeoutError } from '../core/errors.ts';
import { ContiguousCommit } from './contiguous-commit.ts';
import { KeyedQueue } from './keyed-queue.ts';
import { withTimeout } from './with-timeout.ts';

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

  it('puts a redelivered entry back before later entries', () => {
    const q = new KeyedQueue<{ seq: number; key: string }>();
    q.push({ seq: 5, key: 'x' });
    q.push({ seq: 7, key: 'y' });
    q.push({ seq: 3, key: 'z' });
    expect(q.drain().map((e) => e.seq)).toEqual([3, 5, 7]);
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
