/**
 * Keeps credentials out of error messages and logs. Transports pass every message they build from
 * a URL or a client error through `redact`, so `amqp://user:secret@host` never reaches a log line
 * with its password.
 */

/** What replaces a secret. */
export const REDACTED = '***';

// scheme://user:password@ — the password is everything up to the last "@" of the authority.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:)[^\s/?#]*@/gi;

/** Names of query parameters that hold credentials (pg's `password`, `sslpassword`, a `token`…). */
const SECRET_NAME = '[a-z_]*pass(?:word)?|[a-z_]*secret|[a-z_]*token|[a-z_]*key';
const SECRET_PARAM = new RegExp(`^(?:${SECRET_NAME})$`, 'i');

// ?password=… / &sslpassword=… in free text: clients such as pg take credentials as query parameters.
const QUERY_SECRET = new RegExp(`([?&](?:${SECRET_NAME})=)[^&#\\s]*`, 'gi');

/**
 * Replaces the password of every `scheme://user:password@host` in `text` and every occurrence
 * of the given `secrets` (passwords, tokens, seeds) with `***`. Secrets shorter than 3
 * characters are ignored: replacing them would mangle ordinary words without protecting much.
 *
 * @example
 * ```ts
 * redact('cannot connect to amqp://app:hunter2@mq:5672/'); // 'cannot connect to amqp://app:***@mq:5672/'
 * redact('token abc123 refused', ['abc123']);             // 'token *** refused'
 * ```
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text.replace(URL_PASSWORD, `$1${REDACTED}@`).replace(QUERY_SECRET, `$1${REDACTED}`);
  const list = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 3).sort((a, b) => b.length - a.length);
  for (const secret of list) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * The URL with its password (and, for URLs that carry only a token as user name, that token)
 * replaced; `(invalid url)` when it does not parse, since an unparsable string may be a secret.
 *
 * @example
 * ```ts
 * redactUrl('amqps://app:hunter2@mq.example.com/prod'); // 'amqps://app:***@mq.example.com/prod'
 * redactUrl('nats://s3cr3t-token@127.0.0.1:4222', { userIsSecret: true }); // 'nats://***@127.0.0.1:4222'
 * ```
 */
export function redactUrl(url: string, options: { userIsSecret?: boolean } = {}): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = REDACTED;
    else if (options.userIsSecret && u.username) u.username = REDACTED;
    for (const name of [...u.searchParams.keys()]) if (SECRET_PARAM.test(name)) u.searchParams.set(name, REDACTED);
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

/** The password in a URL, if it has one (for passing to `redact` as a secret). */
export function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    const fromQuery = [...u.searchParams].filter(([name]) => SECRET_PARAM.test(name)).map(([, value]) => value);
    return [u.password, decodeURIComponent(u.password), ...fromQuery].filter((s) => s !== '');
  } catch {
    return [];
  }
}
