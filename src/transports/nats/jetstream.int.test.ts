import { randomBytes } from 'node:crypto';
import { DiscardPolicy, StorageType } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import { Inbox } from '../../testing/inbox.ts';
import { nats, natsLag, NatsTransportError, planStream, type NatsStatus, type NatsTransport } from './index.ts';

const run = `sy-js-${randomBytes(4).toString('hex')}`;
const declared = `SYT_${run.replace(/-/g, '_')}_declared`;

describe('NATS JetStream specifics', () => {
  let bus: NatsTransport;
  beforeAll(async () => {
    bus = nats({
      consumers: { ackWaitMs: 2_000, redeliveryDelayMs: 50 },
      streams: [{ name: declared, subjects: [`${run}-declared.>`], storage: 'memory', maxMessages: 1_000, duplicateWindowMs: 60_000 }],
    });
    await bus.connect();
  });
  afterAll(async () => {
    const jsm = bus.native.manager!;
    await bus.close();
    const admin = nats();
    await admin.connect();
    for (const name of [planStream(`${run}.x`, admin.options).name, declared]) {
      await admin.native.manager!.streams.delete(name).catch(() => undefined);
    }
    await admin.close();
    void jsm;
  });

  it('deleteGroup removes a group\'s durable consumer, refuses while the transport still reads it, and is a no-op when nothing is there', async () => {
    const topic = `${run}.cleanup`;
    const sub = await bus.subscribe(topic, { group: 'one-off' }, async () => {});
    const refused = await bus.deleteGroup(topic, 'one-off').catch((e: unknown) => e);
    expect(isConfigError(refused) && refused.message).toMatch(/still reads its consumer .*close that subscription first/);
    await sub.close();
    const where = (await bus.locate(topic, 'one-off'))!;
    await expect(where.manager.consumers.info(where.stream, where.consumer)).resolves.toBeDefined();
    await bus.deleteGroup(topic, 'one-off');
    await expect(where.manager.consumers.info(where.stream, where.consumer)).rejects.toThrow(/not found/i);
    await bus.deleteGroup(topic, 'one-off'); // already gone
    await bus.deleteGroup(`${run}-nostream.x`, 'one-off'); // no stream holds the topic
  });

  it('a group\'s consumer asks the server to delete it after consumers.inactiveThresholdMs without a reader', async () => {
    const expiring = nats({ consumers: { inactiveThresholdMs: 60_000 } });
    try {
      const topic = `${run}.expiring`;
      const sub = await expiring.subscribe(topic, { group: 'short-lived' }, async () => {});
      await sub.close();
      const where = (await expiring.locate(topic, 'short-lived'))!;
      const info = await where.manager.consumers.info(where.stream, where.consumer);
      expect(info.config.inactive_threshold).toBe(60_000 * 1_000_000);
      await expiring.deleteGroup(topic, 'short-lived');
    } finally {
      await expiring.close();
    }
  });

  it('drops a re-publish of the same message id within the duplicate window: consumed once', async () => {
    const topic = `${run}.dedup`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    await bus.publish(topic, { id: 'order-42', payload: Buffer.from('first') });
    await bus.publish(topic, { id: 'order-42', payload: Buffer.from('again') });
    await bus.publish(topic, { id: 'order-43', payload: Buffer.from('next') });
    await inbox.untilCount(2, 10_000);
    // Another message after the duplicate proves the duplicate is not merely late.
    await bus.publish(topic, { id: 'order-44', payload: Buffer.from('last') });
    await inbox.untilCount(3, 10_000);
    expect(inbox.messages.map((m) => [m.id, Buffer.from(m.payload).toString()])).toEqual([
      ['order-42', 'first'],
      ['order-43', 'next'],
      ['order-44', 'last'],
    ]);
  });

  it('creates a stream whose maxAgeMs is shorter than the default duplicate window (the window follows it)', async () => {
    const topic = `${run}-short-age.x`;
    const short = nats({ defaultStream: { maxAgeMs: 60_000 } });
    try {
      await short.publish(topic, [
        { id: 'a', payload: Buffer.from('1') },
        { id: 'a', payload: Buffer.from('dropped: same id') },
      ]);
      const info = await short.native.manager!.streams.info(planStream(topic, short.options).name);
      expect(info.config).toMatchObject({ max_age: 60_000_000_000, duplicate_window: 60_000_000_000 });
      expect(info.state.messages).toBe(1);
    } finally {
      await short.native.manager?.streams.delete(planStream(topic, short.options).name).catch(() => undefined);
      await short.close();
    }
  });

  it('keeps the same id on two topics of one stream apart (dedup is per topic)', async () => {
    const inbox = new Inbox();
    await bus.subscribe(`${run}.scoped.*`, { group: 'g' }, async (m) => inbox.push(m));
    await bus.publish(`${run}.scoped.a`, { id: 'same-id', payload: Buffer.from('a') });
    await bus.publish(`${run}.scoped.dlq`, { id: 'same-id', payload: Buffer.from('dead letter of a') });
    await inbox.untilCount(2, 10_000);
    expect(inbox.messages.map((m) => m.topic).sort()).toEqual([`${run}.scoped.a`, `${run}.scoped.dlq`]);
  });

  it('keeps per-key order across a failure: later messages of the key wait for the redelivery', async () => {
    const topic = `${run}.key-retry`;
    const seen: string[] = [];
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g', concurrency: 4 }, async (m) => {
      seen.push(`${m.id}#${m.attempt}`);
      if (m.id === 'k-1' && m.attempt === 1) throw new Error('first attempt fails');
      inbox.push(m);
    });
    await bus.publish(topic, ['k-1', 'k-2', 'k-3'].map((id) => ({ id, key: 'k', payload: Buffer.from(id) })));
    await inbox.untilCount(3, 10_000);
    expect(seen).toEqual(['k-1#1', 'k-1#2', 'k-2#1', 'k-3#1']);
  });

  it('round-trips headers a NATS header line cannot carry as is', async () => {
    const topic = `${run}.odd-headers`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    const headers = {
      'Nats-Msg-Id': 'user value, not the dedup id',
      'sy-key': 'not our key',
      'has space': 'v',
      'colon:name': 'v',
      multi: 'line one\r\nline two',
      padded: '  spaces kept  ',
      'MiXeD-Case': 'kept',
      plain: 'ünïcödé ✓',
    };
    await bus.publish(topic, { id: 'odd-1', key: 'k', payload: Buffer.from('x'), headers });
    await inbox.untilCount(1, 10_000);
    const got = inbox.messages[0]!;
    expect(got.headers).toEqual(headers);
    expect(got.id).toBe('odd-1');
    expect(got.key).toBe('k');
  });

  it('round-trips keys and ids a NATS header value cannot carry as is, each de-duplicated on its own', async () => {
    const topic = `${run}.odd-ids`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    // The second id is the JSON text of the first: both must arrive (distinct Nats-Msg-Ids).
    const odd = ['a\r\nNats-Msg-Id: evil', '"a\\r\\nNats-Msg-Id: evil"', ' padded ', '"quoted"'];
    await bus.publish(topic, odd.map((v, i) => ({ id: v, key: v, payload: Buffer.from(String(i)) })));
    await bus.publish(topic, { id: ' padded ', key: 'again', payload: Buffer.from('duplicate') }); // dropped by the server
    await bus.publish(topic, { id: 'last', payload: Buffer.from('last') });
    await inbox.untilCount(odd.length + 1, 10_000);
    expect(inbox.messages.map((m) => [m.id, m.key])).toEqual([...odd.map((v) => [v, v]), ['last', '']]);
  });

  it('round-trips headers named like Object.prototype members', async () => {
    const topic = `${run}.proto-headers`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    const headers = JSON.parse('{"constructor":"c","toString":"t","__proto__":"p","plain":"x"}') as Record<string, string>;
    await bus.publish(topic, { payload: Buffer.from('x'), headers });
    await inbox.untilCount(1, 10_000);
    const got = inbox.messages[0]!.headers;
    expect(Object.entries(got).sort()).toEqual(Object.entries(headers).sort());
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
  });

  it('sends in-progress acks, so a handler running longer than ackWait is not redelivered', async () => {
    const topic = `${run}.long`;
    const quick = nats({ consumers: { ackWaitMs: 1_000 } }); // in-progress acks every ~333 ms
    try {
      const started: string[] = [];
      const inbox = new Inbox();
      await quick.subscribe(topic, { group: 'g', concurrency: 2 }, async (m) => {
        started.push(`${m.id}#${m.attempt}`);
        if (m.id === 'long-1') await new Promise((resolve) => setTimeout(resolve, 3_000)); // 3 × ackWait
        inbox.push(m);
      });
      await quick.publish(topic, { id: 'long-1', payload: Buffer.from('x') });
      await inbox.untilCount(1, 20_000);
      await quick.publish(topic, { id: 'after', payload: Buffer.from('y') }); // anything redelivered would come first
      await inbox.untilCount(2, 20_000);
      expect(started).toEqual(['long-1#1', 'after#1']);
    } finally {
      await quick.close();
    }
  });

  it('keeps a handler slower than the first backoff step alive too: no redelivery while it runs, attempt 2 after its failure', async () => {
    const topic = `${run}.long-backoff`;
    // The server's ack wait is backoff[0] (1 s) here, not ackWaitMs (30 s by default).
    const backoff = nats({ consumers: { backoffMs: [1_000, 2_000], maxDeliver: 10, redeliveryDelayMs: 0 } });
    try {
      const attempts: number[] = [];
      const inbox = new Inbox();
      await backoff.subscribe(topic, { group: 'g' }, async (m) => {
        attempts.push(m.attempt);
        if (attempts.length === 1) {
          await new Promise((resolve) => setTimeout(resolve, 3_500)); // past the first two backoff steps
          throw new Error('slow, then failed');
        }
        inbox.push(m);
      });
      await backoff.publish(topic, { id: 'slow-1', key: 'k', payload: Buffer.from('x') });
      await inbox.untilCount(1, 20_000);
      expect(attempts).toEqual([1, 2]);
      const where = (await backoff.locate(topic, 'g'))!;
      const info = await where.manager.consumers.info(where.stream, where.consumer);
      expect(info.delivered.consumer_seq).toBe(1); // delivered once: the retry ran here, not through a redelivery
    } finally {
      await backoff.close();
    }
  });

  it('reports lag per group as num_pending + num_ack_pending', async () => {
    const topic = `${run}.lag`;
    const other = nats();
    try {
      const sub = await other.subscribe(topic, { group: 'slow' }, async () => {});
      await sub.close(); // the group exists but has no member now
      await bus.publish(topic, Array.from({ length: 25 }, (_, i) => ({ payload: Buffer.from(String(i)) })));
      const [lag] = await natsLag(bus, [{ topic, group: 'slow' }]);
      expect(lag).toMatchObject({ topic, group: 'slow', pending: 25, ackPending: 0, lag: 25 });
      expect(await natsLag(bus, [{ topic, group: 'never-subscribed' }])).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('reads no lag, and creates no stream, for a topic no stream holds', async () => {
    const lonely = `${run}-nostream-${randomBytes(3).toString('hex')}.orders`;
    const reader = nats();
    try {
      expect(await natsLag(reader, [{ topic: lonely, group: 'g' }])).toEqual([]);
      await expect(bus.native.manager!.streams.find(lonely)).rejects.toThrow(/no stream matches subject/);
    } finally {
      await reader.close();
    }
  });

  it('puts topics covered by a declared stream into that stream', async () => {
    const topic = `${run}-declared.orders`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g', from: 'earliest' }, async (m) => inbox.push(m));
    await bus.publish(topic, { id: 'd-1', payload: Buffer.from('x') });
    await inbox.untilCount(1, 10_000);
    const info = await bus.native.manager!.streams.info(declared);
    expect(info.state.messages).toBe(1);
    expect(info.config.max_msgs).toBe(1_000);
    expect(info.config.storage).toBe('memory');
  });

  it('names the stream in the way, at once, when the stream found for a topic does not capture it', async () => {
    const first = `${run}-foreign`;
    const foreign = `SYT_${run.replace(/-/g, '_')}_foreign`;
    const narrow = `SYT_${run.replace(/-/g, '_')}_narrow`;
    const jsm = bus.native.manager!;
    // Streams made outside Switchyard: one capturing a single topic of a first token, one narrower than its declaration.
    await jsm.streams.add({ name: foreign, subjects: [`${first}.placed`], storage: StorageType.Memory });
    await jsm.streams.add({ name: narrow, subjects: [`${first}-narrow.a`], storage: StorageType.Memory });
    // A short publishTimeoutMs so the old behaviour (503s retried until it runs out) fails within the test.
    const t = nats({ publishTimeoutMs: 5_000, streams: [{ name: narrow, subjects: [`${first}-narrow.>`] }] });
    try {
      await t.publish(`${first}.placed`, { payload: Buffer.from('x') }); // the foreign stream holds it
      expect((await jsm.streams.info(foreign)).state.messages).toBe(1);

      const published = await t.publish(`${first}.paid`, { payload: Buffer.from('y') }).catch((e: unknown) => e);
      expect(isConfigError(published), String(published)).toBe(true);
      expect((published as Error).message).toMatch(
        new RegExp(`no JetStream stream captures "${first}.paid": stream "${foreign}" \\(subjects ${first}.placed\\), created outside Switchyard, overlaps`),
      );
      const subscribed = await t.subscribe(`${first}.*`, { group: 'g' }, async () => {}).catch((e: unknown) => e);
      expect(isConfigError(subscribed), String(subscribed)).toBe(true);

      const declaredWider = await t.publish(`${first}-narrow.b`, { payload: Buffer.from('z') }).catch((e: unknown) => e);
      expect(isConfigError(declaredWider), String(declaredWider)).toBe(true);
      expect((declaredWider as Error).message).toMatch(/exists on the server with subjects .*-narrow\.a, not .*-narrow\.> as declared/);
      expect((await jsm.streams.info(foreign)).state.messages).toBe(1);
      expect((await jsm.streams.info(narrow)).state.messages).toBe(0);
    } finally {
      await t.close();
      for (const name of [foreign, narrow]) await jsm.streams.delete(name).catch(() => undefined);
    }
  });

  it('a stream full under discard: new refuses with a stream-full error that says what to do; what it stored stays', async () => {
    const full = `SYT_${run.replace(/-/g, '_')}_full`;
    const topic = `${run}-full.x`;
    const jsm = bus.native.manager!;
    await jsm.streams.add({ name: full, subjects: [`${run}-full.>`], storage: StorageType.Memory, max_msgs: 2, discard: DiscardPolicy.New });
    try {
      const refused = await bus.publish(topic, ['1', '2', '3'].map((id) => ({ id, payload: Buffer.from(id) }))).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(NatsTransportError);
      expect(refused).toMatchObject({ reason: 'stream-full', retryable: true });
      expect((refused as Error).message).toMatch(
        new RegExp(`publish to "${topic}" \\(stream "${full}"\\): the stream is full .*discard: new.*max_msgs.*publishing again is safe`),
      );
      expect((await jsm.streams.info(full)).state.messages).toBe(2);
    } finally {
      await jsm.streams.delete(full).catch(() => undefined);
    }
  });

  it('stores and delivers topics whose first token is long once encoded into a stream name (":", "_", "@" take three characters)', async () => {
    // Valid topics (249 characters at most) whose stream name used to exceed JetStream's 255.
    const topics = [`${run.replace(/-/g, ':')}${':'.repeat(200)}.orders`, `${run.replace(/-/g, '@')}${'_'.repeat(120)}${'@'.repeat(100)}`];
    const names: string[] = [];
    try {
      for (const topic of topics) {
        names.push(planStream(topic, bus.options).name);
        const inbox = new Inbox();
        const sub = await bus.subscribe(topic, { group: 'long', from: 'earliest' }, async (m) => inbox.push(m));
        await bus.publish(topic, { id: 'm-1', payload: Uint8Array.of(1) });
        await inbox.untilCount(1, 10_000);
        expect(inbox.messages[0]).toMatchObject({ topic, id: 'm-1' });
        await sub.close();
        const info = await bus.native.manager!.streams.info(names.at(-1)!);
        expect(info.state.messages).toBe(1);
      }
      expect(new Set(names).size).toBe(2);
    } finally {
      for (const name of names) await bus.native.manager!.streams.delete(name).catch(() => undefined);
    }
  });

  it('refuses a pattern starting with a wildcard unless a declared stream covers it', async () => {
    const error = await bus.subscribe('*.created', { group: 'g' }, async () => {}).catch((e: unknown) => e);
    expect(isConfigError(error), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/declare a stream/);
  });

  it('emits typed status events and reports the end of the connection', async () => {
    const t = nats();
    const seen: NatsStatus['type'][] = [];
    t.on('status', (s) => seen.push(s.type));
    await t.connect();
    await t.close();
    expect(seen[0]).toBe('connected');
    expect(seen).toContain('closed');
  });
});
