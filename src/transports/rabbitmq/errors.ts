import { ConfigError, isConfigError, isTimeoutError, isTransportError, TransportError, type SwitchyardError } from '../../core/errors.ts';
import { redact, redactUrl, urlSecrets } from '../../core/redact.ts';
import { tlsError } from '../../internal/transport-tls.ts';

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
  const message = clientMessage(error) + (cause instanceof Error ? ` (${cause.message})` : '');
  const hint = /larger than configured max size/i.test(message)
    ? "the broker's max_message_size is lower than this message; raise it on the broker, or lower maxPayloadBytes to the same value so publish() refuses such messages up front"
    : code === 'CODEC' && /frame size of \d+ bytes exceeds maximum/.test(message)
      ? "the message's headers, key and id do not fit in one AMQP frame (frame_max); send fewer or smaller headers or a shorter key or id"
      : code === undefined
        ? undefined
        : CONFIG_CODES[code];
  if (hint !== undefined) return new ConfigError(`rabbitmq: ${what} failed with ${code}: ${message} — ${hint}`, { cause: error });
  // The client could not encode or decode a frame: sending the same thing again fails the same way.
  const retryable = code !== 'CODEC';
  return new TransportError(`rabbitmq: ${what} failed${code ? ` (${code})` : ''}: ${message}`, { cause: error, retryable });
}

/** rabbitmq-client's message, without the "undefined: " it puts before a connection-level refusal. */
function clientMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/^undefined: /, '');
}

/**
 * A failed first connection as a distinct error that says what to do: the certificate (not
 * trusted, wrong host name), the credentials (login refused), the vhost (access refused), or
 * else the network. The URL's password is masked everywhere in the message.
 */
export function connectError(error: unknown, url: string): SwitchyardError {
  const where = redactUrl(url);
  const secrets = urlSecrets(url);
  const what = `rabbitmq: connecting to ${where}`;
  const tls = tlsError(what, error, 'tls', secrets);
  if (tls) return tls;
  const code = amqpCode(error);
  const message = redact(clientMessage(error), secrets);
  if (code === 'ACCESS_REFUSED' && /login was refused|authentication/i.test(message)) {
    let user = '';
    try {
      user = decodeURIComponent(new URL(url).username);
    } catch {
      // the URL was validated by resolveOptions
    }
    return new ConfigError(
      `${what}: authentication failed (${message}): RabbitMQ refused user "${user}"; check the user name and password in the url (or the broker's auth mechanisms)`,
      { cause: error },
    );
  }
  if (code === 'NOT_ALLOWED' && /vhost/i.test(message)) {
    return new ConfigError(`${what}: ${message}: the user may not use this vhost; grant it with rabbitmqctl set_permissions -p <vhost> <user> ... or use another vhost in the url`, {
      cause: error,
    });
  }
  const mapped = toSwitchyardError(error, `connecting to ${where}`);
  mapped.message = redact(mapped.message, secrets);
  return mapped;
}
