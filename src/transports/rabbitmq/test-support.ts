import { Connection } from 'rabbitmq-client';
import { defaultAmqpUrl, type RabbitMQOptions } from './options.ts';
import { rabbitmq, type RabbitMQTransport } from './transport.ts';

/**
 * For tests against a shared broker: deletes every queue and exchange the given transports
 * declared (they should be closed). The default shared exchange is never deleted.
 */
export async function deleteDeclared(transports: readonly RabbitMQTransport[], extra: { queues?: string[]; exchanges?: string[] } = {}): Promise<void> {
  const queues = new Set(extra.queues);
  const exchanges = new Set(extra.exchanges);
  for (const t of transports) {
    await t.close().catch(() => undefined);
    const declared = t.declared();
    for (const q of declared.queues) queues.add(q);
    for (const e of declared.exchanges) exchanges.add(e);
  }
  exchanges.delete('switchyard.topics');
  const connection = new Connection({ url: defaultAmqpUrl(), connectionName: 'switchyard test cleanup' });
  connection.on('error', () => undefined);
  try {
    for (const queue of queues) await connection.queueDelete({ queue }).catch(() => undefined);
    for (const exchange of exchanges) await connection.exchangeDelete({ exchange }).catch(() => undefined);
  } finally {
    await connection.close();
  }
}

/**
 * Transports for one test file on a shared broker: every exchange and queue they declare carries
 * `run` in its name, so files running at once never meet, and `cleanUp()` (for `afterAll`) closes
 * them and deletes what they declared. Failed messages come back at once unless `options` say.
 *
 * @example
 * ```ts
 * const { open, cleanUp } = isolatedTransports(randomBytes(4).toString('hex'));
 * afterAll(cleanUp);
 * const bus = open({ prefetch: 10 });
 * ```
 */
export function isolatedTransports(run: string): { open: (options?: RabbitMQOptions) => RabbitMQTransport; cleanUp: () => Promise<void> } {
  const made: RabbitMQTransport[] = [];
  return {
    open(options = {}) {
      const t = rabbitmq({ exchange: `switchyard.test.${run}`, queueName: (topic, group) => `${topic}.${group}.${run}`, redeliveryDelaysMs: [0], ...options });
      made.push(t);
      return t;
    },
    cleanUp: () => deleteDeclared(made),
  };
}
