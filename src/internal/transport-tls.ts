import type { ConnectionOptions } from 'node:tls';
import { TransportError } from '../core/errors.ts';
import { redact } from '../core/redact.ts';

/**
 * The one way to turn certificate verification off, with the same name on every transport.
 * Node's own `rejectUnauthorized: false` is refused, so switching verification off is always
 * deliberate, visible in review, and logged.
 */
export interface SkipVerifyOption {
  /**
   * Accept ANY server certificate: unknown CA, wrong host name, expired. Anyone between the
   * client and the broker can then read and change every message and steal the credentials.
   * For throwaway local setups only; emits a `SWITCHYARD_TLS_VERIFY_OFF` process warning.
   * Default false.
   */
  dangerouslySkipVerify?: boolean;
}

/** Node `tls.connect` options plus `dangerouslySkipVerify`. */
export type TlsConnectOptions = ConnectionOptions & SkipVerifyOption;

/** Problems with a `tls` option, for the transport's ConfigError. */
export function tlsOptionProblems(name: string, value: unknown): string[] {
  if (value === undefined || typeof value === 'boolean') return [];
  if (typeof value !== 'object' || value === null) return [`${name} must be true, false or TLS options`];
  const o = value as TlsConnectOptions;
  const problems: string[] = [];
  if (o.dangerouslySkipVerify !== undefined && typeof o.dangerouslySkipVerify !== 'boolean') {
    problems.push(`${name}.dangerouslySkipVerify must be a boolean`);
  }
  for (const field of ['ca', 'cert', 'key'] as const) {
    if (pemEntries(o[field]).some(notPem)) {
      problems.push(
        `${name}.${field} must be PEM text (with a -----BEGIN line), not a file path or DER bytes: ` +
          `pass the file's contents, e.g. readFileSync(path, 'utf8'), converting DER to PEM first` +
          (field === 'ca' ? '; Node would otherwise ignore it and trust no CA at all' : ''),
      );
    }
  }
  if (o.rejectUnauthorized === false && o.dangerouslySkipVerify !== true) {
    problems.push(
      `${name}.rejectUnauthorized: false would switch certificate verification off silently; pass the CA that signed the server's certificate as ${name}.ca, ` +
        `or, for a throwaway local setup only, ${name}: { dangerouslySkipVerify: true }`,
    );
  }
  return problems;
}

/** The strings and bytes of a `ca`, `cert` or `key` option (one, a list, or `{ pem }` entries). */
function pemEntries(value: unknown): unknown[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.map((entry: unknown) => (typeof entry === 'object' && entry !== null && !(entry instanceof Uint8Array) && 'pem' in entry ? entry.pem : entry));
}

/**
 * True for a value Node cannot read as PEM: anything without a PEM header — a file path, a name,
 * base64 or DER bytes without the `-----BEGIN` line, an empty string, a number. Node ignores such
 * a `ca` without a word, leaving no trusted CA, and every connection then fails as "not trusted"
 * although the right CA was meant (a `cert` or `key` fails at connect as "no start line"). Never
 * echoed: it may be key material.
 */
function notPem(entry: unknown): boolean {
  if (entry instanceof Uint8Array) return !Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength).includes('-----BEGIN');
  return typeof entry !== 'string' || !entry.includes('-----BEGIN');
}

/** Whether the options switch verification off. */
export function skipsVerify(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as SkipVerifyOption).dangerouslySkipVerify === true;
}

/** Node TLS options without Switchyard's own key; `rejectUnauthorized` follows `dangerouslySkipVerify`. */
export function nodeTlsOptions<T extends object>(value: T & SkipVerifyOption): Omit<T, 'dangerouslySkipVerify'> & { rejectUnauthorized: boolean } {
  const { dangerouslySkipVerify, ...rest } = value;
  return { ...rest, rejectUnauthorized: dangerouslySkipVerify !== true };
}

/**
 * Emits the process warning for `dangerouslySkipVerify` (once per transport instance: the caller
 * calls it from its constructor). A process warning reaches stderr by default and any
 * `process.on('warning')` logger.
 */
export function warnSkipVerify(transport: string, target: string): void {
  process.emitWarning(
    `${transport}: TLS certificate verification is OFF (tls.dangerouslySkipVerify) for ${redact(target)}; any server, including one in the middle, is accepted. Do not use this in production.`,
    { code: 'SWITCHYARD_TLS_VERIFY_OFF' },
  );
}

/** Why a TLS connection failed, as far as the client can tell. */
export type TlsFailureKind = 'untrusted' | 'hostname' | 'expired' | 'handshake';

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  reason?: unknown;
}

/** The first error in `error`'s cause/errors chain whose `code` is a TLS verification code. */
export function tlsFailure(error: unknown): { kind: TlsFailureKind; code: string; detail: string } | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.size < 32) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    const x = e as ErrorLike;
    const code = typeof x.code === 'string' ? x.code : '';
    const detail = typeof x.reason === 'string' ? x.reason : typeof x.message === 'string' ? x.message : code;
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return { kind: 'hostname', code, detail };
    if (UNTRUSTED.has(code)) return { kind: 'untrusted', code, detail };
    if (EXPIRED.has(code)) return { kind: 'expired', code, detail };
    if (code.startsWith('ERR_SSL_') || /wrong version number|handshake failure|unknown ca|bad certificate/i.test(String(x.message ?? ''))) {
      return { kind: 'handshake', code: code || 'TLS', detail };
    }
    queue.push(x.cause);
    if (Array.isArray(x.errors)) queue.push(...(x.errors as unknown[]));
  }
  return undefined;
}

/**
 * A TransportError (not retryable: retrying cannot fix a certificate) that says what was wrong
 * with the server's certificate and what to do, or undefined when `error` is no TLS failure.
 * `option` is how the transport's TLS option is spelled (`tls`, `ssl`).
 */
export function tlsError(what: string, error: unknown, option = 'tls', secrets: readonly string[] = []): TransportError | undefined {
  const failure = tlsFailure(error);
  if (!failure) return undefined;
  const detail = redact(failure.detail, secrets);
  const message = {
    untrusted:
      `TLS certificate not trusted (${failure.code}): the server's certificate is not signed by a CA this client trusts. ` +
      `Pass the CA certificate that signed it as ${option}.ca (PEM), or fix the server's certificate chain.`,
    hostname:
      `TLS host name mismatch (${failure.code}): ${detail}. Connect with a host name listed in the certificate's subjectAltName, ` +
      'or reissue the certificate for the name you connect to.',
    expired: `TLS certificate expired or not yet valid (${failure.code}): renew the server's certificate, or check this machine's clock.`,
    handshake:
      `TLS handshake failed (${failure.code}: ${detail}): check that the port speaks TLS and that the server accepts this client ` +
      `(a client certificate in ${option}.cert/${option}.key if it requires one).`,
  }[failure.kind];
  return new TransportError(`${what}: ${message}`, { cause: error, retryable: false });
}
