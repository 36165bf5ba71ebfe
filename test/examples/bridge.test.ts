import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { json } from '../../src/codecs/json.ts';
import { Inbox } from '../../src/testing/inbox.ts';
import { embedded } from '../../src/transports/embedded/index.ts';
import { runExample } from './run-example.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('examples/10-bridge', () => {
  it('bridges in code and from bridge.yaml: filters, transforms, routes by header, converts JSON to Protobuf, carries ids and keys', async () => {
    const { stdout } = await runExample('examples/10-bridge/main.ts');
    expect(stdout).toContain('in code: shipments.eu key=c-1 id=id-o-1 {"shipmentFor":"o-1","insured":true}');
    expect(stdout).toContain('in code: shipments.us key=c-3 id=id-o-3 {"shipmentFor":"o-3","insured":false}');
    expect(stdout).toContain('in code: paid-to-shipments 3 msg/s (2 fwd, 1 filtered) [stopped]');
    expect(stdout).toContain('from file: shipments.eu key=c-1 id=id-o-1 x-shipment=v1 {"shipmentFor":"o-1","customerId":"c-1","insured":true}');
    expect(stdout.match(/from file: archive\.placed id=id-o-\d application\/x-protobuf; messageType=shop\.OrderPlaced/g)).toHaveLength(3);
    expect(stdout).toContain('from file: paid-to-shipments 3 msg/s (2 fwd, 1 filtered) [stopped] | archive 3 msg/s (3 fwd) [stopped]');
  });

  it('`switchyard bridge bridge.yaml` runs the routes with a progress line until SIGINT, then exits 0', async () => {
    const data = mkdtempSync(join(tmpdir(), 'bridge-cli-run-'));
    const child = spawn(process.execPath, ['--conditions=switchyard-source', 'src/cli/main.ts', 'bridge', 'examples/10-bridge/bridge.yaml', '--interval', '200'], {
      cwd: root,
      env: { ...process.env, BRIDGE_DATA: data },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const running = new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('bridge running 2 route(s)')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the bridge exited early (${code}): ${stderr}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await running;
      // This process joins the brokers the bridge owns, through their sockets.
      const shop = embedded({ dir: join(data, 'shop') });
      const warehouse = embedded({ dir: join(data, 'warehouse') });
      const inbox = new Inbox();
      await warehouse.subscribe('shipments.*', { group: 'test', from: 'earliest' }, async (m) => inbox.push(m));
      const orders = json();
      await shop.publish('orders.placed', [
        orders.encode({ orderId: 'o-1', customerId: 'c-1', status: 'paid', total: 150 }, { id: 'cli-1', key: 'c-1', headers: { region: 'eu' } }),
        orders.encode({ orderId: 'o-2', customerId: 'c-2', status: 'open', total: 20 }, { id: 'cli-2', key: 'c-2', headers: { region: 'eu' } }),
      ]);
      await inbox.untilCount(1, 30_000);
      expect(inbox.messages[0]).toMatchObject({ id: 'cli-1', key: 'c-1', topic: 'shipments.eu', headers: { 'x-shipment': 'v1' } });
      await shop.close();
      await warehouse.close();
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/paid-to-shipments \d+ msg\/s \(\d+ fwd/);
    } finally {
      child.kill('SIGKILL');
      rmSync(data, { recursive: true, force: true });
    }
  }, 90_000);
});
