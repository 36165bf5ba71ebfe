import type { Status } from '@nats-io/transport-node';

/**
 * What happens to the NATS connection and the transport's consumers, as a discriminated union
 * to `switch` on exhaustively (dashboards, metrics, logs).
 */
export type NatsStatus =
  | { type: 'connected'; server: string }
  /** The connection dropped; the client is reconnecting. Publishes wait (JetStream retries them, same id). */
  | { type: 'disconnected'; server: string }
  | { type: 'reconnecting' }
  | { type: 'reconnected'; server: string }
  /** `maxPingsOut` pings went unanswered: the connection is treated as dead and re-established. */
  | { type: 'stale-connection' }
  /** The server asked clients to move (lame-duck mode) before it shuts down. */
  | { type: 'lame-duck'; server: string }
  /**
   * Messages pile up unhandled: the client's own notice, or a core-mode subscription whose buffer
   * (`maxBufferedMessages`) is full and drops what arrives. The latter is said once per overload
   * (again after its buffer drained to half), with `dropped`: the messages it dropped so far.
   */
  | { type: 'slow-consumer'; subject: string; pending: number; dropped?: number }
  | { type: 'error'; error: Error }
  /** A group's consumer reported trouble (pull request unanswered, consumer or stream deleted). */
  | { type: 'consumer'; topic: string; group: string; detail: string }
  /**
   * A message of a group reached `consumers.maxDeliver`: JetStream delivers it to the group no more.
   * `reason` is the last error of its handler, or why it went unacknowledged (see docs/nats.md). It
   * stays in the stream at `streamSequence` until the stream's limits drop it; `deadLetterTopic` is
   * where a copy was published (`consumers.deadLetterTopic`), absent when none was. With no status
   * listener, `detail` is written as a process warning (code `SWITCHYARD_NATS_MAX_DELIVERIES`).
   */
  | {
      type: 'max-deliveries';
      topic: string;
      group: string;
      stream: string;
      streamSequence: number;
      deliveries: number;
      messageId?: string;
      reason: string;
      deadLetterTopic?: string;
      /** All of the above in one sentence, for logs. */
      detail: string;
    }
  /** The connection is closed for good (by `close()` or after `maxReconnects`). */
  | { type: 'closed'; error?: Error };

/** A status listener. */
export type NatsStatusListener = (status: NatsStatus) => void;

/** The client's own status event as a NatsStatus, or undefined for ones not worth reporting (pings, cluster updates). */
export function fromClientStatus(s: Status): NatsStatus | undefined {
  switch (s.type) {
    case 'disconnect':
      return { type: 'disconnected', server: s.server };
    case 'reconnecting':
      return { type: 'reconnecting' };
    case 'reconnect':
      return { type: 'reconnected', server: s.server };
    case 'staleConnection':
      return { type: 'stale-connection' };
    case 'ldm':
      return { type: 'lame-duck', server: s.server };
    case 'slowConsumer':
      return { type: 'slow-consumer', subject: s.sub.getSubject(), pending: s.pending };
    case 'error':
      return { type: 'error', error: s.error };
    case 'close':
      return { type: 'closed' };
    default:
      return undefined;
  }
}

/** Fans status events out to listeners and to `for await` readers. A throwing listener cannot break the others. */
export class StatusEmitter {
  readonly #listeners = new Set<NatsStatusListener>();
  /** Listeners of the transport's own parts (subscriptions following the connection), not the application's. */
  readonly #internal = new WeakSet<NatsStatusListener>();

  /** Adds a listener; returns the function that removes it. `internal`: the transport's own, not the application's. */
  on(listener: NatsStatusListener, internal = false): () => void {
    const own = internal ? (s: NatsStatus) => listener(s) : listener;
    if (internal) this.#internal.add(own);
    this.#listeners.add(own);
    return () => this.#listeners.delete(own);
  }

  /** Whether the application listens (else what must not go unnoticed is also written as a process warning). */
  get listening(): boolean {
    for (const listener of this.#listeners) if (!this.#internal.has(listener)) return true;
    return false;
  }

  emit(status: NatsStatus): void {
    for (const listener of this.#listeners) {
      try {
        listener(status);
      } catch {
        // a listener's bug must not stop the transport
      }
    }
  }

  /** The events from now on, until `signal` aborts (or the transport closes). */
  async *iterate(signal?: AbortSignal): AsyncGenerator<NatsStatus> {
    const queue: NatsStatus[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const off = this.on((s) => {
      queue.push(s);
      if (s.type === 'closed') done = true;
      wake?.();
    });
    const abort = (): void => {
      done = true;
      wake?.();
    };
    signal?.addEventListener('abort', abort, { once: true });
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (done || signal?.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      off();
      signal?.removeEventListener('abort', abort);
    }
  }
}
