/**
 * Keeps credentials out of error messages and logs. Transports pass every message they build from
 * a URL or a client error through `redact`, so `amqp://user:secret@host` never reaches a log line
 * with its password.
 *
 * What counts as a credential in free text:
 * - the password of a `scheme://user:password@host` URL, even one with unencoded `/`, `#`, `?`,
 *   `@` or spaces in it (people paste them unencoded; client errors echo them as given);
 * - the user name of a NATS URL without a password (`nats://token@host`): NATS takes it as a token;
 * - credential query parameters (`?password=…`, `&sslpassword=…`, `&token=…`);
 * - credential keywords in connection strings and configs: libpq's `password=… ` (quoted or not),
 *   Kafka's `sasl.password=…`, a JAAS `password="…"`.
 *
 * Not credentials: a bare `user@host` (an e-mail address, `mailto:`) — only the user-info part of
 * a `scheme://` URL is looked at, so ordinary text keeps its addresses.
 */

/** What replaces a secret. */
export const REDACTED = '***';

/**
 * The start of a URL's authority up to the user-info separator: `scheme://user:` or `scheme://user@`.
 * The rest (where the password ends) is decided by `passwordEnd`, which no single regex can do.
 */
const AUTHORITY_START = /\b([a-z][a-z0-9+.-]*):\/\/([^\s:/?#@[\]]*)([:@])/gi;

/** Schemes whose user name alone, without a password, is a secret: NATS takes it as a token. */
const TOKEN_USER_SCHEMES = new Set(['nats', 'tls']);

/** How far (in characters) a password with spaces in it may reach for its `@`. */
const MAX_SPACED_PASSWORD = 128;

/** Names of query parameters that hold credentials (pg's `password`, `sslpassword`, a `token`…). */
const SECRET_NAME = '[a-z_]*pass(?:word)?|[a-z_]*secret|[a-z_]*token|[a-z_]*key';
const SECRET_PARAM = new RegExp(`^(?:${SECRET_NAME})$`, 'i');

// ?password=… / &sslpassword=… in free text: clients such as pg take credentials as query parameters.
const QUERY_SECRET = new RegExp(`([?&](?:${SECRET_NAME})=)[^&#\\s]*`, 'gi');

/**
 * `password=…` outside a query string: libpq conninfo (`host=db password='a b'`), Kafka configs
 * (`sasl.password=…`), JAAS (`password="…";`). Narrower names than in queries: a bare `key=` in
 * a log line is mostly a message key, not a secret. Values are quoted (with `\` escapes) or run
 * to whitespace or `;`.
 */
const KEYWORD_SECRET = /(^|[\s;,(])([a-z_.-]*(?:password|passwd|secret|passphrase|token)|[a-z_.-]*(?:api|access|private|secret)[_.-]?key)(\s*=\s*)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s;]*)/gi;

/**
 * Where the password that starts at `start` ends (the index of its `@`), or -1 when there is no
 * password there after all (`amqp://mq:5672/`: a host and port look the same as `user:`).
 */
function passwordEnd(text: string, start: number): number {
  const whitespace = /\s/g;
  whitespace.lastIndex = start;
  const tokenEnd = whitespace.exec(text)?.index ?? text.length;
  // The last "@" of the unbroken run, as URL parsers take the last "@" of the authority: a password
  // may hold "@", "/", "#" and "?" unencoded. A query with an "@" is masked too — better than a leak.
  const at = text.lastIndexOf('@', tokenEnd - 1);
  if (at >= start) return at;
  // No "@" before the next space: a port (`mq:5672/vh`), or a password with spaces in it, which
  // then ends at the next "@" on the same line, not too far off.
  if (/^\d{1,5}(?:[/?#]|$)/.test(text.slice(start, tokenEnd))) return -1;
  const lineEnd = text.indexOf('\n', start);
  const limit = Math.min(lineEnd === -1 ? text.length : lineEnd, start + MAX_SPACED_PASSWORD);
  const next = text.indexOf('@', tokenEnd);
  return next !== -1 && next < limit ? next : -1;
}

/** `text` with the passwords (and NATS tokens) in the user-info of its URLs replaced. */
function maskUserInfo(text: string): string {
  const pattern = new RegExp(AUTHORITY_START);
  let out = '';
  let copied = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    const [whole, scheme, user, separator] = m as unknown as [string, string, string, string];
    const after = m.index + whole.length;
    if (separator === '@') {
      if (user !== '' && TOKEN_USER_SCHEMES.has(scheme.toLowerCase())) {
        out += `${text.slice(copied, m.index)}${scheme}://${REDACTED}@`;
        copied = after;
      }
      continue;
    }
    const end = passwordEnd(text, after);
    if (end === -1) continue;
    out += `${text.slice(copied, after)}${REDACTED}`;
    copied = end;
    pattern.lastIndex = end + 1;
  }
  return out + text.slice(copied);
}

/**
 * Replaces every credential in `text` (see the module comment: URL passwords, NATS tokens,
 * credential query parameters and `password=…` keywords) and every occurrence of the given
 * `secrets` (passwords, tokens, seeds) with `***`; the rest of each URL stays readable. Secrets
 * shorter than 3 characters are ignored: replacing them would mangle ordinary words without
 * protecting much.
 *
 * @example
 * ```ts
 * redact('cannot connect to amqp://app:hunter2@mq:5672/'); // 'cannot connect to amqp://app:***@mq:5672/'
 * redact('cannot connect to amqp://app:p/ss#1@mq/');       // 'cannot connect to amqp://app:***@mq/'
 * redact('host=db user=app password=hunter2');             // 'host=db user=app password=***'
 * redact('token abc123 refused', ['abc123']);             // 'token *** refused'
 * ```
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = maskUserInfo(text).replace(QUERY_SECRET, `$1${REDACTED}`).replace(KEYWORD_SECRET, `$1$2$3${REDACTED}`);
  const list = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 3).sort((a, b) => b.length - a.length);
  for (const secret of list) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * The URL with its password (and, for URLs that carry only a token as user name, that token)
 * replaced; `(invalid url)` when it does not parse, since an unparsable string may be a secret.
 * A NATS URL's user name without a password is a token: it is masked unless `userIsSecret: false`.
 *
 * @example
 * ```ts
 * redactUrl('amqps://app:hunter2@mq.example.com/prod'); // 'amqps://app:***@mq.example.com/prod'
 * redactUrl('nats://s3cr3t-token@127.0.0.1:4222');      // 'nats://***@127.0.0.1:4222'
 * ```
 */
export function redactUrl(url: string, options: { userIsSecret?: boolean } = {}): string {
  try {
    const u = new URL(url);
    const userIsSecret = options.userIsSecret ?? TOKEN_USER_SCHEMES.has(u.protocol.slice(0, -1).toLowerCase());
    if (u.password) u.password = REDACTED;
    else if (userIsSecret && u.username) u.username = REDACTED;
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
