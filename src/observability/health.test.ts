import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError } from '../core/errors.ts';
import type { Transport } from '../core/transport.ts';
import { Router } from '../router/router.ts';
import { spawnOwner } from '../transports/embedded/fixtures/spawn-owner.ts';
import { embedded } from '../transports/embedded/index.ts';
import { memory } from '../transports/memory/index.ts';
import { health, healthHandler } from './health.ts';
import { routes } from './http.ts';
import { instrument } from './instrument.ts';
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
    expect((await fetch(http.url('/readyz'), { method: 'HEAD' })).status).toBe(200);
    const post = await fetch(http.url('/readyz'), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');

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

  it('refuses a stallMs or timeoutMs that is no wait (0, negative, NaN, Infinity, past the timer limit) and a check that is not a function, naming each', async () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '5000']) {
      const shown = typeof bad === 'number' ? String(bad) : JSON.stringify(bad);
      expect(() => health({ stallMs: bad as number })).toThrow(`health: stallMs must be a number of ms above 0, up to 2147483647, got ${shown}`);
      expect(() => health({ timeoutMs: bad as number })).toThrow(`health: timeoutMs must be a number of ms above 0, up to 2147483647, got ${shown}`);
    }
    expect(() => health({ stallMs: -5, timeoutMs: 0, checks: { db: 'SELECT 1' as unknown as () => unknown } })).toThrow(
      /3 problems[\s\S]*stallMs[\s\S]*timeoutMs[\s\S]*checks\["db"\] must be a function that throws \(or rejects\) when not ready, got string/,
    );
    expect(() => health({ stallMs: 2 ** 31 - 1, timeoutMs: 1 })).not.toThrow();
    // What a timeout past the timer limit did: Node fired it after 1 ms, so a check taking 20 ms "timed out".
    const slow = health({ timeoutMs: 2 ** 31 - 1, checks: { slow: () => new Promise((resolve) => setTimeout(resolve, 20)) } });
    expect((await slow.check()).ready).toBe(true);
  });

  it('reports a custom check that throws as not ready, naming why', async () => {
    const report = await health({ checks: { database: () => Promise.reject(new Error('connection refused')) } }).check();
    expect(report).toMatchObject({ live: true, ready: false, components: [{ name: 'database', kind: 'check', ready: false, detail: 'connection refused' }] });
  });

  it('takes a transport that says it is not connected as not ready at once, though connect() resolves', async () => {
    const state = { connected: false as boolean | undefined, connect: () => Promise.resolve() };
    const t = fake(state);
    const h = health({ transports: [t], timeoutMs: 10_000 });
    expect(await h.check()).toMatchObject({ live: true, ready: false, components: [{ name: 'fake', live: true, ready: false, detail: expect.stringMatching(/disconnected/) }] });
    // Nor is it waited for when its connect() hangs (a reconnect in progress): no 10 s probe.
    state.connect = () => new Promise(() => {});
    const t0 = performance.now();
    expect((await h.check()).ready).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1_000);
    state.connected = true;
    state.connect = () => Promise.resolve();
    expect((await h.check()).ready).toBe(true);
    // A transport that cannot tell is judged by its connect() probe, as before.
    state.connected = undefined;
    state.connect = () => new Promise(() => {});
    expect((await health({ transports: [t], timeoutMs: 50 }).check()).components[0]).toMatchObject({ ready: false, detail: 'the check timed out after 50 ms' });
  });

  it('is ready when connect() connects the transport within the check, and not live when it is closed', async () => {
    const state = { connected: false as boolean | undefined, connect: async () => void (state.connected = true) };
    expect((await health({ transports: [fake(state)] }).check()).ready).toBe(true);
    state.connected = false;
    state.connect = () => Promise.reject(new ClosedError('fake transport'));
    expect((await health({ transports: [fake(state)] }).check()).components[0]).toMatchObject({ live: false, ready: false, detail: expect.stringMatching(/closed/) });
  });

  it('sees connected through instrument()', async () => {
    const state = { connected: true as boolean | undefined, connect: () => Promise.resolve() };
    const wrapped = instrument(fake(state), { registry: false });
    expect(wrapped.connected).toBe(true);
    state.connected = false;
    expect(wrapped.connected).toBe(false);
    expect((await health({ transports: [wrapped] }).check()).ready).toBe(false);
  });

  it('memory: connected until closed', async () => {
    const bus = memory();
    const h = health({ transports: [bus] });
    expect(bus.connected).toBe(true);
    expect((await h.check()).ready).toBe(true);
    await bus.close();
    expect(bus.connected).toBe(false);
    expect(await h.check()).toMatchObject({ live: false, ready: false });
  });

  it('embedded: owner and socket client are connected while open; a client stays ready across its owner dying', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-health-'));
    const owner = await spawnOwner(dir);
    cleanups.push(() => (owner.child.exitCode === null && owner.child.signalCode === null ? owner.stop() : undefined));
    const client = embedded({ dir });
    cleanups.push(() => client.close());
    expect(client.connected).toBe(false);
    await client.connect();
    expect(client.role).toBe('client');
    expect(client.connected).toBe(true);
    const h = health({ transports: [client] });
    expect((await h.check()).ready).toBe(true);

    const exited = new Promise((resolve) => owner.child.once('exit', resolve));
    owner.child.kill('SIGKILL');
    await exited;
    // The client takes the directory over (or reconnects); until then it is not connected.
    const deadline = Date.now() + 10_000;
    while (!(client.role === 'owner' && (await h.check()).ready) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(client.role).toBe('owner');
    expect(client.connected).toBe(true);
    expect((await h.check()).ready).toBe(true);

    await client.close();
    expect(client.connected).toBe(false);
    expect(await h.check()).toMatchObject({ live: false, ready: false });
  });
});

/** A transport whose `connected` and `connect()` the test sets. */
function fake(state: { connected: boolean | undefined; connect: () => Promise<void> }): Transport {
  return {
    name: 'fake',
    capabilities: memory().capabilities,
    get connected() {
      return state.connected;
    },
    connect: () => state.connect(),
    publish: () => Promise.resolve(),
    subscribe: () => Promise.reject(new Error('not in this test')),
    close: () => Promise.resolve(),
  };
}
