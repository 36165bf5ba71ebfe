import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import { resolveOptions } from './options.ts';

describe('rabbitmq options', () => {
  it('defaults to confirms, no mandatory, the shared topic exchange and delayed redelivery', () => {
    const o = resolveOptions({ url: 'amqp://u:p@h:5672/v' });
    expect(o).toMatchObject({ confirm: true, mandatory: false, exchange: 'switchyard.topics', redeliveryDelaysMs: [1_000, 5_000, 30_000], heartbeatSeconds: 10, publishTimeoutMs: 30_000 });
    expect(o.queueName('orders.placed', 'billing')).toBe('orders.placed.billing');
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      resolveOptions({ url: 'nats://x', prefetch: 1.5, redeliveryDelaysMs: [-1], exchange: 'amq.topic', groupQueue: { type: 'quorum', overflow: 'reject-publish-dlx' }, routes: { 'bad topic': { exchange: 'e' } } });
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    const problems = (error as { problems: string[] }).problems;
    expect(problems.length).toBe(6);
    expect(problems.join('\n')).toMatch(/amqp:\/\//);
    expect(problems.join('\n')).toMatch(/reject-publish-dlx/);
  });

  it('checks managementUrl when the options are read, never showing it', () => {
    const problemsOf = (managementUrl: string): string[] => {
      try {
        resolveOptions({ managementUrl });
        return [];
      } catch (error) {
        return (error as { problems: string[] }).problems;
      }
    };
    expect(problemsOf('http//admin:MgmtSecret99@127.0.0.1:15672')).toEqual([
      'managementUrl is not a URL (40 characters, not shown as it may hold a password): expected http(s)://user:pass@host:15672',
    ]);
    expect(problemsOf('http://admin:%E0%A4%A@127.0.0.1:15672').join()).toMatch(/^managementUrl is not a URL \(\d+ characters, not shown/);
    expect(problemsOf('amqp://admin:x@127.0.0.1:15672')).toEqual(['managementUrl must be http: or https:, got amqp:: expected http(s)://user:pass@host:15672']);
    expect(problemsOf('http://admin:MgmtSecret99@127.0.0.1:15672')).toEqual([]);
  });
});
