import { describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { isConfigError } from '../core/errors.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory } from '../transports/memory/index.ts';
import type { RouterEvent } from './inspector.ts';
import { Router } from './router.ts';
import type { IntakeControl, Logger, Middleware } from './types.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const codec = json<{ n: number }>();
let seq = 0;
const topic = (name: string): string => `router-test.${process.pid}.${++seq}.${name}`;

describe('Router', () => {
  it('hands each handler its payload decoded by the route codec, and acknowledges after success', async () => {
    const bus = memory();
    const t = topic('orders');
    const got = new Inbox();
    const seen: number[] = [];
    const router = new Router({ logger: quiet }).handle('sum', { from: bus, topic: t, group: 'g', codec }, async (msg) => {
      seen.push(msg.payload.n);
      got.push({ ...msg, payload: msg.bytes });
    });
    await router.start();
    await bus.publish(t, [codec.encode({ n: 1 }), codec.encode({ n: 2 })]);
    await got.untilCount(2, 5_000);
    expect(seen).toEqual([1, 2]);
    await router.stop();
    expect(router.inspector.handler('sum')?.counters).toMatchObject({ received: 2, succeeded: 2, failed: 0 });
  });

  it('logs a message that fails on every attempt a few times, not once per redelivery', async () => {
    const bus = memory();
    const t = topic('poison');
    const warnings: string[] = [];
    const logger: Logger = { ...quiet, warn: (message) => void warnings.push(message) };
    let attempts = 0;
    const enough = Promise.withResolvers<void>();
    const router = new Router({ logger }).handle('poisoned', { from: bus, topic: t, group: 'g', codec }, async () => {
      if (++attempts === 500) enough.resolve();
      throw new Error('fails every time');
    });
    await router.start();
    await bus.publish(t, codec.encode({ n: 1 }));
    await enough.promise;
    await router.stop();
    expect(router.inspector.handler('poisoned')?.counters.failed).toBeGreaterThanOrEqual(500);
    const failures = warnings.filter((w) => w.startsWith('handler "poisoned" failed'));
    expect(failures).toHaveLength(10); // the first window's lines; the rest within 10 s are counted, not logged
    expect(failures[0]).toMatch(/^handler "poisoned" failed on message \S+ \(attempt 1\); it will be delivered again$/);
  });

  it('sends ctx.publish() messages only after the handler succeeded, to the route’s "to" transport', async () => {
    const from = memory();
    const to = memory();
    const [t, out] = [topic('in'), topic('out')];
    const outbox = new Inbox();
    await to.subscribe(out, { group: 'watch' }, async (m) => outbox.push(m));
    let failFirst = true;
    const done = new Inbox();
    const router = new Router({ logger: quiet, closeTransports: false }).handle('relay', { from, to, topic: t, group: 'g', codec }, async (msg, ctx) => {
      ctx.publish(out, codec.encode({ n: msg.payload.n * 10 }));
      if (failFirst) {
        failFirst = false;
        throw new Error('boom after publish');
      }
      done.push({ ...msg, payload: msg.bytes });
    });
    await router.start();
    await from.publish(t, codec.encode({ n: 4 }));
    await done.untilCount(1, 5_000);
    await outbox.untilCount(1, 5_000);
    await router.stop();
    expect(outbox.messages.map((m) => codec.decode(m).n)).toEqual([40]);
    expect(router.inspector.handler('relay')?.counters).toMatchObject({ received: 2, succeeded: 1, failed: 1, published: 1 });
    await Promise.all([from.close(), to.close()]);
  });

  it('gives messages published without an id one derived from the handled message: a redelivery publishes the same ids', async () => {
    const from = memory();
    const to = memory();
    const [t, out] = [topic('in'), topic('out')];
    const outbox = new Inbox();
    await to.subscribe(out, { group: 'watch' }, async (m) => outbox.push(m));
    const handled = new Inbox();
    const router = new Router({ logger: quiet, closeTransports: false }).handle('split', { from, to, topic: t, group: 'g', codec }, async (msg, ctx) => {
      ctx.publish(out, [codec.encode({ n: 1 }), codec.encode({ n: 2 }), codec.encode({ n: 3 }, { id: 'chosen' })]);
      handled.push({ ...msg, payload: msg.bytes });
    });
    await router.start();
    // The same message twice, as after a crash between the publish and the acknowledgement.
    await from.publish(t, codec.encode({ n: 4 }, { id: 'order-7' }));
    await from.publish(t, codec.encode({ n: 4 }, { id: 'order-7' }));
    await handled.untilCount(2, 5_000);
    await outbox.untilCount(6, 5_000);
    await router.stop();
    const ids = outbox.messages.map((m) => m.id);
    expect(ids.slice(0, 3)).toEqual(ids.slice(3, 6));
    expect(new Set(ids.slice(0, 3)).size).toBe(3);
    expect(ids[2]).toBe('chosen');
    await Promise.all([from.close(), to.close()]);
  });

  it('runs middleware as an onion: router middleware outermost, then the handler’s own, in order', async () => {
    const bus = memory();
    const t = topic('onion');
    const trace: string[] = [];
    const layer = (name: string): Middleware =>
      async function named(_m, _c, next) {
        trace.push(`${name}>`);
        await next();
        trace.push(`<${name}`);
      };
    const done = new Inbox();
    const router = new Router({ logger: quiet })
      .use(layer('a'), layer('b'))
      .handle('h', { from: bus, topic: t, group: 'g', use: [layer('c')] }, async (msg) => {
        trace.push('handler');
        done.push({ ...msg, payload: msg.bytes });
      });
    await router.start();
    await bus.publish(t, { payload: new Uint8Array([1]) });
    await done.untilCount(1, 5_000);
    await router.stop();
    expect(trace).toEqual(['a>', 'b>', 'c>', 'handler', '<c', '<b', '<a']);
    expect(router.inspector.handler('h')?.middleware).toEqual(['named', 'named', 'named']);
  });

  it('calls the observers of leading middleware around each delivery instead of running them; later ones run as layers', async () => {
    const bus = memory();
    const t = topic('observers');
    const trace: string[] = [];
    const watching = (name: string): Middleware =>
      Object.assign(
        async function watch(_m: unknown, _c: unknown, next: () => Promise<void>) {
          trace.push(`${name} as layer>`);
          await next();
          trace.push(`<${name} as layer`);
        },
        {
          observer: {
            started: () => (trace.push(`${name} started`), name.charCodeAt(0)),
            ended: (_m: unknown, _c: unknown, mark: number, succeeded: boolean) =>
              void trace.push(`${name} ended ${succeeded ? 'ok' : 'failed'} ${mark === name.charCodeAt(0)}`),
          },
        },
      );
    const skipped: Middleware = Object.assign(
      async function never() {
        throw new Error('a layer that says skip must not run');
      },
      { skip: () => true },
    );
    let fail = true;
    const done = new Inbox();
    const router = new Router({ logger: quiet })
      .use(watching('a'), watching('b'), skipped)
      .handle('h', { from: bus, topic: t, group: 'g', use: [watching('c')] }, async (msg) => {
        trace.push('handler');
        if (fail) {
          fail = false;
          throw new Error('first attempt fails');
        }
        done.push({ ...msg, payload: msg.bytes });
      });
    await router.start();
    await bus.publish(t, { payload: new Uint8Array([1]) });
    await done.untilCount(1, 5_000);
    await router.stop();
    const once = ['a started', 'b started', 'c as layer>', 'handler']; // ended gets what started returned
    expect(trace).toEqual([...once, 'b ended failed true', 'a ended failed true', ...once, '<c as layer', 'b ended ok true', 'a ended ok true']);
    expect(router.inspector.handler('h')?.middleware).toEqual(['watch', 'watch', 'never', 'watch']);
  });

  it('consumes topic patterns', async () => {
    const bus = memory();
    const base = topic('p');
    const got = new Inbox();
    const router = new Router({ logger: quiet }).handle('all', { from: bus, topic: `${base}.>`, group: 'g' }, async (msg) => {
      got.push({ ...msg, payload: msg.bytes });
    });
    await router.start();
    await bus.publish(`${base}.a`, { payload: new Uint8Array([1]) });
    await bus.publish(`${base}.b.c`, { payload: new Uint8Array([2]) });
    await got.untilCount(2, 5_000);
    await router.stop();
    expect(got.messages.map((m) => m.topic).sort()).toEqual([`${base}.a`, `${base}.b.c`]);
  });

  it('reports every problem with a route in one ConfigError', () => {
    const router = new Router({ logger: quiet });
    let error: unknown;
    try {
      router.handle('bad', { from: {} as never, topic: 'a..b', group: '', concurrency: 0 }, undefined as never);
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    const problems = (error as { problems: string[] }).problems;
    expect(problems.length).toBeGreaterThanOrEqual(5);
    expect(problems.join('\n')).toMatch(/"from" must be a transport/);
    expect(problems.join('\n')).toMatch(/empty token/);
    expect(problems.join('\n')).toMatch(/group must be/);
    expect(problems.join('\n')).toMatch(/concurrency/);
    expect(problems.join('\n')).toMatch(/handler must be a function/);
    router.handle('ok', { from: memory(), topic: 'a', group: 'g' }, async () => {});
    expect(() => router.handle('ok', { from: memory(), topic: 'a', group: 'g' }, async () => {})).toThrow(/already registered/);
  });

  it('run({ signal }) drains in-flight handlers on stop, then closes the transports', async () => {
    const bus = memory();
    const t = topic('drain');
    const started = new Inbox();
    let finished = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const router = new Router({ logger: quiet }).handle('slow', { from: bus, topic: t, group: 'g', concurrency: 4 }, async (msg) => {
      started.push({ ...msg, payload: msg.bytes });
      await gate;
      finished++;
    });
    const controller = new AbortController();
    const events: RouterEvent[] = [];
    router.inspector.on((e) => events.push(e));
    const running = router.run({ signal: controller.signal, processSignals: [] });
    await new Promise<void>((resolve) => {
      const off = router.inspector.on((e) => e.type === 'router-state' && e.state === 'running' && (off(), resolve()));
    });
    await bus.publish(t, [1, 2, 3].map((n) => ({ key: `k${n}`, payload: new Uint8Array([n]) })));
    await started.untilCount(3, 5_000);
    controller.abort();
    await new Promise<void>((resolve) => {
      const off = router.inspector.on((e) => e.type === 'router-state' && e.state === 'stopping' && (off(), resolve()));
    });
    expect(router.inspector.handler('slow')?.inFlight).toBe(3);
    release();
    await running;
    expect(finished).toBe(3);
    expect(router.inspector.state).toBe('stopped');
    expect(router.inspector.handler('slow')).toMatchObject({ state: 'stopped', inFlight: 0, counters: { succeeded: 3 } });
    await expect(bus.publish(t, { payload: new Uint8Array([9]) })).rejects.toThrow(/closed/);
    expect(events.filter((e) => e.type === 'router-state').map((e) => (e as { state: string }).state)).toEqual(['starting', 'running', 'stopping', 'stopped']);
  });

  it('aborts handler signals when the drain time runs out, and the message is delivered again later', async () => {
    const bus = memory({ drainTimeoutMs: 60_000 });
    const t = topic('stuck');
    const started = new Inbox();
    let aborted = false;
    const router = new Router({ logger: quiet, drainTimeoutMs: 50, closeTransports: false }).handle('stuck', { from: bus, topic: t, group: 'g' }, async (msg, ctx) => {
      started.push({ ...msg, payload: msg.bytes });
      await new Promise<void>((_, reject) =>
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
          reject(ctx.signal.reason);
        }),
      );
    });
    await router.start();
    await bus.publish(t, { payload: new Uint8Array([1]) });
    await started.untilCount(1, 5_000);
    await router.stop();
    expect(aborted).toBe(true);
    // The same group picks the message up again.
    const again = new Inbox();
    await bus.subscribe(t, { group: 'g' }, async (m) => again.push(m));
    await again.untilCount(1, 5_000);
    expect(again.messages[0]!.attempt).toBe(2);
    await bus.close();
  });

  it('closes anyway when a handler ignores its aborted signal past abortGraceMs: logs it, and its late result is not acknowledged', async () => {
    const bus = memory({ drainTimeoutMs: 60_000 });
    const t = topic('ignores-signal');
    const started = new Inbox();
    let finish!: () => void;
    const never = new Promise<void>((resolve) => (finish = resolve));
    const errors: Array<{ message: string; fields?: Record<string, unknown> }> = [];
    const logger: Logger = { ...quiet, error: (message, fields) => errors.push({ message, fields }) };
    const router = new Router({ logger, drainTimeoutMs: 30, abortGraceMs: 30, closeTransports: false }).handle('deaf', { from: bus, topic: t, group: 'g' }, async (msg) => {
      started.push({ ...msg, payload: msg.bytes });
      await never; // a driver call that takes no signal
    });
    await router.start();
    await bus.publish(t, { payload: new Uint8Array([1]) });
    await started.untilCount(1, 5_000);
    await router.stop(); // resolves: drain time, then the grace, then closes
    expect(router.state).toBe('stopped');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^handler "deaf" \(1 message\) still running 30 ms after its signal was aborted: closing anyway\. Those messages are not acknowledged and will be delivered again/);
    expect(errors[0]!.fields).toEqual({ handlers: ['deaf'] });
    // The handler finishes after all: its message is still not acknowledged, so the group gets it again.
    finish();
    const again = new Inbox();
    await bus.subscribe(t, { group: 'g' }, async (m) => again.push(m));
    await again.untilCount(1, 5_000);
    expect(again.messages[0]!.attempt).toBe(2);
    expect(router.inspector.handler('deaf')?.counters).toMatchObject({ succeeded: 0, failed: 1 });
    await bus.close();
  });

  it('a stopped router does not start again, also when stop() came before start(): start() and run() reject with a ConfigError', async () => {
    const bus = memory();
    const t = topic('stopped');
    let handled = 0;
    const early = new Router({ logger: quiet, closeTransports: false }).handle('h', { from: bus, topic: t, group: 'g' }, async () => void handled++);
    await early.stop(); // e.g. SIGTERM while the app still initialises
    await expect(early.start()).rejects.toThrow(/^router\.start: the router was stopped \(stop\(\) was called before start\(\)\); a stopped router does not start again — create a new Router$/);
    await expect(early.run({ processSignals: [] })).rejects.toSatisfy(isConfigError);
    expect(early.state).toBe('stopped');
    expect(() => early.handle('late', { from: bus, topic: t, group: 'g2' }, async () => {})).toThrow(/the router was stopped/);

    const later = new Router({ logger: quiet, closeTransports: false }).handle('h', { from: bus, topic: t, group: 'g3' }, async () => void handled++);
    await later.start();
    await later.stop();
    await expect(later.start()).rejects.toThrow(/^router\.start: the router was stopped; a stopped router does not start again — create a new Router$/);
    expect(later.inspector.handler('h')?.state).toBe('stopped');
    expect(handled).toBe(0);
    await bus.close();
  });

  it('lets middleware pause and resume intake; the inspector shows it', async () => {
    const bus = memory();
    const t = topic('pause');
    const got = new Inbox();
    let intake: IntakeControl | undefined;
    const router = new Router({ logger: quiet }).handle('p', { from: bus, topic: t, group: 'g' }, async (msg, ctx) => {
      got.push({ ...msg, payload: msg.bytes });
      if (got.messages.length === 1) {
        intake = ctx.intake;
        ctx.intake.pause();
      }
    });
    await router.start();
    await bus.publish(t, [1, 2, 3].map((n) => ({ payload: new Uint8Array([n]) })));
    await got.untilCount(1, 5_000);
    await new Promise((r) => setImmediate(r));
    expect(router.inspector.handler('p')?.state).toBe('paused');
    expect(got.messages).toHaveLength(1);
    intake!.resume();
    await got.untilCount(3, 5_000);
    expect(router.inspector.handler('p')?.state).toBe('running');
    await router.stop();
  });

  it('when a handler cannot subscribe, start() rejects and the handlers already started are closed', async () => {
    const bus = memory();
    const broken = memory();
    broken.subscribe = async () => {
      throw new Error('broker refused the subscription');
    };
    const router = new Router({ logger: quiet })
      .handle('ok', { from: bus, topic: topic('ok'), group: 'g' }, async () => {})
      .handle('broken', { from: broken, topic: topic('broken'), group: 'g' }, async () => {});
    await expect(router.start()).rejects.toThrow(/refused/);
    expect(router.inspector.state).toBe('stopped');
    expect(router.inspector.handler('ok')?.state).toBe('stopped');
    await expect(bus.publish(topic('x'), { payload: new Uint8Array() })).rejects.toThrow(/closed/);
    await router.stop(); // idempotent
  });

  it('stop() before start() just marks the router stopped; use() and handle() after start are refused', async () => {
    const router = new Router({ logger: quiet }).handle('h', { from: memory(), topic: topic('h'), group: 'g' }, async () => {});
    await router.start();
    expect(() => router.use(async (_m, _c, next) => next())).toThrow(/already started/);
    expect(() => router.handle('late', { from: memory(), topic: 'a', group: 'g' }, async () => {})).toThrow(/already started/);
    await router.stop();
    const idle = new Router({ logger: quiet });
    await idle.stop();
    expect(idle.inspector.state).toBe('stopped');
  });
});

describe('Router options', () => {
  it('refuses a drain time or abort grace no timer can wait, naming each', () => {
    expect(() => new Router({ drainTimeoutMs: Number.POSITIVE_INFINITY, abortGraceMs: -1 })).toThrow(
      /2 problems:\n- new Router\(\): drainTimeoutMs must be a number of ms from 0 to 2147483647, got Infinity\n- new Router\(\): abortGraceMs must be a number of ms from 0 to 2147483647, got -1/,
    );
    expect(() => new Router({ drainTimeoutMs: 2 ** 31 })).toThrow(/drainTimeoutMs must be a number of ms from 0 to 2147483647, got 2147483648/);
  });
});
