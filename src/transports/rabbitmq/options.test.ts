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
});
