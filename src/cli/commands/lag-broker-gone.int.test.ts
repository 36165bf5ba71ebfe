import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { declareGroup } from '../../core/declare-group.ts';
import { faultProxy } from '../../testing/fault-proxy.ts';
import { defaultAmqpUrl, rabbitmq } from '../../transports/rabbitmq/index.ts';
import { deleteDeclared } from '../../transports/rabbitmq/test-support.ts';

// `switchyard lag --watch` while the broker goes away and comes back: RabbitMQ
// (SWITCHYARD_AMQP_URL) reached through a TCP proxy the test stops and starts again on its port.
const run = randomBytes(4).toString('hex');
const main = fileURLToPath(new URL('../main.ts', import.meta.url));
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** Resolves once `predicate` holds for the text a stream printed so far. */
function waitFor(read: () => string, subscribe: (listener: () => void) => void, predicate: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const check = (): void => void (predicate(read()) && resolve(read()));
    subscribe(check);
    check();
  });
}

describe('switchyard lag --watch of a broker that goes away', () => {
  it('RabbitMQ: prints no stale table and no "not found" while the broker cannot be read, and reads again once it is back', async () => {
    const broker = new URL(defaultAmqpUrl());
    const target = { host: broker.hostname, port: Number(broker.port || 5672) };
    const proxy = await faultProxy({ target });
    cleanups.push(() => proxy.close());
    const bus = rabbitmq({ exchange: `switchyard.cli-lag-gone.${run}` });
    cleanups.push(() => deleteDeclared([bus]));
    const topic = `cli-lag-gone.${run}.orders`;
    await declareGroup(bus, topic, 'billing');
    await bus.publish(topic, Array.from({ length: 7 }, (_, i) => ({ payload: new Uint8Array([i]) })));

    const url = new URL(broker.href);
    url.hostname = proxy.host;
    url.port = String(proxy.port);
    const child = spawn(process.execPath, [main, 'lag', '--rabbitmq', url.href, '--group', 'billing', '--topic', topic, '--watch', '--interval', '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    cleanups.push(async () => (child.kill('SIGKILL'), exited));
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (c: Buffer) => (out.stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out.stderr += c.toString()));
    const row = new RegExp(`^${topic.replaceAll('.', '\\.')} +billing +7 `, 'm');
    const stdoutHas = (p: (text: string) => boolean) => waitFor(() => out.stdout, (l) => child.stdout.on('data', l), p);
    const stderrHas = (p: (text: string) => boolean) => waitFor(() => out.stderr, (l) => child.stderr.on('data', l), p);

    await stdoutHas((t) => row.test(t));
    await proxy.close(); // the broker is gone
    await stderrHas((t) => t.includes('lag.error'));
    const since = out.stdout.length;
    await stderrHas((t) => t.split('lag.error').length - 1 >= 2); // another sample that could not read
    const whileGone = out.stdout.slice(since);
    expect(whileGone).not.toMatch(row); // the last figures are not shown as if they were current
    expect(whileGone).not.toMatch(/no consumer groups/);
    expect(out.stderr).not.toMatch(/not found/); // unreachable is not "RabbitMQ has no queue"

    const back = await faultProxy({ target, listen: { port: proxy.port } });
    cleanups.push(() => back.close());
    const resumed = out.stdout.length;
    await stdoutHas((t) => row.test(t.slice(resumed)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    await bus.close();
  }, 60_000);
});
