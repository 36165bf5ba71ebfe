import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { ConfigError } from '../core/errors.ts';

/** Where the dashboard and other HTTP endpoints take their token from when none is given. */
export const DASHBOARD_TOKEN_ENV = 'SWITCHYARD_DASHBOARD_TOKEN';
/** The cookie a browser keeps after opening the page with `?token=…`, so its own requests carry it. */
export const TOKEN_COOKIE = 'switchyard_token';
/** Shortest token accepted: long enough that guessing it over HTTP is hopeless. */
export const MIN_TOKEN_LENGTH = 16;

/** Where an HTTP endpoint listens and who may use it. */
export interface ExposureOptions {
  /** Interface to bind. Default `127.0.0.1` (this machine only). */
  host?: string;
  /** Required from every client when set; must be set for any host that is not loopback. Default: `$SWITCHYARD_DASHBOARD_TOKEN`. */
  token?: string;
}

/** Checked exposure: the host to listen on and the token to require, if any. */
export interface Exposure {
  host: string;
  token: string | undefined;
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Safe defaults for an HTTP endpoint: loopback unless told otherwise, and a token for anything
 * else. Binding `0.0.0.0` (or any non-loopback address) without a token is refused with a
 * ConfigError that says how to fix it.
 *
 * @example
 * ```ts
 * const { host, token } = exposure('dashboard', { host: process.env.DASHBOARD_HOST });
 * server.listen(port, host);
 * ```
 */
export function exposure(what: string, options: ExposureOptions = {}, env: NodeJS.ProcessEnv = process.env): Exposure {
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? (env[DASHBOARD_TOKEN_ENV] || undefined);
  const problems: string[] = [];
  if (typeof host !== 'string' || host === '') problems.push(`${what}: host must be a non-empty string`);
  if (token !== undefined && (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH)) {
    problems.push(`${what}: the token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. \`openssl rand -hex 24\`)`);
  }
  if (problems.length === 0 && !isLoopback(host) && token === undefined) {
    problems.push(
      `${what}: binding ${host} makes it reachable from other machines, so it needs a token: pass { token } or set ${DASHBOARD_TOKEN_ENV}, or bind 127.0.0.1`,
    );
  }
  ConfigError.throwIfAny(problems);
  return { host, token };
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // malformed escapes: compared as they are (and will not match)
  }
}

/**
 * The query string of a request target. Not through `new URL()`: it throws on targets that
 * node:http accepts (the absolute form `GET http://[ HTTP/1.1`), and an exception here would be
 * thrown from the server's request listener, taking the process down before any token was
 * checked. URLSearchParams never throws.
 */
function queryOf(target: string | undefined): URLSearchParams {
  const at = target?.indexOf('?') ?? -1;
  return new URLSearchParams(at < 0 ? '' : target!.slice(at + 1));
}

/** The token a request presents: `Authorization: Bearer`, `?token=`, or the cookie. */
function presented(req: IncomingMessage): { token: string | undefined; fromQuery: boolean } {
  // The scheme is case-insensitive (RFC 9110 §11.1): clients that send `bearer` are common.
  const bearer = /^bearer[ \t]+(.*)$/is.exec(req.headers.authorization ?? '');
  if (bearer) return { token: bearer[1]!.trim(), fromQuery: false };
  const query = queryOf(req.url).get('token');
  if (query !== null) return { token: query, fromQuery: true };
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === TOKEN_COOKIE) return { token: safeDecode(rest.join('=')), fromQuery: false };
  }
  return { token: undefined, fromQuery: false };
}

/**
 * Wraps a node:http handler so every request must present `token` — as `Authorization: Bearer
 * <token>`, as `?token=<token>` (then a `SameSite=Strict`, `HttpOnly` cookie is set so the page's
 * own requests carry it), or as that cookie. Others get 401. Tokens are compared in constant
 * time (SHA-256 digests through `timingSafeEqual`). With no token, the handler is returned as is.
 *
 * @example
 * ```ts
 * const { host, token } = exposure('metrics', { host: '0.0.0.0' });
 * createServer(requireToken(routes({ '/metrics': metricsHandler({ registry }) }), token)).listen(9464, host);
 * ```
 */
export function requireToken(handler: (req: IncomingMessage, res: ServerResponse) => void, token: string | undefined): (req: IncomingMessage, res: ServerResponse) => void {
  if (token === undefined) return handler;
  const want = digest(token);
  return function requireToken(req, res) {
    const given = presented(req);
    if (given.token === undefined || !timingSafeEqual(digest(given.token), want)) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer', 'cache-control': 'no-store' });
      res.end(given.token === undefined ? 'a token is required (Authorization: Bearer <token>, or ?token=<token>)\n' : 'wrong token\n');
      return;
    }
    if (given.fromQuery) res.setHeader('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(given.token)}; HttpOnly; SameSite=Strict; Path=/`);
    handler(req, res);
  };
}
