import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedded } from '../../transports/embedded/index.ts';
import { spawnCli } from './cli.test-support.ts';

// `--metrics-port` on a port another process holds: listen() reports it as an 'error' event,
// which used to crash the CLI with a stack trace. It is a failure to explain (exit 1), at once.
const root = mkdtempSync(join(tmpdir(), 'sy-cli-metrics-port-'));
const dir = join(root, 'broker');
let busy: Server;
let port: number;

beforeAll(async () => {
  const bus = embedded({ dir });
  await bus.publish('orders', { payload: new Uint8Array(1) }); // a broker directory for lag and the bridge to read
  await bus.close();
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, resolve));
  port = (busy.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => busy.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

describe('--metrics-port on a port in use', () => {
  it('lag --watch says the port is in use and which option to change (exit 1, no stack trace)', async () => {
    const { code, stderr } = await spawnCli(['lag', '--dir', dir, '--watch', '--metrics-port', String(port)]).done;
    expect(stderr.trim()).toBe(`switchyard: port ${port} is in use; pick another --metrics-port`);
    expect(code).toBe(1);
  });

  it('bridge says the same, and stops without running a route', async () => {
    const config = join(root, 'bridge.json');
    writeFileSync(
      config,
      JSON.stringify({
        transports: { a: { type: 'embedded', dir }, b: { type: 'embedded', dir: join(root, 'copy') } },
        routes: [{ name: 'copy', from: { transport: 'a', topic: 'orders', start: 'earliest' }, to: { transport: 'b', topic: 'copied' } }],
      }),
    );
    const { code, stderr } = await spawnCli(['bridge', config, '--no-progress', '--metrics-port', String(port)]).done;
    expect(stderr.trim()).toBe(`switchyard: port ${port} is in use; pick another --metrics-port`);
    expect(stderr).not.toContain('bridge running');
    expect(code).toBe(1);
  });
});

describe('--metrics-host', () => {
  it('other than loopback needs a token, as every Switchyard HTTP endpoint (exit 2)', async () => {
    const { code, stderr } = await spawnCli(['lag', '--dir', dir, '--watch', '--metrics-port', '0', '--metrics-host', '0.0.0.0']).done;
    expect(stderr.trim()).toBe(
      'switchyard: --metrics-host: binding 0.0.0.0 makes it reachable from other machines, so it needs a token: pass { token } or set SWITCHYARD_DASHBOARD_TOKEN, or bind 127.0.0.1',
    );
    expect(code).toBe(2);
  });
});

describe('lag --metrics-port without --watch', () => {
  it('is a usage error (exit 2): one reading ends before anything could scrape it', async () => {
    const { code, stdout, stderr } = await spawnCli(['lag', '--dir', dir, '--metrics-port', '0']).done;
    expect(stderr.trim()).toBe('switchyard: --metrics-port goes with --watch: without it lag prints one reading and exits; add --watch');
    expect(code).toBe(2);
    expect(stdout).toBe('');
  });
});
