import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnCli as cli } from '../../cli/commands/cli.test-support.ts';
import { json } from '../../codecs/json.ts';
import { text } from '../../codecs/raw.ts';
import { embedded } from './index.ts';

describe('switchyard CLI on an embedded broker', () => {
  it('tail, in another process, prints the messages this process publishes as they arrive, decoded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-cli-'));
    const bus = embedded({ dir });
    await bus.connect();
    expect(bus.role).toBe('owner');
    const tail = cli(['tail', 'orders.>', '--dir', dir, '--limit', '3']);
    await tail.stderrUntil('tailing');
    const order = json<{ orderId: string; total: number }>();
    await bus.publish('orders.placed', order.encode({ orderId: 'o-1', total: 42 }, { key: 'c-1' }));
    await bus.publish('orders.note', text().encode('hello from the owner'));
    await bus.publish('orders.placed', { id: 'raw-1', payload: Uint8Array.of(1, 2, 255) });
    const { code, stdout, stderr } = await tail.done;
    expect(code, stderr).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.includes('orders.placed 0@0'))).toContain('key=c-1');
    expect(stdout).toContain('{"orderId":"o-1","total":42}');
    expect(stdout).toContain('hello from the owner');
    expect(stdout).toContain('0102ff');
    // tail's throwaway group is gone afterwards: it shows no lag anywhere.
    expect((await bus.inspect()).flatMap((t) => t.groups.map((g) => g.group))).toEqual([]);
    await bus.close();
  });

  it('topics lists topics, partitions, sizes, end offsets and group lag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-cli-'));
    const bus = embedded({ dir, partitions: 2 });
    await bus.subscribe('payments', { group: 'ledger' }, async () => {
      throw new Error('never succeeds, so the lag stays');
    }).then((s) => s.close());
    await bus.publish('payments', Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, payload: Buffer.from('x') })));
    const { code, stdout, stderr } = await cli(['topics', '--dir', dir]).done;
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('payments  partitions=2');
    expect(stdout).toContain('messages=5');
    expect(stdout).toMatch(/group ledger: lag 5/);
    await bus.close();
  });
});
