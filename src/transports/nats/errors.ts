import { ConfigError, TimeoutError, TransportError } from '../../core/errors.ts';

/** Why a NATS operation failed, where that steers what the caller does next. */
export type NatsFailure = 'no-responders' | 'responder-failed' | 'connection-closed' | 'permission' | 'storage-full' | 'stream-full' | 'broker';

/**
 * A TransportError from the NATS transport with a `reason` to switch on. Request-reply
 * distinguishes `no-responders` (nobody listens on the subject: fail fast, do not retry blindly)
 * from TimeoutError (somebody may be listening but did not answer in time).
 */
export class NatsTransportError extends TransportError {
  readonly reason: NatsFailure;

  constructor(message: string, reason: NatsFailure, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options);
    this.name = 'NatsTransportError';
    this.reason = reason;
  }
}

/** True for the error `request()` rejects with when no responder listens on the subject. */
export function isNoRespondersError(error: unknown): error is NatsTransportError {
  return (error as { code?: string; reason?: string })?.code === 'TRANSPORT' && (error as { reason?: string }).reason === 'no-responders';
}

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Error names and messages of the NATS client that mean "the request got no answer in time". */
export function isNatsTimeout(error: unknown): boolean {
  const e = error as { name?: string; message?: string; code?: string };
  return e?.name === 'TimeoutError' || e?.code === 'TIMEOUT' || /timeout/i.test(String(e?.message ?? ''));
}

/** Whether the NATS client reported "no responders" (503) — in JetStream: the stream is missing or the server is not ready. */
export function isNatsNoResponders(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; e && depth < 4; depth++) {
    const x = e as { name?: string; message?: string; isNoResponders?: () => boolean; cause?: unknown };
    if (x.name === 'NoRespondersError' || (typeof x.isNoResponders === 'function' && x.isNoResponders())) return true;
    if (/no responders|503|jetstream is not enabled/i.test(String(x.message ?? ''))) return true;
    e = x.cause;
  }
  return false;
}

/** Whether the connection is closed for good (not merely reconnecting). */
export function isNatsClosed(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e?.name === 'ClosedConnectionError' || e?.name === 'DrainingConnectionError' || /connection (closed|draining)/i.test(String(e?.message ?? ''));
}

/**
 * A NATS client error as a Switchyard error: ConfigError for what the caller must fix (bad
 * subjects, limits, permissions), TimeoutError for deadlines, TransportError otherwise.
 */
export function natsError(what: string, error: unknown, timeoutMs?: number): Error {
  const message = text(error);
  const name = (error as { name?: string })?.name ?? '';
  if (name === 'InvalidSubjectError' || name === 'InvalidArgumentError' || /maximum payload|max_payload|MAX_PAYLOAD/i.test(message)) {
    return new ConfigError(`${what}: ${message}`, { cause: error });
  }
  if (name === 'PermissionViolationError' || name === 'AuthorizationError' || /permission|authorization/i.test(message)) {
    return new NatsTransportError(`${what}: ${message}`, 'permission', { cause: error, retryable: false });
  }
  if (/insufficient resources/i.test(message)) {
    // JetStream's answer (API error 10023) once the server's store limit or its disk is reached.
    return new NatsTransportError(
      `${what}: JetStream has no storage left (${message}): the server reached its max_file_store or max_memory_store, or its disk is full. ` +
        "Free space or raise the limit in the server's jetstream block, or give the stream limits (the transport's streams option: maxBytes, maxAge) so old messages make room",
      'storage-full',
      { cause: error, retryable: true },
    );
  }
  if (/maximum (messages|bytes|messages per subject) exceeded/i.test(message)) {
    // JetStream's answer (API errors 10077-10079) from a stream with discard: new at one of its limits.
    return new NatsTransportError(
      `${what}: the stream is full and refuses new messages (${message}): it keeps what it has (discard: new) and reached its max_msgs, ` +
        'max_bytes or max_msgs_per_subject. Room comes back as consumers acknowledge (workqueue or interest retention) or messages age out; ' +
        'otherwise raise the limit or switch the stream to discard: old (nats stream edit). Messages stored before this one stay stored; publishing again is safe',
      'stream-full',
      { cause: error, retryable: true },
    );
  }
  if (timeoutMs !== undefined && isNatsTimeout(error)) return new TimeoutError(what, timeoutMs, { cause: error });
  if (isNatsClosed(error)) return new NatsTransportError(`${what}: the NATS connection is closed (${message})`, 'connection-closed', { cause: error, retryable: false });
  return new NatsTransportError(`${what}: ${message}`, 'broker', { cause: error, retryable: true });
}
