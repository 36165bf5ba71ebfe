import { afterEach, describe, expect, it } from 'vitest';
import { isTimeoutError } from '../../core/errors.ts';
import { faultProxy } from '../../testing/fault-proxy.ts';
import { defaultAmqpUrl, rabbitmq } from './index.ts';

// The broker gone (a proxy in the path, closed) while a publish waits for its confirm: the client
// retries that publish as long as it keeps reconnecting, and close() used to wait for it for ever.
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('rabbitmq close() with the broker gone', () => {
  it('after a publish timed out, close() returns within that publish timeout instead of waiting for the broker', async () => {
    const broker = new URL(defaultAmqpUrl());
    const proxy = await faultProxy({ target: { host: broker.hostname, port: Number(broker.port || 5672) } });
    cleanups.push(() => proxy.close());
    const url = new URL(broker.href);
    url.hostname = proxy.host;
    url.port = String(proxy.port);
    const bus = rabbitmq({ url: url.href, publishTimeoutMs: 1_000, reconnectDelayMs: { min: 100, max: 200 } });
    await bus.connect();
    const topic = `close-gone.${process.pid}.${Date.now().toString(36)}`;
    await bus.publish(topic, { payload: new Uint8Array([1]) });
    await proxy.close(); // the broker is gone for this transport

    const published = await bus.publish(topic, { payload: new Uint8Array([2]) }).then(() => undefined, (error: unknown) => error);
    expect(isTimeoutError(published)).toBe(true);
    // A bound far above the 1 s it should take, so a hang fails the test rather than the run.
    const outcome = await Promise.race([bus.close().then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 15_000, 'still closing'))]);
    expect(outcome).toBe('closed');
  });
});
