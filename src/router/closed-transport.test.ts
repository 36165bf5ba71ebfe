import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Transport } from '../core/transport.ts';
import { Inbox } from '../testing/inbox.ts';
import { embedded } from '../transports/embedded/index.ts';
import { memory } from '../transports/memory/index.ts';
import type { RouterEvent } from './inspector.ts';
import { Router } from './router.ts';
import type { Logger } from './types.ts';

let seq = 0;
const topic = (name: string): string => `closed-transport.${process.pid}.${++seq}.${name}`;

/** The first `handler-state: failed` event of `router`. */
function failed(router: Router): Promise<Extract<RouterEvent, { type: 'handler-state' }>> {
  return new Promise((resolve) => {
    const off = router.inspector.on((e) => {
      if (e.type === 'handler-state' && e.state === 'failed') {
        off();
        resolve(e);
      }
    });
  });
}

function keeping(errors: string[]): Logger {
  return { debug() {}, info() {}, warn() {}, error: (message) => void errors.push(message) };
}

const transports: Array<{ name: string; make(): { bus: Transport; dispose(): void } }> = [
  { name: 'memory', make: () => ({ bus: memory(), dispose() {} }) },
  {
    name: 'embedded',
    make() {
      const dir = mkdtempSync(join(tmpdir(), 'switchyard-closed-transport-'));
      return { bus: embedded({ dir }), dispose: () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
];

describe.each(transports)('Router when a transport it uses is closed under it ($name)', ({ make }) => {
  it('a handler whose transport another router closed (one transport, two routers) shows as failed and says why, not running', async () => {
    const { bus, dispose } = make();
    const errors: string[] = [];
    const first = new Router({ logger: keeping([]) }).handle('first', { from: bus, topic: topic('a'), group: 'g' }, () => {});
    const second = new Router({ logger: keeping(errors) }).handle('second', { from: bus, topic: topic('b'), group: 'g' }, () => {});
    const secondFailed = failed(second);
    await first.start();
    await second.start();
    await first.stop(); // closes the shared transport (closeTransports defaults to true)
    const event = await secondFailed;
    expect(event.error?.message).toMatch(/transport ".+" was closed while the router was running/);
    expect(second.inspector.handler('second')).toMatchObject({ state: 'failed', lastError: { message: event.error?.message } });
    expect(errors).toEqual([expect.stringContaining('give those routers closeTransports: false')]);
    await second.stop();
    dispose();
  });

  it('a handler whose "to" transport was closed stops taking messages: it does not run again and again for one it cannot finish', async () => {
    const { bus, dispose } = make();
    const out = memory();
    const t = topic('in');
    const errors: string[] = [];
    let runs = 0;
    const router = new Router({ logger: keeping(errors), closeTransports: false }).handle('relay', { from: bus, topic: t, group: 'g', to: out }, (msg, ctx) => {
      runs++;
      ctx.publish('relayed', { payload: msg.bytes });
    });
    const relayFailed = failed(router);
    await router.start();
    await out.close();
    await bus.publish(t, [1, 2, 3].map((n) => ({ payload: new Uint8Array([n]) })));
    const event = await relayFailed;
    expect(event.error?.message).toMatch(/transport "memory" it publishes to was closed while the router was running/);
    await router.stop();
    expect(runs).toBe(1);
    expect(router.inspector.handler('relay')?.counters).toMatchObject({ succeeded: 0, failed: 1 });
    expect(errors).toHaveLength(1);
    // Nothing was acknowledged: the group has all three messages still.
    const again = new Inbox();
    await bus.subscribe(t, { group: 'g', from: 'earliest' }, async (m) => again.push(m));
    await again.untilCount(3, 5_000);
    await bus.close();
    dispose();
  });
});
