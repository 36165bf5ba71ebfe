import type { Admin, Consumer, Producer } from '@platformatic/kafka';
import { ConfigError } from '../../core/errors.ts';
import type { Subscription } from '../../core/transport.ts';
import { KafkaSubscription } from './consumer.ts';
import type { KafkaTransport } from './transport.ts';

/** The @platformatic/kafka clients behind a connected Kafka transport. */
export interface KafkaNative {
  /** Sends records (Buffer keys, values and headers). */
  producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  /** Topics, configs, groups, offsets, ACLs. */
  admin: Admin;
}

/**
 * Typed access to the clients under a Kafka transport, for what the contract does not cover
 * (transactions, admin operations, raw records). Connects the transport first.
 *
 * @example
 * ```ts
 * import { kafka, kafkaNative } from 'switchyard/kafka';
 * const bus = kafka({ brokers: ['127.0.0.1:9092'] });
 * const { admin } = await kafkaNative(bus);
 * console.log(await admin.listTopics());
 * ```
 */
export async function kafkaNative(transport: KafkaTransport): Promise<KafkaNative> {
  await transport.connect();
  const { producer, admin } = transport.clients;
  return { producer: producer!.client, admin: admin! };
}

/**
 * The consumer-group member behind a Kafka subscription (undefined while it reconnects).
 *
 * @example
 * ```ts
 * const sub = await bus.subscribe('orders.placed', { group: 'billing' }, handler);
 * console.log(kafkaConsumer(sub)?.assignments);
 * ```
 */
export function kafkaConsumer(subscription: Subscription): Consumer<Buffer, Buffer, Buffer, Buffer> | undefined {
  if (!(subscription instanceof KafkaSubscription)) throw new ConfigError('kafkaConsumer() needs a subscription made by the kafka transport');
  return subscription.consumer;
}
