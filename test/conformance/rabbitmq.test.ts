import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { rabbitmq, type RabbitMQTransport } from '../../src/transports/rabbitmq/index.ts';
import { deleteDeclared } from '../../src/transports/rabbitmq/test-support.ts';
import { describeTransport } from '../../src/testing/index.ts';

// Against the real broker (SWITCHYARD_AMQP_URL). A per-run exchange, and every queue the suite's
// transports declared is deleted afterwards, so the shared broker keeps nothing.
const run = randomBytes(4).toString('hex');
const made: RabbitMQTransport[] = [];
const factory = (): RabbitMQTransport => {
  const t = rabbitmq({ exchange: `switchyard.conformance.${run}`, redeliveryDelaysMs: [100] });
  made.push(t);
  return t;
};
afterAll(() => deleteDeclared(made));

describeTransport('rabbitmq', factory, rabbitmq().capabilities, { topicPrefix: `conformance-${run}` });
