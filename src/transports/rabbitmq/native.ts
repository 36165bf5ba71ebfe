import type { Connection, Publisher } from 'rabbitmq-client';

/**
 * The rabbitmq-client objects under a connected transport (`transport.native`), for what the
 * contract does not cover: RPC clients, `basicGet`, ad-hoc declarations, exchange-to-exchange
 * bindings. Do not close them; `transport.close()` does.
 *
 * @example
 * ```ts
 * await bus.connect();
 * const { connection } = bus.native;
 * const { messageCount } = await connection.queueDeclare({ queue: 'email', passive: true });
 * ```
 */
export interface RabbitMQNative {
  /** The connection; it reconnects by itself. */
  connection: Connection;
  /** The confirming publisher `publish()` uses. */
  publisher: Publisher;
}

export type { Connection, Publisher, Channel, AsyncMessage, Envelope, ConnectionOptions } from 'rabbitmq-client';
