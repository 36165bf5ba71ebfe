import { describe, expect, it } from 'vitest';
import type { StandardSchema } from '../codecs/standard-schema.ts';
import { deadLetter } from './dead-letter.ts';
import { harness, record } from './harness.test-support.ts';
import { retry } from './retry.ts';
import { validate } from './validate.ts';

/** An async Standard Schema: { n: positive number } → { n, doubled }. */
const schema: StandardSchema<unknown, { n: number; doubled: number }> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: async (value) => {
      const n = (value as { n?: unknown }).n;
      if (typeof n !== 'number') return { issues: [{ message: 'must be a number', path: ['n'] }] };
      if (n <= 0) return { issues: [{ message: 'must be positive', path: [{ key: 'n' }] }] };
      return { value: { n, doubled: n * 2 } };
    },
  },
};

describe('validate()', () => {
  it('gives the handler the schema’s output and dead-letters invalid messages at once with the issues', async () => {
    const seen: unknown[] = [];
    const h = await harness<{ n: unknown }>('validate', [deadLetter({ maxAttempts: 5 }), validate(schema)], async (msg, _ctx, h) => {
      seen.push(msg.payload);
      record(h.done, msg);
    });
    await h.publish([{ n: 2 }, { n: 'two' }, { n: -1 }, { n: 3 }]);
    await h.done.untilCount(2, 5_000);
    await h.dlq.untilCount(2, 5_000);
    expect(seen).toEqual([
      { n: 2, doubled: 4 },
      { n: 3, doubled: 6 },
    ]);
    expect(h.dlq.messages.map((m) => m.headers['x-error'])).toEqual([
      expect.stringMatching(/^ValidationError: .* failed validation: n: must be a number$/),
      expect.stringMatching(/^ValidationError: .* failed validation: n: must be positive$/),
    ]);
    expect(h.dlq.messages.map((m) => m.headers['x-attempts'])).toEqual(['1', '1']);
    await h.stop();
  });

  it('dead-letters at once a message whose async schema rejects (a refine that throws), as a DecodeError, not retried', async () => {
    const rejecting: StandardSchema<unknown, unknown> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (value) => {
          if ((value as { n?: unknown }).n === 13) throw new TypeError('refine blew up');
          return { value };
        },
      },
    };
    let handled = 0;
    const h = await harness<{ n: unknown }>('validate-rejects', [deadLetter({ maxAttempts: 5 }), validate(rejecting)], async (msg, _ctx, h) => {
      handled++;
      record(h.done, msg);
    });
    await h.publish([{ n: 13 }, { n: 1 }]);
    await h.done.untilCount(1, 5_000);
    await h.dlq.untilCount(1, 5_000);
    expect(handled).toBe(1);
    expect(h.dlq.messages[0]!.headers['x-error']).toMatch(/^DecodeError: .*the test schema threw instead of reporting issues: refine blew up$/);
    expect(h.dlq.messages[0]!.headers['x-attempts']).toBe('1');
    await h.stop();
  });
});

describe('validate() under retry()', () => {
  it('validates once per delivery: a retried attempt gets the schema’s output as it was, not validated (and transformed) again', async () => {
    /** Transforms its input: { s: numeric string } → number. Its output is no valid input. */
    const numeric: StandardSchema<unknown, number> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (value) => {
          const s = (value as { s?: unknown } | null)?.s;
          return typeof s === 'string' ? { value: Number(s) } : { issues: [{ message: 'must be a numeric string', path: ['s'] }] };
        },
      },
    };
    const seen: Array<{ attempt: number; payload: unknown }> = [];
    const h = await harness<unknown>(
      'validate-retry',
      [retry({ attempts: 3, initialDelayMs: 1, jitter: 0 }), deadLetter({ maxAttempts: 1 }), validate(numeric)],
      async (msg, ctx, h) => {
        seen.push({ attempt: ctx.attempt, payload: msg.payload });
        if (ctx.attempt < 3) throw new Error('downstream busy'); // transient: retried in-process
        record(h.done, msg);
      },
    );
    await h.publish({ s: '7' });
    // Handled or dead-lettered, whichever comes first.
    await Promise.race([h.done.untilCount(1, 5_000), h.dlq.untilCount(1, 5_000)].map((p) => p.catch(() => {})));
    await h.stop();
    expect(h.dlq.messages).toHaveLength(0);
    expect(seen).toEqual([1, 2, 3].map((attempt) => ({ attempt, payload: 7 })));
  });
});
