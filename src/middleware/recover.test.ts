import { describe, expect, it } from 'vitest';
import { deadLetter } from './dead-letter.ts';
import { harness, record } from './harness.test-support.ts';
import { recover } from './recover.ts';

describe('recover()', () => {
  it('turns a thrown string, a plain object and a synchronous crash into Errors, and the stream goes on', async () => {
    const h = await harness('recover', [deadLetter({ maxAttempts: 1 }), recover()], (msg, _ctx, h) => {
      // Deliberately not async: these throw synchronously.
      if (msg.payload.n === 1) throw 'plain string';
      if (msg.payload.n === 2) throw { message: 'object with a message' };
      if (msg.payload.n === 3) throw undefined;
      record(h.done, msg);
      return Promise.resolve();
    });
    await h.publish([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    await h.dlq.untilCount(3, 5_000);
    await h.done.untilCount(1, 5_000);
    const errors = h.dlq.messages.map((m) => m.headers['x-error']);
    expect(errors[0]).toBe('SwitchyardError: handler "recover" threw a string instead of an Error: non-error thrown: plain string');
    expect(errors[1]).toBe('SwitchyardError: object with a message');
    expect(errors[2]).toMatch(/^SwitchyardError: handler "recover" threw a undefined instead of an Error/);
    for (const m of h.dlq.messages) expect(m.headers['x-error-stack']).toMatch(/\n\s+at /);
    await h.stop();
  });
});
