import { isConfigError, isPermanentError, isTransportError } from '../core/errors.ts';

/**
 * Whether a failed publish may succeed later as it is: a broker that is down or busy, yes; a
 * message or topic the broker refuses (PermanentError, ConfigError, a TransportError marked not
 * retryable, such as Kafka's MESSAGE_TOO_LARGE), no. Unknown errors count as curable, so nothing is
 * given up on for an error nobody classified. The outbox relay and the bridge both decide with it
 * when to stop trying a message.
 */
export function curable(error: unknown): boolean {
  if (isPermanentError(error) || isConfigError(error)) return false;
  return !isTransportError(error) || error.retryable;
}
