import { Connection } from 'rabbitmq-client';
import { defaultAmqpUrl } from './options.ts';
import type { RabbitMQTransport } from './transport.ts';

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
