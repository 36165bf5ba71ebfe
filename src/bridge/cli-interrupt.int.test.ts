import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../cli/commands/cli.test-support.ts';
import { isClosedError } from '../core/errors.ts';
import { embedded } from '../transports/embedded/index.ts';
import { LOCK_FILE } from '../transports/embedded/lock.ts';
import { startOwnCluster, type OwnCluster } from '../transports/kafka/test-cluster.ts';
import { prepareBridge } from './bridge.ts';

// `switchyard bridge CONFIG` handled SIGINT/SIGTERM only once every route ran. A restarted bridge
// can sit in [starting] for ~30 s while its Kafka group rebalances; a signal then killed the
// process outright, leaving the embedded directory's lock and socket behind and the connections
// (group member included) to be dropped by the OS. A private cluster whose first group join waits
// two minutes holds the start open for as long as the test needs.

const dir = mkdtempSync(join(tmpdir(), 'bridge-interrupt-'));
let cluster: OwnCluster;

beforeAll(async () => {
  cluster = await startOwnCluster(['--rebalance-delay-ms', '120000']);
});
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A config reading a Kafka topic of the private cluster into an embedded directory of its own. */
function config(name: string, from = 'kafka'): { file: string; data: string; config: unknown } {
  const data = join(dir, `${name}-data`);
  const file = join(dir, `${name}.json`);
  const bridgeConfig = {
    transports: { local: { type: 'embedded', dir: data }, kafka: { type: 'kafka', brokers: cluster.brokers } },
    routes: [{ name: 'orders-in', from: { transport: from, topic: 'orders.placed', group: name }, to: { transport: 'local', topic: 'orders.copied' } }],
  };
  writeFileSync(file, JSON.stringify(bridgeConfig));
  return { file, data, config: bridgeConfig };
}

describe('switchyard bridge CONFIG interrupted while starting', () => {
  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s while a route waits for its group join: the start is given up, what was opened is closed, exit %i', async (signal, exitCode) => {
    const { file, data } = config(`interrupt-${signal.toLowerCase()}`);
    const cli = spawnCli(['bridge', file, '--interval', '100']);
    await cli.stderrUntil('orders-in 0 msg/s (0 fwd) [starting]');
    // The embedded transport is open by now (its lock taken): the route subscribes only after
    // every transport connected.
    expect(existsSync(join(data, LOCK_FILE))).toBe(true);
    cli.kill(signal);
    const { code, stderr } = await cli.done;

    expect(stderr).toContain('interrupted while starting: closing what was opened (press Ctrl-C again to exit at once)');
    expect(stderr).toContain(`switchyard: bridge interrupted while starting (exit code ${exitCode}); the connections it had opened are closed`);
    expect(stderr).not.toContain('bridge running');
    expect(stderr).not.toContain('unsettled top-level await');
    expect(code).toBe(exitCode);
    // Closed, not abandoned: no lock nor socket left for the next process to judge stale.
    expect(existsSync(join(data, LOCK_FILE))).toBe(false);
    expect(existsSync(join(data, 'broker.sock'))).toBe(false);
    const next = embedded({ dir: data, share: false });
    await next.connect();
    await next.close();
  }, 60_000);

  it('SIGTERM once every route runs: the run drains and stops as before, exit 0', async () => {
    // An embedded source starts at once: the signal handlers of the run take over from those of the start.
    const { file, data } = config('running', 'local');
    const cli = spawnCli(['bridge', file, '--interval', '100']);
    await cli.stderrUntil('bridge running 1 route(s)');
    cli.kill('SIGTERM');
    const { code, stderr } = await cli.done;
    expect(stderr).not.toContain('interrupted while starting');
    expect(stderr).toMatch(/orders-in 0 msg\/s \(0 fwd\) \[stopped\]\n$/);
    expect(code).toBe(0);
    expect(existsSync(join(data, LOCK_FILE))).toBe(false);
  }, 60_000);
});

describe('Bridge.start({ signal })', () => {
  it('rejects with a ClosedError once aborted, without waiting for the group join, and has closed what it opened', async () => {
    const { data, config: input } = config('library');
    const b = await prepareBridge(input, { baseDir: dir });
    const abort = new AbortController();
    const off = b.inspector.on((e) => {
      if (e.type === 'handler-state' && e.state === 'starting') abort.abort(new Error('shutting down'));
    });
    const error = await b.start({ signal: abort.signal }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    off();
    expect(isClosedError(error), String(error)).toBe(true);
    expect(error!.message).toBe('bridge is closed: its start was aborted; what it had opened is closed');
    expect((error!.cause as Error).message).toBe('shutting down');
    expect(existsSync(join(data, LOCK_FILE))).toBe(false);
    await b.stop(); // already stopped: resolves
    // An aborted signal given to start() stops the bridge before anything connects.
    const again = await prepareBridge(input, { baseDir: dir });
    await expect(again.start({ signal: AbortSignal.abort(new Error('no')) })).rejects.toThrow('its start was aborted');
    expect(existsSync(join(data, LOCK_FILE))).toBe(false);
  }, 60_000);
});
