import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../core/errors.ts';
import { Inbox } from '../../testing/inbox.ts';
import { rabbitmq, type RabbitMQEvent } from './index.ts';

/**
 * A RabbitMQ disk alarm, for real: a second RabbitMQ node of the test's own (the shared one must
 * keep serving the other tests) whose `disk_free_limit` is far above the free space, so the alarm
 * is raised from the start and the broker blocks every connection that publishes. Clearing the
 * limit with `rabbitmqctl` ends it. Starting a node needs RabbitMQ's scripts and root (Debian's
 * switch to the rabbitmq user); elsewhere the case is skipped and says why.
 */
const NODE = 'switchyard-alarm@localhost';
/** Clear of RabbitMQ's own ports: 5672, 25672, and 35672–35682, which rabbitmqctl's Erlang node takes. */
const AMQP_PORT = 45672;

function cannotStartNode(): string | undefined {
  if (process.platform !== 'linux') return 'starting a RabbitMQ node of its own is scripted for Linux';
  if (process.getuid?.() !== 0) return 'starting a second RabbitMQ node needs root';
  try {
    execFileSync('sh', ['-c', 'command -v rabbitmq-server && command -v rabbitmqctl'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'rabbitmq-server and rabbitmqctl are not installed';
  }
}

const rabbitmqctl = (...args: string[]): string =>
  execFileSync('rabbitmqctl', ['-n', NODE, ...args], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });

const reason = cannotStartNode();

describe.skipIf(reason !== undefined)(`rabbitmq when the broker blocks publishers (disk alarm)${reason ? ` — skipped: ${reason}` : ''}`, () => {
  let base = '';

  beforeAll(() => {
    try {
      rabbitmqctl('stop'); // a node left behind by an interrupted run
    } catch {
      // none running
    }
    base = mkdtempSync(join(tmpdir(), 'switchyard-rabbitmq-alarm-'));
    writeFileSync(join(base, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${AMQP_PORT}\ndisk_free_limit.absolute = 100000GB\n`);
    writeFileSync(join(base, 'enabled_plugins'), '[].\n');
    chmodSync(base, 0o777); // the node runs as the rabbitmq user
    execFileSync('rabbitmq-server', ['-detached'], {
      env: {
        ...process.env,
        RABBITMQ_NODENAME: NODE,
        RABBITMQ_NODE_PORT: String(AMQP_PORT),
        RABBITMQ_DIST_PORT: String(AMQP_PORT + 1),
        RABBITMQ_CONFIG_FILE: join(base, 'rabbitmq.conf'),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(base, 'enabled_plugins'),
        RABBITMQ_MNESIA_BASE: join(base, 'mnesia'),
        RABBITMQ_LOG_BASE: join(base, 'log'),
        RABBITMQ_PID_FILE: join(base, 'pid'),
      },
      stdio: 'ignore',
    });
    rabbitmqctl('wait', join(base, 'pid'), '--timeout', '60');
  }, 90_000);

  afterAll(() => {
    try {
      rabbitmqctl('stop', join(base, 'pid'));
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  }, 60_000);

  it('names the alarm in the publish timeout, reports blocked and unblocked, and delivers once the alarm clears', async () => {
    const events: RabbitMQEvent[] = [];
    const unblocked = Promise.withResolvers<void>();
    const bus = rabbitmq({
      url: `amqp://guest:guest@127.0.0.1:${AMQP_PORT}`,
      publishTimeoutMs: 1_500,
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'unblocked') unblocked.resolve();
      },
    });
    const inbox = new Inbox();
    await bus.subscribe('alarm.orders', { group: 'billing' }, async (m) => inbox.push(m));

    const refused = await bus.publish('alarm.orders', [{ id: 'during-alarm', payload: new Uint8Array(16) }]).then(
      () => 'published',
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(TimeoutError);
    expect((refused as Error).message).toMatch(/blocked on this connection since .* \("low on disk": RabbitMQ blocks publishers while a disk or memory alarm is raised/);
    expect(bus.blocked?.reason).toBe('low on disk');
    expect(events.map((e) => e.type)).toContain('blocked');

    rabbitmqctl('set_disk_free_limit', '1MB');
    await unblocked.promise;
    expect(bus.blocked).toBeUndefined();
    await bus.publish('alarm.orders', [{ id: 'after-alarm', payload: new Uint8Array(16) }]);
    // The first one was on its way when the broker stopped reading: "may still store them" — it does.
    await inbox.until(() => inbox.ids().has('after-alarm') && inbox.ids().has('during-alarm'), 10_000, () => `both messages (got ${[...inbox.ids()].join(', ')})`);
    await bus.close();
  });

  it('close() ends while the broker blocks the connection (it answers neither cancel nor close), and loses nothing', async () => {
    rabbitmqctl('set_disk_free_limit', '100000GB'); // the alarm again
    const blocked = Promise.withResolvers<void>();
    const bus = rabbitmq({
      url: `amqp://guest:guest@127.0.0.1:${AMQP_PORT}`,
      publishTimeoutMs: 1_000,
      onEvent: (event) => event.type === 'blocked' && blocked.resolve(),
    });
    await bus.subscribe('alarm.close', { group: 'billing' }, async () => {});
    await expect(bus.publish('alarm.close', [{ id: 'sent-while-blocked', payload: new Uint8Array(16) }])).rejects.toBeInstanceOf(TimeoutError);
    await blocked.promise;
    await bus.close(); // waited for the alarm to clear before (for ever here)

    rabbitmqctl('set_disk_free_limit', '1MB');
    const after = rabbitmq({ url: `amqp://guest:guest@127.0.0.1:${AMQP_PORT}` });
    const inbox = new Inbox();
    await after.subscribe('alarm.close', { group: 'billing' }, async (m) => inbox.push(m));
    await inbox.until(() => inbox.ids().has('sent-while-blocked'), 10_000, () => `the message sent while blocked (got ${[...inbox.ids()].join(', ')})`);
    await after.close();
  });
});
