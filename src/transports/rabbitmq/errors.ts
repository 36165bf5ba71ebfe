import { ConfigError, isConfigError, isTimeoutError, isTransportError, TransportError, type SwitchyardError } from '../../core/errors.ts';

/**
 * AMQP reply codes that mean "the request itself is wrong" — retrying cannot help, the
 * configuration or the broker's existing state must change.
 */
const CONFIG_CODES: Record<string, string> = {
  PRECONDITION_FAILED: 'it already exists with different settings, or the request conflicts with its settings; delete it or use the same settings',
  NOT_FOUND: 'it does not exist; declare it in `topology` or create it first',
  ACCESS_REFUSED: 'the user may not do this; check the credentials and the user’s permissions on the vhost',
  RESOURCE_LOCKED: 'an exclusive queue is in use by another connection',
  NOT_ALLOWED: 'the broker does not allow it (vhost, or an argument the queue type does not support)',
  COMMAND_INVALID: 'the broker rejected the command as invalid',
};

/** The AMQP error code (`PRECONDITION_FAILED`, `CONN_CLOSE`, …) of a client error, if any. */
export function amqpCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Turns what rabbitmq-client threw into a ConfigError (a mistake to fix) or a TransportError
 * (the broker or the network failed; `retryable`). `what` says what was being done.
 * Switchyard errors pass through unchanged.
 */
export function toSwitchyardError(error: unknown, what: string): SwitchyardError {
  if (isConfigError(error) || isTransportError(error) || isTimeoutError(error)) return error;
  const code = amqpCode(error);
  const cause = (error as { cause?: unknown } | null)?.cause;
  const message = (error instanceof Error ? error.message : String(error)).replace(/^undefined: /, '') + (cause instanceof Error ? ` (${cause.message})` : '');
  const hint = code === undefined ? undefined : CONFIG_CODES[code];
  if (hint !== undefined) return new ConfigError(`rabbitmq: ${what} failed with ${code}: ${message} — ${hint}`, { cause: error });
  return new TransportError(`rabbitmq: ${what} failed${code ? ` (${code})` : ''}: ${message}`, { cause: error, retryable: true });
}
