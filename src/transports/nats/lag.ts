import { natsError } from './errors.ts';
import { isNotFound } from './streams.ts';
import type { NatsTransport } from './transport.ts';

/** How far one group is behind on one topic (JetStream consumer state). */
export interface NatsGroupLag {
  topic: string;
  group: string;
  stream: string;
  consumer: string;
  /** Messages matching the topic not yet delivered to the group (`num_pending`). */
  pending: number;
  /** Delivered and not yet acknowledged (`num_ack_pending`). */
  ackPending: number;
  /** Waiting for redelivery after a nak or ack timeout (`num_redelivered`). */
  redelivered: number;
  /** `pending + ackPending`: what the group still has to process. */
  lag: number;
}

/**
 * Lag of JetStream groups: for each `{ topic, group }` (default: the transport's open
 * subscriptions), the durable consumer's `num_pending + num_ack_pending`. A group whose consumer
 * does not exist yet is left out. For the lag monitor in observability.
 *
 * @example
 * ```ts
 * for (const l of await natsLag(bus)) console.log(`${l.group} on ${l.topic}: ${l.lag} behind`);
 * ```
 */
export async function natsLag(transport: NatsTransport, groups?: ReadonlyArray<{ topic: string; group: string }>): Promise<NatsGroupLag[]> {
  const wanted = groups ?? transport.subscriptions();
  const seen = new Set<string>();
  const out: NatsGroupLag[] = [];
  for (const { topic, group } of wanted) {
    const id = `${group}\0${topic}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const located = await transport.locate(topic, group);
    if (!located) continue; // no stream holds the topic: nothing was ever published there
    const { manager, stream, consumer } = located;
    let info;
    try {
      info = await manager.consumers.info(stream, consumer);
    } catch (error) {
      if (isNotFound(error)) continue;
      throw natsError(`cannot read lag of group "${group}" on "${topic}"`, error);
    }
    const pending = info.num_pending;
    const ackPending = info.num_ack_pending;
    out.push({ topic, group, stream, consumer, pending, ackPending, redelivered: info.num_redelivered, lag: pending + ackPending });
  }
  return out;
}
