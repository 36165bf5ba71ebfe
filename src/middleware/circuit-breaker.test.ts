import { describe, expect, it } from 'vitest';
import { circuitBreaker, type CircuitEvent } from './circuit-breaker.ts';
import { deadLetter } from './dead-letter.ts';
import { harness, record } from './harness.test-support.ts';
import { retry } from './retry.ts';

function nextEvent(breaker: ReturnType<typeof circuitBreaker>, type: CircuitEvent['type']): Promise<CircuitEvent> {
  return new Promise((resolve) => {
    const off = breaker.on((e) => {
      if (e.type === type) {
        off();
        resolve(e);
      }
    });
  });
}

describe('circuitBreaker()', () => {
  it('opens after repeated failures, pauses consumption without dead-lettering, and resumes once the downstream recovers', async () => {
    const breaker = circuitBreaker({ failureThreshold: 3, resetTimeoutMs: 20 });
    const events: CircuitEvent['type'][] = [];
    breaker.on((e) => events.push(e.type));
    let downstreamUp = true;
    const processed = new Set<number>();
    const h = await harness(
      'breaker',
      [retry({ attempts: 2, initialDelayMs: 1, jitter: 0 }), deadLetter({ maxAttempts: 2 }), breaker],
      async (msg, _ctx, h) => {
        if (!downstreamUp) throw new Error('downstream 503');
        processed.add(msg.payload.n);
        record(h.done, msg);
      },
      { route: { concurrency: 4 } },
    );
    const opened = nextEvent(breaker, 'open');
    await h.publish([0, 1, 2, 3, 4].map((n) => ({ n })), { key: 'early' });
    await h.done.untilCount(5, 5_000);
    downstreamUp = false;
    await h.publish(Array.from({ length: 50 }, (_, i) => ({ n: 100 + i })), { key: 'a' });
    await h.publish(Array.from({ length: 50 }, (_, i) => ({ n: 200 + i })), { key: 'b' });
    await opened;
    expect(breaker.state).toBe('open');
    expect(h.router.inspector.handler('breaker')?.state).toBe('paused');
    // While open and probing against a dead downstream, nothing is consumed beyond what is held.
    await nextEvent(breaker, 'half-open');
    await nextEvent(breaker, 'open');
    const received = h.router.inspector.handler('breaker')!.counters.received;
    expect(received).toBeLessThanOrEqual(5 + 4);
    expect(h.dlq.messages).toHaveLength(0);
    const closed = nextEvent(breaker, 'closed');
    downstreamUp = true;
    await closed;
    await h.done.untilCount(105, 10_000);
    await h.stop();
    expect(processed.size).toBe(105);
    expect(h.dlq.messages).toHaveLength(0);
    expect(h.router.inspector.handler('breaker')?.counters['dead-lettered'] ?? 0).toBe(0);
    expect(events.slice(0, 3)).toEqual(['open', 'half-open', 'open']);
    expect(events.at(-1)).toBe('closed');
  });

  it('opens on a failure rate over a window', async () => {
    const breaker = circuitBreaker({ failureRate: { rate: 0.5, windowMs: 60_000, minimumCalls: 4 }, resetTimeoutMs: 10 });
    const opened = nextEvent(breaker, 'open');
    let calls = 0;
    const h = await harness('breaker-rate', [breaker], async (msg, _ctx, h) => {
      calls++;
      // ok, fail, ok, fail → 2 of 4 failed: opens; afterwards all succeed.
      if (calls <= 4 && calls % 2 === 0) throw new Error('flaky');
      record(h.done, msg);
    });
    await h.publish([1, 2, 3, 4, 5, 6].map((n) => ({ n })));
    const e = await opened;
    expect(e).toMatchObject({ type: 'open', failures: 2 });
    await h.done.untilCount(6, 5_000);
    await h.stop();
    expect(breaker.state).toBe('closed');
  });

  it('does not count permanent errors (bad messages) as downstream failures', async () => {
    const breaker = circuitBreaker({ failureThreshold: 1, resetTimeoutMs: 10 });
    const h = await harness<{ n: number }>('breaker-permanent', [deadLetter(), breaker], async (msg, _ctx, h) => record(h.done, msg));
    await h.bus.publish(h.topic, { payload: new TextEncoder().encode('{oops') });
    await h.dlq.untilCount(1, 5_000);
    expect(breaker.state).toBe('closed');
    await h.stop();
  });
});
