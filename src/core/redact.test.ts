import { describe, expect, it } from 'vitest';
import { redact, redactUrl, urlSecrets } from './redact.ts';

describe('redaction', () => {
  it('masks passwords in URLs, in query parameters too, and given secrets', () => {
    expect(redact('cannot connect to amqp://app:hunter2@mq:5672/')).toBe('cannot connect to amqp://app:***@mq:5672/');
    expect(redact('at postgres://u@db:5432/test?password=QuerySecret123&application_name=x')).toBe('at postgres://u@db:5432/test?password=***&application_name=x');
    expect(redact('socket:/var/run/pg?db=test&sslpassword=abc123&token=t0k3n')).toBe('socket:/var/run/pg?db=test&sslpassword=***&token=***');
    expect(redact('token abc123 refused', ['abc123'])).toBe('token *** refused');
  });

  it('redactUrl masks the password, a token user name when asked, and secret query parameters', () => {
    expect(redactUrl('postgres://postgres:pw@127.0.0.1:5432/test?password=QuerySecret123&sslmode=require')).toBe(
      'postgres://postgres:***@127.0.0.1:5432/test?password=***&sslmode=require',
    );
    expect(redactUrl('nats://s3cr3t-token@127.0.0.1:4222', { userIsSecret: true })).toBe('nats://***@127.0.0.1:4222');
    expect(redactUrl('not a url at all')).toBe('(invalid url)');
    expect(urlSecrets('postgres://u:p%40ss@h/db?password=QuerySecret123')).toEqual(['p%40ss', 'p@ss', 'QuerySecret123']);
  });

  it('masks passwords with unencoded "/", "#", "?", "@" or spaces in them, keeping the rest of the URL readable', () => {
    expect(redact('connect failed: amqp://app:p/ss@mq:5672/')).toBe('connect failed: amqp://app:***@mq:5672/');
    expect(redact('connect failed: amqp://app:p#ss@mq:5672/vh?heartbeat=5')).toBe('connect failed: amqp://app:***@mq:5672/vh?heartbeat=5');
    expect(redact('connect failed: amqp://app:p?ss@mq:5672/')).toBe('connect failed: amqp://app:***@mq:5672/');
    expect(redact('connect failed: amqp://app:p@ss@mq:5672/')).toBe('connect failed: amqp://app:***@mq:5672/');
    expect(redact('connect failed: amqp://app:correct horse battery@mq:5672/ (ECONNREFUSED)')).toBe('connect failed: amqp://app:***@mq:5672/ (ECONNREFUSED)');
    expect(redact('redis://:re/dis pw@127.0.0.1:6379/0 and postgresql://postgres:pg#pw@127.0.0.1:5432/test')).toBe('redis://:***@127.0.0.1:6379/0 and postgresql://postgres:***@127.0.0.1:5432/test');
  });

  it('masks a NATS token given as the user name, in text and in redactUrl by default', () => {
    expect(redact('cannot connect to nats://tok3n-secret@127.0.0.1:4222, nats://u:pw@h2:4222')).toBe('cannot connect to nats://***@127.0.0.1:4222, nats://u:***@h2:4222');
    expect(redactUrl('nats://tok3n-secret@127.0.0.1:4222')).toBe('nats://***@127.0.0.1:4222');
    expect(redactUrl('amqp://app@mq/')).toBe('amqp://app@mq/'); // a user name alone is no secret elsewhere
  });

  it('masks password keywords of connection strings and configs: libpq conninfo, Kafka SASL, JAAS', () => {
    expect(redact('host=127.0.0.1 user=postgres password=pgpw dbname=test')).toBe('host=127.0.0.1 user=postgres password=*** dbname=test');
    expect(redact("host=db password='pg \\' pw' dbname=test")).toBe('host=db password=*** dbname=test');
    expect(redact('sasl.username=u sasl.password=kpw; bootstrap.servers=b:9092')).toBe('sasl.username=u sasl.password=***; bootstrap.servers=b:9092');
    expect(redact('PlainLoginModule required username="u" password="jaas pw";')).toBe('PlainLoginModule required username="u" password=***;');
  });

  it('leaves ordinary text alone: e-mail addresses, host:port URLs, message keys', () => {
    const plain = [
      'mail alice@example.com or mailto:bob@example.com',
      'amqp://mq:5672/ refused; ask ops@example.com',
      'nats://127.0.0.1:4222 refused, contact admin@example.com',
      'amqp://[::1]:5672/ down, see x@y',
      'key=order-42 partition=3 tokens=5',
    ];
    for (const text of plain) expect(redact(text)).toBe(text);
  });
});
