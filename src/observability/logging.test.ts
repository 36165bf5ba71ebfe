import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Router } from '../router/router.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory } from '../transports/memory/index.ts';
import { logging, messageFields, pinoLogger, safeFields } from './logging.ts';

function capture(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, stream };
}

describe('logging', () => {
  it('pinoLogger writes structured fields and never credentials or payloads', () => {
    const { lines, stream } = capture();
    const logger = pinoLogger(pino({ level: 'debug' }, stream));
    logger.warn('cannot connect', { url: 'amqp://app:s3cret@rabbit:5672/', password: 'hunter2', payload: new Uint8Array([1, 2]), nested: { apiKey: 'k', ok: 1 } });
    expect(lines[0]).toMatchObject({ level: 40, msg: 'cannot connect', url: 'amqp://app:***@rabbit:5672/', password: '[redacted]', payload: '[redacted]', nested: { apiKey: '[redacted]', ok: 1 } });
    expect(JSON.stringify(lines)).not.toMatch(/s3cret|hunter2/);
  });

  it('safeFields redacts qualified credential names too (clientSecret, x-api-key, dbPassword), not look-alikes', () => {
    const fields = safeFields({
      clientSecret: 's1',
      'x-api-key': 's2',
      dbPassword: 's3',
      headers: { 'proxy-authorization': 'Basic s4', 'x-auth-token': 's5' },
      secretAccessKey: 's6',
      passphrase: 's7',
      tokenCount: 3,
      payloadSize: 12,
    });
    expect(JSON.stringify(fields)).not.toMatch(/s[1-7]/);
    expect(fields).toMatchObject({ tokenCount: 3, payloadSize: 12 });
  });

  it('safeFields masks credential query parameters even in text without a URL password, and shows dates as dates', () => {
    const fields = safeFields({ error: 'connect failed: postgres://db/app?sslmode=require&password=hunter2', at: new Date(0), never: new Date(Number.NaN) });
    expect(fields).toEqual({ error: 'connect failed: postgres://db/app?sslmode=require&password=***', at: '1970-01-01T00:00:00.000Z', never: 'Invalid Date' });
  });

  it('pinoLogger masks passwords in the message text too, unless redact: false', () => {
    const { lines, stream } = capture();
    pinoLogger(pino({ level: 'debug' }, stream)).warn('closing transport "rabbitmq" failed: amqp://app:s3cret@rabbit:5672/ and pg ?password=hunter2');
    expect(lines[0]!.msg).toBe('closing transport "rabbitmq" failed: amqp://app:***@rabbit:5672/ and pg ?password=***');
    pinoLogger(pino({ level: 'debug' }, stream), { redact: false }).info('raw amqp://app:s3cret@rabbit');
    expect(lines[1]!.msg).toBe('raw amqp://app:s3cret@rabbit');
  });

  it('pinoLogger masks every credential form in messages and fields, and shows URL objects redacted, not as {}', () => {
    const { lines, stream } = capture();
    const logger = pinoLogger(pino({ level: 'debug' }, stream));
    logger.warn('cannot connect to amqp://app:p/ss#1?x@rabbit:5672/ or nats://tok3n-secret@nats:4222');
    logger.error('pg failed', {
      url: new URL('postgres://postgres:pg-s3cret@db:5432/test?sslmode=require'),
      nats: new URL('nats://tok3n-secret@nats:4222'),
      conninfo: "host=db user=postgres password='pg s3cret' dbname=test",
      redis: 'redis://:re/dis s3cret@cache:6379/0',
      kafka: { 'sasl.username': 'app', 'sasl.password': 'k-s3cret', 'bootstrap.servers': 'b:9092' },
      error: new Error('connect failed: amqp://app:p ss s3cret@rabbit:5672/'),
    });
    expect(lines[0]!.msg).toBe('cannot connect to amqp://app:***@rabbit:5672/ or nats://***@nats:4222');
    expect(lines[1]).toMatchObject({
      url: 'postgres://postgres:***@db:5432/test?sslmode=require',
      nats: 'nats://***@nats:4222',
      conninfo: 'host=db user=postgres password=*** dbname=test',
      redis: 'redis://:***@cache:6379/0',
      kafka: { 'sasl.username': 'app', 'sasl.password': '[redacted]', 'bootstrap.servers': 'b:9092' },
      error: { message: 'connect failed: amqp://app:***@rabbit:5672/' },
    });
    expect(JSON.stringify(lines)).not.toMatch(/p\/ss|tok3n|s3cret/);
  });

  it('safeFields shows byte arrays by size and errors by name and message', () => {
    expect(safeFields({ bytes: new Uint8Array(3), error: new TypeError('x') })).toEqual({ bytes: '[3 bytes]', error: { name: 'TypeError', message: 'x' } });
  });

  it('safeFields keeps an error\'s code and its cause chain, cleaned the same way and depth-bounded', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5672'), { code: 'ECONNREFUSED', errno: -111 });
    const failed = new Error('cannot reach amqp://app:s3cret@rabbit:5672/', { cause: refused });
    const withObjectCause = Object.assign(new Error('rejected', { cause: { status: 401, token: 'hunter2' } }), { code: 42 });
    const fields = safeFields({ error: failed, other: withObjectCause, odd: Object.assign(new Error('x'), { code: { nested: true } }) });
    expect(fields).toEqual({
      error: {
        name: 'Error',
        message: 'cannot reach amqp://app:***@rabbit:5672/',
        cause: { name: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:5672', code: 'ECONNREFUSED' },
      },
      other: { name: 'Error', message: 'rejected', code: 42, cause: { status: 401, token: '[redacted]' } },
      odd: { name: 'Error', message: 'x' }, // a code that is neither string nor number is left out
    });
    expect(JSON.stringify(fields)).not.toMatch(/s3cret|hunter2/);
    // A cause that loops back on itself ends at the depth limit.
    const looped = new Error('loop');
    looped.cause = looped;
    let cause = safeFields({ e: looped }).e as { cause?: unknown };
    let links = 0;
    while (typeof cause === 'object' && cause.cause !== undefined) {
      cause = cause.cause as { cause?: unknown };
      links++;
    }
    expect(links).toBe(4);
    expect(cause).toBe('[cause]');
  });

  it('pinoLogger does not clean fields or text for a level pino has off', () => {
    const { lines, stream } = capture();
    let reads = 0;
    const fields = {
      get details(): string {
        reads++;
        return 'amqp://app:s3cret@rabbit';
      },
    };
    const logger = pinoLogger(pino({ level: 'info' }, stream));
    logger.debug('not logged', fields);
    expect(reads).toBe(0);
    logger.info('logged', fields);
    expect(reads).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ msg: 'logged', details: 'amqp://app:***@rabbit' })]);
    // Without isLevelEnabled (another pino-like logger), every level is cleaned as before.
    const seen: Array<[object, string]> = [];
    const bare = { debug: (f: object, m: string) => void seen.push([f, m]), info() {}, warn() {}, error() {} };
    pinoLogger(bare).debug('kept', fields);
    expect(reads).toBe(2);
    expect(seen).toEqual([[{ details: 'amqp://app:***@rabbit' }, 'kept']]);
  });

  it('logging() logs each delivery with transport, topic, group, handler, message id and attempt — and no payload', async () => {
    const { lines, stream } = capture();
    const bus = memory();
    const done = new Inbox();
    const router = new Router({ logger: pinoLogger(pino({ level: 'debug' }, stream)) });
    router.use(logging());
    router.handle('audit', { from: bus, topic: 'log.test', group: 'auditors' }, async (msg) => {
      if (msg.attempt === 1) throw new Error('first attempt fails');
      done.push({ ...msg, payload: msg.bytes });
    });
    await router.start();
    await bus.publish('log.test', { id: 'm-1', payload: new TextEncoder().encode('{"card":"4111111111111111"}') });
    await done.untilCount(1, 10_000);
    await router.stop();
    const mine = lines.filter((l) => l.msg === 'message handled' || l.msg === 'message failed');
    expect(mine).toEqual([
      expect.objectContaining({ msg: 'message failed', transport: 'memory', topic: 'log.test', group: 'auditors', handler: 'audit', messageId: 'm-1', attempt: 1, error: 'first attempt fails' }),
      expect.objectContaining({ msg: 'message handled', messageId: 'm-1', attempt: 2 }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('4111');
    expect(messageFields({ topic: 't', id: 'i', attempt: 3 })).toEqual({ topic: 't', messageId: 'i', attempt: 3 });
  });
});
