import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import { nats, type NatsStreamDeclaration, type NatsTransport } from './index.ts';

const run = `sy-limits-${randomBytes(4).toString('hex')}`;
const name = `SYT_${run.replace(/-/g, '_')}`;
const subjects = [`${run}.>`];

describe('NATS declared stream limits on an existing stream', () => {
  const opened: NatsTransport[] = [];
  const open = (limits: Omit<NatsStreamDeclaration, 'name' | 'subjects'>): NatsTransport => {
    const bus = nats({ streams: [{ name, subjects, ...limits }] });
    opened.push(bus);
    return bus;
  };
  const info = async () => {
    const admin = open({});
    await admin.connect();
    return (await admin.native.manager!.streams.info(name)).config;
  };
  afterAll(async () => {
    // Closed first: a subscription still open would create its deleted stream again.
    await Promise.all(opened.map((b) => b.close()));
    const admin = nats();
    await admin.connect();
    await admin.native.manager!.streams.delete(name).catch(() => undefined);
    await admin.close();
  });

  it('applies limits changed since the stream was created (maxAgeMs, maxBytes, maxMessages, duplicateWindowMs), and leaves unset ones as they are', async () => {
    const first = open({ maxAgeMs: 3_600_000, maxMessages: 1_000, maxBytes: 1_000_000 });
    await first.publish(`${run}.a`, { payload: new Uint8Array([1]) });
    expect(await info()).toMatchObject({ max_age: 3_600_000 * 1e6, max_msgs: 1_000, max_bytes: 1_000_000 });

    const second = open({ maxAgeMs: 60_000, maxMessages: 5, duplicateWindowMs: 30_000 });
    await second.publish(`${run}.a`, { payload: new Uint8Array([2]) });
    // maxBytes left out: the stream keeps its own.
    expect(await info()).toMatchObject({ max_age: 60_000 * 1e6, max_msgs: 5, max_bytes: 1_000_000, duplicate_window: 30_000 * 1e6 });

    // A maxAgeMs below the stream's duplicate window brings the window down with it (JetStream refuses it longer).
    const third = open({ maxAgeMs: 10_000 });
    await third.subscribe(`${run}.a`, { group: 'g' }, async () => {});
    expect(await info()).toMatchObject({ max_age: 10_000 * 1e6, duplicate_window: 10_000 * 1e6 });
  });

  it('refuses a storage change with a ConfigError naming the field and what to do', async () => {
    const bus = open({ storage: 'memory' });
    const error = await bus.publish(`${run}.a`, { payload: new Uint8Array([3]) }).catch((e: unknown) => e);
    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`stream "${name}" exists with storage "file", but .* asks for storage "memory".*nats stream rm ${name}`));
  });

  it('refuses a change JetStream will not make (retention, on 2.9) with a ConfigError naming the field and what to do', async () => {
    const bus = open({ retention: 'interest' });
    const error = await bus.subscribe(`${run}.a`, { group: 'g' }, async () => {}).catch((e: unknown) => e);
    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toMatch(/JetStream refused to change retention \("limits" → "interest"\).*Set it to what the stream has, or delete the stream/);
  });
});

describe('NATS stream created with limits the server refuses', () => {
  it('replicas above 1 on a server outside a cluster: a ConfigError saying to set replicas to 1, not a retryable broker error', async () => {
    const topic = `${run}-replicas.a`;
    const bus = nats({ defaultStream: { replicas: 3 } });
    try {
      const published = await bus.publish(topic, { payload: new Uint8Array([1]) }).catch((e: unknown) => e);
      const subscribed = await bus.subscribe(topic, { group: 'g' }, async () => {}).catch((e: unknown) => e);
      for (const error of [published, subscribed]) {
        expect(isConfigError(error), String(error)).toBe(true);
        expect((error as Error).message).toMatch(/JetStream refused its configuration \(replicas > 1 not supported.*\): this server is not part of a JetStream cluster, so set replicas to 1.*defaultStream option/);
      }
    } finally {
      await bus.close();
    }
  });
});
