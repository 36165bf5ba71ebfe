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
});
