import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import { Router } from '../router/router.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory } from '../transports/memory/index.ts';
import { circuitBreaker, type CircuitEvent } from './circuit-breaker.ts';
import { deadLetter } from './dead-letter.ts';
import { harness, quiet, record } from './harness.test-support.ts';
import { retry } from './retry.ts';
import { timeout } from './timeout.ts';

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

  it('admits no more than `probes` at once in a half-open period, even after probes of an earlier one failed late', async () => {
    const breaker = circuitBreaker({ failureThreshold: 1, resetTimeoutMs: 20, probes: 2 });
    const events: CircuitEvent['type'][] = [];
    breaker.on((e) => events.push(e.type));
    // The second probe of the first half-open period fails only after the first one re-opened the
    // circuit: it must not hand a probe slot of the next period back.
    const reopened = nextEvent(breaker, 'open').then(() => nextEvent(breaker, 'open'));
    let calls = 0;
    let running = 0;
    let mostInHalfOpen = 0;
    let allIn!: () => void;
    const threeInFlight = new Promise<void>((resolve) => (allIn = resolve));
    const h = await harness(
      'breaker-probes',
      [breaker],
      async (msg, _ctx, h) => {
        const call = ++calls;
        running++;
        if (breaker.state === 'half-open') mostInHalfOpen = Math.max(mostInHalfOpen, running);
        try {
          if (call <= 3) {
            // All three fail while in flight together: the circuit then holds three messages.
            if (call === 3) allIn();
            await threeInFlight;
            throw new Error('downstream down');
          }
          if (call === 4) throw new Error('probe A fails');
          if (call === 5) {
            await reopened;
            throw new Error('probe B fails late');
          }
          await sleep(20); // later probes succeed, after some work
          record(h.done, msg);
        } finally {
          running--;
        }
      },
      { route: { concurrency: 10 } },
    );
    // One batch, keys apart: the three run at once.
    await h.bus.publish(h.topic, [1, 2, 3].map((n) => h.codec.encode({ n }, { key: `k${n}` })));
    await h.done.untilCount(3, 5_000);
    await h.stop();
    expect(events.slice(0, 4)).toEqual(['open', 'half-open', 'open', 'half-open']);
    expect(events.at(-1)).toBe('closed');
    expect(mostInHalfOpen).toBe(2);
  });

  it('with probes > 1, lets the next message in after a held message probed successfully (intake does not stay paused)', async () => {
    const breaker = circuitBreaker({ failureThreshold: 1, resetTimeoutMs: 10, probes: 2 });
    const closed = nextEvent(breaker, 'closed');
    let failed = false;
    const h = await harness('breaker-probes-resume', [breaker], async (msg, _ctx, h) => {
      if (!failed) {
        failed = true;
        throw new Error('downstream down'); // opens; this message is held and probes first
      }
      record(h.done, msg);
    });
    await h.publish([1, 2, 3].map((n) => ({ n })));
    await closed;
    await h.done.untilCount(3, 5_000);
    await h.stop();
    expect(h.router.inspector.handler('breaker-probes-resume')?.state).toBe('stopped');
  });

  it('lets the next message in when a probe ends without a verdict (a bad message) and none is held', async () => {
    const breaker = circuitBreaker({ failureThreshold: 1, resetTimeoutMs: 10 });
    const closed = nextEvent(breaker, 'closed');
    let calls = 0;
    const h = await harness<{ n: number }>('breaker-probe-abandoned', [deadLetter(), breaker], async (msg, _ctx, h) => {
      calls++;
      if (calls === 1) throw new Error('downstream down'); // opens; held, it probes next
      if (calls === 2) throw new PermanentError('bad message'); // the probe says nothing of the downstream
      record(h.done, msg);
    });
    await h.publish([1, 2].map((n) => ({ n })));
    await h.dlq.untilCount(1, 5_000);
    await closed;
    await h.done.untilCount(1, 5_000);
    await h.stop();
    expect(h.done.messages.map((m) => h.codec.decode(m).n)).toEqual([2]);
  });

  it('lets a held message go as soon as the router stops: stop() does not wait the drain time, nothing is dead-lettered, the message comes again', async () => {
    const bus = memory();
    const topic = `breaker-stop.${process.pid}`;
    const breaker = circuitBreaker({ failureThreshold: 1, resetTimeoutMs: 60_000 });
    const opened = nextEvent(breaker, 'open');
    const dlq = new Inbox();
    await bus.subscribe(`${topic}.dlq`, { group: 'dlq-watch', from: 'earliest' }, async (m: Message) => dlq.push(m));
    const router = new Router({ logger: quiet, drainTimeoutMs: 10_000, closeTransports: false })
      .use(retry({ attempts: 3, initialDelayMs: 1 }), deadLetter({ maxAttempts: 1 }))
      .handle('breaker-stop', { from: bus, topic, group: 'g', use: [breaker] }, async () => {
        throw new Error('downstream down');
      });
    await router.start();
    await bus.publish(topic, { payload: new Uint8Array([1]) });
    await opened;
    expect(router.inspector.handler('breaker-stop')?.counters['held-by-breaker']).toBe(1);
    const began = performance.now();
    await router.stop();
    expect(performance.now() - began).toBeLessThan(2_000); // not the 10 s drain time
    const counters = router.inspector.handler('breaker-stop')!.counters;
    expect(counters).toMatchObject({ failed: 1, succeeded: 0 });
    expect([counters.retried ?? 0, counters['dead-lettered'] ?? 0]).toEqual([0, 0]);
    expect(dlq.messages).toHaveLength(0);
    // Not acknowledged: the group gets it again.
    const again = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m: Message) => again.push(m));
    await again.untilCount(1, 5_000);
    expect(again.messages[0]!.attempt).toBe(2);
    await bus.close();
  });

  it('drops a held message whose timeout() fired: the attempt never runs the handler later, only its redelivery does', async () => {
    const breaker = circuitBreaker({ failureThreshold: 1, resetTimeoutMs: 150 });
    const closed = nextEvent(breaker, 'closed');
    const runs: Array<{ delivery: number; aborted: boolean }> = [];
    // The order docs/middleware.md recommends: timeout() outside, the breaker in the route's use.
    const h = await harness(
      'breaker-timeout',
      [timeout(40), retry({ attempts: 2, initialDelayMs: 1 }), deadLetter()],
      async (msg, ctx, h) => {
        runs.push({ delivery: msg.attempt, aborted: ctx.signal.aborted });
        if (runs.length === 1) throw new Error('downstream down');
        record(h.done, msg);
      },
      { route: { use: [breaker] } },
    );
    await h.publish({ n: 1 });
    await closed;
    await h.done.untilCount(1, 5_000);
    await h.stop();
    // The first run opened the circuit; deliveries timed out while held; one run closed it.
    expect(runs).toHaveLength(2);
    expect(runs[1]!.delivery).toBeGreaterThan(1);
    expect(runs[1]!.aborted).toBe(false);
    expect(h.router.inspector.handler('breaker-timeout')?.counters.failed).toBe(runs[1]!.delivery - 1);
    expect(h.dlq.messages).toHaveLength(0);
  });
});

/** Resolves once `handler` of `router` is in `state`. */
function handlerState(router: Router, handler: string, state: string): Promise<void> {
  return new Promise((resolve) => {
    if (router.inspector.handler(handler)?.state === state) return resolve();
    const off = router.inspector.on((e) => {
      if (e.type === 'handler-state' && e.handler === handler && e.state === state) {
        off();
        resolve();
      }
    });
  });
}

describe('circuitBreaker() shared and reused', () => {
  it('pauses every handler sharing it when it opens, one that had no message yet included, and resumes them when it closes', async () => {
    const bus = memory();
    const topic = `breaker-shared.${process.pid}`;
    // Long enough that the circuit is still in its first open period when "idle" gets messages.
    const breaker = circuitBreaker({ failureThreshold: 1, resetTimeoutMs: 500 });
    const events: CircuitEvent['type'][] = [];
    breaker.on((e) => events.push(e.type));
    const opened = nextEvent(breaker, 'open');
    const closed = nextEvent(breaker, 'closed');
    let downstreamUp = false;
    const ranWhileOpen: string[] = [];
    const done = new Inbox();
    const router = new Router({ logger: quiet, closeTransports: false });
    for (const name of ['first', 'idle']) {
      router.handle(name, { from: bus, topic: `${topic}.${name}`, group: 'g', concurrency: 4, use: [breaker] }, async (msg) => {
        if (breaker.state === 'open') ranWhileOpen.push(name);
        if (!downstreamUp) throw new Error('downstream down');
        done.push({ ...msg, payload: msg.bytes });
      });
    }
    await router.start();
    await bus.publish(`${topic}.first`, { payload: new Uint8Array([0]) });
    await opened;
    // "idle" has not had a message: sharing the circuit, it pauses too rather than take messages it can only hold.
    await bus.publish(`${topic}.idle`, [1, 2, 3, 4, 5, 6].map((n) => ({ payload: new Uint8Array([n]) })));
    await handlerState(router, 'idle', 'paused');
    // Paused by the opening itself, not only once a failed probe opened the circuit again.
    expect(events).toEqual(['open']);
    expect(router.inspector.handler('first')?.state).toBe('paused');
    downstreamUp = true;
    await closed;
    await done.untilCount(7, 5_000);
    expect(router.inspector.handlers().map((h) => h.state)).toEqual(['running', 'running']);
    await router.stop();
    await bus.close();
    expect(ranWhileOpen).toEqual([]);
    expect(events).toEqual(['open', 'half-open', 'closed']);
    expect(router.inspector.handler('idle')?.counters).toMatchObject({ received: 6, succeeded: 6 });
  });

  it('does nothing more once its router stopped (no half-open, nothing resumed), and works again for a new router', async () => {
    const bus = memory();
    const topic = `breaker-reused.${process.pid}`;
    const resetTimeoutMs = 50;
    const breaker = circuitBreaker({ failureThreshold: 1, resetTimeoutMs });
    const events: CircuitEvent['type'][] = [];
    breaker.on((e) => events.push(e.type));
    const opened = nextEvent(breaker, 'open');
    const first = new Router({ logger: quiet, closeTransports: false }).handle('first', { from: bus, topic, group: 'g', use: [breaker] }, async () => {
      throw new Error('downstream down');
    });
    await first.start();
    await bus.publish(topic, { payload: new Uint8Array([1]) });
    await opened;
    await first.stop();
    // Nothing to await here but the absence of events: wait well past the reset time.
    await sleep(resetTimeoutMs * 4);
    expect(events).toEqual(['open']);
    expect(breaker.state).toBe('open');
    expect(first.inspector.handler('first')?.state).toBe('stopped');

    // A new router using the same instance: the circuit is still open, so it probes, then closes.
    const closed = nextEvent(breaker, 'closed');
    const done = new Inbox();
    const second = new Router({ logger: quiet, closeTransports: false }).handle('second', { from: bus, topic, group: 'g', use: [breaker] }, async (msg) =>
      done.push({ ...msg, payload: msg.bytes }),
    );
    await second.start();
    await closed;
    await done.untilCount(1, 5_000); // the message the first router left unacknowledged
    expect(second.inspector.handler('second')?.state).toBe('running');
    await second.stop();
    await bus.close();
    expect(events).toEqual(['open', 'half-open', 'closed']);
  });

  it('keeps a handler sharing it from taking any message while it is open, though that handler had none before (router calls attach())', async () => {
    const bus = memory();
    const topic = `breaker-attached.${process.pid}`;
    const breaker = circuitBreaker({ failureThreshold: 1, resetTimeoutMs: 60_000 });
    const opened = nextEvent(breaker, 'open');
    const router = new Router({ logger: quiet, closeTransports: false })
      .handle('first', { from: bus, topic: `${topic}.first`, group: 'g', use: [breaker] }, async () => {
        throw new Error('downstream down');
      })
      .handle('idle', { from: bus, topic: `${topic}.idle`, group: 'g', concurrency: 4, use: [breaker] }, async () => {});
    await router.start();
    await bus.publish(`${topic}.first`, { payload: new Uint8Array([0]) });
    await opened;
    expect(router.inspector.handler('idle')?.state).toBe('paused');
    const watched = new Inbox(); // another group sees them: the bus did hand them out
    await bus.subscribe(`${topic}.idle`, { group: 'watch', from: 'earliest' }, async (m: Message) => watched.push(m));
    await bus.publish(`${topic}.idle`, [1, 2, 3, 4].map((n) => ({ payload: new Uint8Array([n]) })));
    await watched.untilCount(4, 5_000);
    await router.stop();
    await bus.close();
    expect(router.inspector.handler('idle')?.counters.received).toBe(0);
  });
});

describe('circuitBreaker() listeners', () => {
  it('logs a listener that throws and goes on: the circuit half-opens and closes, nothing crashes, the messages are handled', async () => {
    const bus = memory();
    const topic = `breaker-listener.${process.pid}`;
    const logged: string[] = [];
    const logger = { ...quiet, error: (message: string) => void logged.push(message) };
    const breaker = circuitBreaker({
      failureThreshold: 1,
      resetTimeoutMs: 10,
      onStateChange: (e) => {
        throw new Error(`dashboard down (${e.type})`);
      },
    });
    const closed = nextEvent(breaker, 'closed');
    const done = new Inbox();
    let calls = 0;
    const router = new Router({ logger, closeTransports: false }).handle('breaker-listener', { from: bus, topic, group: 'g', use: [breaker] }, async (msg) => {
      if (++calls === 1) throw new Error('downstream down'); // opens; held, it probes once half-open
      done.push({ ...msg, payload: msg.bytes });
    });
    await router.start();
    await bus.publish(topic, [1, 2].map((n) => ({ payload: new Uint8Array([n]) })));
    await done.untilCount(2, 5_000);
    await closed;
    await router.stop();
    await bus.close();
    expect(router.inspector.handler('breaker-listener')?.counters).toMatchObject({ succeeded: 2, failed: 0 });
    expect(logged).toEqual(['open', 'half-open', 'closed'].map((type) => expect.stringContaining(`"${type}" event threw (the circuit went on regardless): dashboard down (${type})`)));
  });
});
