/**
 * What a transport can promise. The conformance suite runs a case only where the transport
 * claims the capability it needs, and prints the reason when it skips one.
 */
export interface Capabilities {
  /** A publish that resolved survives a restart of the broker and of the consuming process. */
  durable: boolean;
  /** A handler that throws gets the message again (at-least-once). False only for fire-and-forget modes. */
  redelivery: boolean;
  /**
   * A group keeps its place while it has no member: messages published meanwhile wait for it,
   * and a new member continues after the last acknowledged message.
   */
  persistentGroups: boolean;
  /** `from: 'earliest'` re-reads messages published before the group existed. */
  replay: boolean;
  /** Messages carry `partition` and `offset`. */
  partitions: boolean;
  /** Redelivery can be delayed (retry with backoff without blocking the stream). */
  delayedRedelivery: boolean;
  /** Subscriptions accept `*` and `>` patterns. */
  wildcards: boolean;
  /** The transport offers request-reply. */
  requestReply: boolean;
  /** Largest payload, in bytes, the transport carries by default. */
  maxPayloadBytes: number;
}
