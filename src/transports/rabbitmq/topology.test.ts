import { describe, expect, it } from 'vitest';
import { queueArguments, queueDeclaration, topologyProblems } from './topology.ts';

describe('rabbitmq topology', () => {
  it('turns queue settings into x-arguments', () => {
    expect(queueArguments({ type: 'quorum', messageTtlMs: 86_400_000, maxLength: 10_000, overflow: 'reject-publish', deadLetterExchange: 'dlx', deadLetterRoutingKey: 'dead', singleActiveConsumer: true })).toEqual({
      'x-queue-type': 'quorum',
      'x-message-ttl': 86_400_000,
      'x-max-length': 10_000,
      'x-overflow': 'reject-publish',
      'x-dead-letter-exchange': 'dlx',
      'x-dead-letter-routing-key': 'dead',
      'x-single-active-consumer': true,
    });
    expect(queueDeclaration('q', {})).toEqual({ queue: 'q', durable: true, autoDelete: false, exclusive: false, arguments: {} });
  });

  it('finds problems in exchanges, queues and bindings', () => {
    const problems = topologyProblems({
      exchanges: [{ name: 'amq.mine', type: 'topic' }, { name: 'x', type: 'weird' as 'topic' }],
      queues: [{ name: '', maxLength: -1 }],
      bindings: [{ exchange: 'x' }, { exchange: 'x', queue: 'q', toExchange: 'y' }],
    });
    expect(problems).toHaveLength(6);
  });
});
