import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json } from '../../codecs/json.ts';
import type { Codec } from '../../core/codec.ts';
import { isConfigError, isTimeoutError, isTransportError } from '../../core/errors.ts';
import type { Message } from '../../core/message.ts';
import { encrypted } from '../../security/encrypted.ts';
import { isNoRespondersError, nats, planStream, type NatsTransport } from './index.ts';

const run = `sy-rr-${randomBytes(4).toString('hex')}`;

describe('NATS request-reply', () => {
  let bus: NatsTransport;
  beforeAll(async () => {
    bus = nats({ mode: 'core' });
    await bus.connect();
  });
  afterAll(async () => {
    await bus.close();
  });

  it('round-trips a typed request and reply through codecs, headers included', async () => {
    const subject = `${run}.quote`;
    const responder = await bus.respond(
      subject,
      { codec: json<{ sku: string }>(), replyCodec: json<{ sku: string; cents: number; trace: string }>() },
      async (q, msg) => ({ sku: q.sku, cents: 1299, trace: msg.headers['x-trace'] ?? '' }),
    );
    const reply = await bus.request(subject, { sku: 'A-1' }, {
      codec: json<{ sku: string }>(),
      replyCodec: json<{ sku: string; cents: number; trace: string }>(),
      headers: { 'x-trace': 't-1' },
      timeoutMs: 2_000,
    });
    expect(reply).toEqual({ sku: 'A-1', cents: 1299, trace: 't-1' });
    await responder.close();
  });

  it('rejects with TimeoutError when the responder does not answer in time', async () => {
    const subject = `${run}.slow`;
    const responder = await bus.respond(subject, {}, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return new Uint8Array(0);
    });
    const error = await bus.request(subject, Uint8Array.of(1), { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(isTimeoutError(error), String(error)).toBe(true);
    expect(isNoRespondersError(error)).toBe(false);
    await responder.close();
  });

  it('rejects with a "no responders" TransportError, distinct from a timeout, when nobody listens', async () => {
    const error = await bus.request(`${run}.nobody`, Uint8Array.of(1), { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(isNoRespondersError(error), String(error)).toBe(true);
    expect(isTransportError(error)).toBe(true);
    expect(isTimeoutError(error)).toBe(false);
    expect((error as Error).message).toMatch(/no responders/);
  });

  it('answers 1,000 concurrent requests, each with its own reply', async () => {
    const subject = `${run}.square`;
    const codec = json<number>();
    const responder = await bus.respond(subject, { codec, replyCodec: codec }, async (n) => {
      await new Promise((resolve) => setTimeout(resolve, n % 5));
      return n * n;
    });
    const inputs = Array.from({ length: 1_000 }, (_, i) => i);
    const replies = await Promise.all(inputs.map((n) => bus.request(subject, n, { codec, replyCodec: codec, timeoutMs: 10_000 })));
    expect(replies).toEqual(inputs.map((n) => n * n));
    await responder.close();
  });

  it('reports a responder that threw as a TransportError naming its message', async () => {
    const subject = `${run}.broken`;
    const responder = await bus.respond(subject, {}, async () => {
      throw new Error('inventory offline');
    });
    const error = await bus.request(subject, Uint8Array.of(1), { timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(isTransportError(error), String(error)).toBe(true);
    expect((error as { reason?: string }).reason).toBe('responder-failed');
    expect((error as Error).message).toMatch(/inventory offline/);
    await responder.close();
  });

  it('says so when a JetStream stream captures the request subject, instead of returning the stream ack', async () => {
    const js = nats();
    const topic = `${run}-captured.orders`;
    try {
      await js.publish(topic, { payload: Uint8Array.of(1) }); // creates the stream capturing `${run}-captured.>`
      const error = await js.request(`${run}-captured.rpc`, Uint8Array.of(1), { timeoutMs: 2_000 }).catch((e: unknown) => e);
      expect(isConfigError(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/answered by JetStream stream/);
    } finally {
      await js.native.manager!.streams.delete(planStream(topic, js.options).name).catch(() => undefined);
      await js.close();
    }
  });

  it('seals requests and replies of an encrypted() codec for the subject they travel on, so both decrypt', async () => {
    const keyring = { current: 'k1', keys: { k1: randomBytes(32) } };
    // Bound to their topic (the default): the request to its subject, the reply to the requester's inbox.
    const quote = encrypted(json<{ sku: string }>(), { keyring });
    const price = encrypted(json<{ cents: number }>(), { keyring });
    const bound = await bus.respond(`${run}.sealed`, { codec: quote, replyCodec: price }, async (q, msg) => {
      expect(msg.topic).toBe(`${run}.sealed`);
      return { cents: q.sku.length };
    });
    expect(await bus.request(`${run}.sealed`, { sku: 'A-12' }, { codec: quote, replyCodec: price, timeoutMs: 2_000 })).toEqual({ cents: 4 });
    // Not bound (bindTopic: false): nothing checks the topic, but the message id still is bound.
    const loose = encrypted(json<{ sku: string }>(), { keyring, bindTopic: false });
    const unbound = await bus.respond(`${run}.loose`, { codec: loose, replyCodec: loose }, async (q) => q);
    expect(await bus.request(`${run}.loose`, { sku: 'B-7' }, { codec: loose, replyCodec: loose, timeoutMs: 2_000 })).toEqual({ sku: 'B-7' });
    await bound.close();
    await unbound.close();
  });

  it("delivers the id and timestamp a codec put on a request or reply, as publish does", async () => {
    const subject = `${run}.stamped`;
    const seen: Array<Pick<Message, 'id' | 'timestamp' | 'topic'>> = [];
    /** json(), with the id and event time the application gives, recording what arrives. */
    const stamped = (id: string, timestamp: number): Codec<{ n: number }> => {
      const inner = json<{ n: number }>();
      return {
        ...inner,
        encode: (value, init) => inner.encode(value, { ...init, id, timestamp }),
        decode: (message) => {
          seen.push({ id: message.id, timestamp: (message as Message).timestamp, topic: message.topic });
          return inner.decode(message);
        },
      };
    };
    const responding = await bus.respond(subject, { codec: stamped('unused', 1), replyCodec: stamped('reply-1', 1_600_000_000_456) }, async (v) => v);
    await bus.request(subject, { n: 1 }, { codec: stamped('request-1', 1_500_000_000_123), replyCodec: stamped('unused', 1), timeoutMs: 2_000 });
    expect(seen[0]).toEqual({ id: 'request-1', timestamp: 1_500_000_000_123, topic: subject });
    expect(seen[1]).toMatchObject({ id: 'reply-1', timestamp: 1_600_000_000_456 });
    // A time publish would refuse is refused here too, naming the request.
    const error = await bus.request(subject, { n: 1 }, { codec: stamped('request-2', -1), timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(isConfigError(error), String(error)).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`^request to "${subject}": timestamp must be a whole number`));
    await responding.close();
  });

  it('refuses a request beyond the server\'s max_payload with a ConfigError naming the size, the limit and what to do, as publish does', async () => {
    const subject = `${run}.too-large`;
    const limit = bus.native.connection.info!.max_payload;
    const responding = await bus.respond(subject, {}, async (bytes) => bytes);
    const error = await bus.request(subject, new Uint8Array(limit), { timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(isConfigError(error), String(error)).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(`^request to "${subject}": \\d+ bytes with headers exceed the server's max_payload of ${limit} bytes \\(raise max_payload in the server config, or store large payloads elsewhere and send a reference\\)$`),
    );
    await responding.close();
  });

  it('a reply beyond the server\'s max_payload reaches the requester as a responder failure naming the size, the limit and what to do', async () => {
    const subject = `${run}.reply-too-large`;
    const limit = bus.native.connection.info!.max_payload;
    const responding = await bus.respond(subject, {}, async () => new Uint8Array(limit));
    const error = await bus.request(subject, Uint8Array.of(1), { timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect((error as { reason?: string }).reason, String(error)).toBe('responder-failed');
    expect((error as Error).message).toMatch(new RegExp(`reply on "${subject}": \\d+ bytes with headers exceed the server's max_payload of ${limit} bytes \\(raise max_payload`));
    await responding.close();
  });

  it('works the same on a JetStream-mode transport', async () => {
    const js = nats();
    try {
      const subject = `${run}.js-echo`;
      await js.respond(subject, {}, async (bytes) => bytes);
      const reply = await js.request(subject, Uint8Array.of(7, 8, 9), { timeoutMs: 2_000 });
      expect([...reply]).toEqual([7, 8, 9]);
    } finally {
      await js.close();
    }
  });
});

describe('NATS responder whose error reply cannot be sent as it is', () => {
  it('a responder error too large for max_payload reaches the requester shortened, instead of rejecting unhandled (which ends the process)', async () => {
    const subject = `${run}.huge-error`;
    const bus = nats({ mode: 'core' });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const responding = await bus.respond(subject, {}, async () => {
        throw new Error(`cannot price ${'x'.repeat(2_000_000)}`); // e.g. an error quoting a large request
      });
      const error = await bus.request(subject, new Uint8Array([1]), { timeoutMs: 2_000 }).catch((e: unknown) => e);
      expect(isTransportError(error) && (error as { reason?: string }).reason).toBe('responder-failed');
      expect((error as Error).message).toMatch(/the responder failed: cannot price x+…$/);
      expect((error as Error).message.length).toBeLessThan(5_000);
      await responding.close(); // it waits for the answer: settled, not rejected
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await bus.close();
    }
  });
});
