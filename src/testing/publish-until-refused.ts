import type { Transport } from '../core/transport.ts';

/** What `publishUntilRefused` saw. */
export interface Refused {
  /** Ids of the messages whose publish resolved, in order. */
  acked: string[];
  /** What the first refused publish rejected with. */
  refusal: unknown;
}

/**
 * Publishes batches of `payload` to `topic` until one is refused (a full disk, a storage limit),
 * for tests of what a transport does then. Message ids are `m-<batch>-<index>`. Throws if nothing
 * was refused after `maxBatches`.
 *
 * @example
 * ```ts
 * const { acked, refusal } = await publishUntilRefused(bus, 'orders', new Uint8Array(8192));
 * ```
 */
export async function publishUntilRefused(bus: Transport, topic: string, payload: Uint8Array, options: { batch?: number; maxBatches?: number } = {}): Promise<Refused> {
  const size = options.batch ?? 8;
  const acked: string[] = [];
  for (let n = 0; n < (options.maxBatches ?? 10_000); n++) {
    const batch = Array.from({ length: size }, (_, i) => ({ id: `m-${n}-${i}`, payload }));
    try {
      await bus.publish(topic, batch);
    } catch (refusal) {
      return { acked, refusal };
    }
    acked.push(...batch.map((m) => m.id));
  }
  throw new Error(`publishUntilRefused: ${acked.length} messages to "${topic}" and no refusal`);
}
