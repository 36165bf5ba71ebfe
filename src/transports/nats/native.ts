import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * The NATS clients under a connected transport, for what the contract does not cover (key-value
 * and object stores, stream administration, direct gets, custom subjects).
 *
 * @example
 * ```ts
 * const { connection, manager } = bus.native;
 * const info = await manager!.streams.info('SY_orders');
 * ```
 */
export interface NatsNative {
  /** The core connection (request-reply, core subjects, status). */
  connection: NatsConnection;
  /** The JetStream client; undefined in core mode. */
  jetstream: JetStreamClient | undefined;
  /** The JetStream manager (streams, consumers); undefined in core mode. */
  manager: JetStreamManager | undefined;
}
