// Notifications: an email queue. The confirm step enqueues one email per order (its message id
// is the step's idempotency key, so a re-run enqueues the same message and `idempotency()` skips
// it). The email provider can turn slow; `timeout()` fails the slow sends and `circuitBreaker()`
// pauses the queue's consumption until the provider answers again — nothing is lost, the queue
// just waits.
import { circuitBreaker, idempotency, json, retry, timeout, type CircuitBreaker, type IdempotencyStore, type Router, type Transport } from 'switchyard';
import { TOPICS } from './topics.ts';

export interface EmailRequest {
  orderId: string;
  customerId: string;
  totalCents: number;
}

/** A stand-in for the email provider. Slow while `slow` says so: each send then hangs ~1 s. */
export class EmailProvider {
  readonly sent = new Map<string, number>();
  slow: () => boolean = () => false;

  async send(email: EmailRequest, signal: AbortSignal): Promise<void> {
    const ms = this.slow() ? 1_000 : 1;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason as Error)), { once: true });
    });
    signal.throwIfAborted();
    this.sent.set(email.orderId, (this.sent.get(email.orderId) ?? 0) + 1);
  }
}

export interface Notifications {
  readonly provider: EmailProvider;
  readonly breaker: CircuitBreaker;
  /** How often the circuit opened. */
  opened: number;
}

// #region email-route
export function notifications(router: Router, processes: Transport, dedup: IdempotencyStore): Notifications {
  const provider = new EmailProvider();
  const breaker = circuitBreaker({ failureThreshold: 5, resetTimeoutMs: 300 });
  const state: Notifications = { provider, breaker, opened: 0 };
  breaker.on((e) => {
    if (e.type === 'open') state.opened++;
  });
  router.handle(
    'send-email',
    {
      from: processes,
      topic: TOPICS.email,
      group: 'email',
      codec: json<EmailRequest>(),
      concurrency: 8,
      start: 'earliest',
      // No dead-letter here: an email that cannot go out yet is redelivered until the provider is back.
      use: [retry({ attempts: 3, initialDelayMs: 20 }), breaker, timeout(100), idempotency({ store: dedup })],
    },
    async (msg, ctx) => provider.send(msg.payload, ctx.signal),
  );
  return state;
}
// #endregion email-route
