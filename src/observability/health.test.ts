import { afterEach, describe, expect, it } from 'vitest';
import { Router } from '../router/router.ts';
import { memory } from '../transports/memory/index.ts';
import { health, healthHandler } from './health.ts';
import { routes } from './http.ts';
import { quiet, serve } from './harness.test-support.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('health', () => {
  it('is live and ready with a running router and a connected transport, over HTTP too', async () => {
    const bus = memory();
    const router = new Router({ logger: quiet });
    router.handle('ok', { from: bus, topic: 'health.ok', group: 'g' }, async () => {});
    await router.start();
    cleanups.push(() => router.stop());
    const h = health({ routers: [router], transports: [bus] });
    const http = await serve(routes({ '/livez': healthHandler(h, 'live'), '/readyz': healthHandler(h) }));
    cleanups.push(http.close);
    const ready = await fetch(http.url('/readyz'));
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { components: Array<{ name: string; ready: boolean }> };
    expect(body.components.map((c) => [c.name, c.ready])).toEqual([
      ['router', true],
      ['router/ok', true],
      ['memory', true],
    ]);
    expect((await fetch(http.url('/livez'))).status).toBe(200);
    expect((await fetch(http.url('/other'))).status).toBe(404);

    await router.stop(); // closes the transport too
    expect((await fetch(http.url('/readyz'))).status).toBe(503);
    const live = (await (await fetch(http.url('/livez'))).json()) as { live: boolean; components: Array<{ name: string; live: boolean; detail?: string }> };
    expect(live.live).toBe(false); // a closed transport will not come back by itself
    expect(live.components.find((c) => c.name === 'memory')).toMatchObject({ live: false, detail: expect.stringMatching(/closed/) });
  });

  it('detects a stalled handler: messages in flight and nothing settled for stallMs', async () => {
    const bus = memory({ drainTimeoutMs: 50 });
    const gate = Promise.withResolvers<void>();
    const entered = Promise.withResolvers<void>();
    const router = new Router({ logger: quiet, drainTimeoutMs: 50 });
    router.handle('stuck', { from: bus, topic: 'health.stuck', group: 'g' }, async () => {
      entered.resolve();
      await gate.promise;
    });
    await router.start();
    cleanups.push(() => router.stop());
    cleanups.push(() => gate.resolve());
    const h = health({ routers: [router], stallMs: 30_000 });
    await bus.publish('health.stuck', { payload: new Uint8Array(1) });
    await entered.promise;
    const t0 = Date.now();
    expect((await h.check(t0)).live).toBe(true);
    expect((await h.check(t0 + 29_999)).live).toBe(true);
    const stalled = await h.check(t0 + 30_000);
    expect(stalled.live).toBe(false);
    expect(stalled.components.find((c) => c.name === 'router/stuck')?.detail).toMatch(/stalled: 1 in flight/);
    gate.resolve();
  });

  it('reports a custom check that throws as not ready, naming why', async () => {
    const report = await health({ checks: { database: () => Promise.reject(new Error('connection refused')) } }).check();
    expect(report).toMatchObject({ live: true, ready: false, components: [{ name: 'database', kind: 'check', ready: false, detail: 'connection refused' }] });
  });
});
