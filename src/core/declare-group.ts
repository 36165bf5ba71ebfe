import type { Transport } from './transport.ts';

/**
 * Creates consumer group `group` on `topic` without reading anything: subscribes and leaves at
 * once. Where a message reaches only the groups that exist when it is published (RabbitMQ queues),
 * what is published next then waits for the group. A message already waiting that slips in before
 * the subscription pauses is failed, so the transport hands it back to the group rather than
 * acknowledge it unread.
 *
 * @example
 * ```ts
 * await declareGroup(bus, 'orders.placed', 'billing'); // billing's queue now collects orders
 * ```
 */
export async function declareGroup(transport: Transport, topic: string, group: string): Promise<void> {
  const sub = await transport.subscribe(topic, { group, from: 'earliest' }, async () => {
    throw new Error(`not read here: only declaring group "${group}"`);
  });
  sub.pause();
  await sub.close();
}
