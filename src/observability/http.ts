import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { exposure, requireToken, type ExposureOptions } from '../security/http-guard.ts';

/** A plain node:http request handler; it answers every request it is given. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The request's path without query string. */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Answers with `body`, never cached; `headers` add to (or override) the content type and cache control. */
export function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

/**
 * Answers anything but GET and HEAD with 405 (and the `Allow` header HTTP requires for it);
 * true when it did, so the handler stops there.
 */
export function refusedMethod(req: IncomingMessage, res: ServerResponse, what: string): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  send(res, 405, 'text/plain; charset=utf-8', `${what}: use GET\n`, { allow: 'GET, HEAD' });
  return true;
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Serves several handlers on one server: the first whose path matches answers; others get 404.
 *
 * @example
 * ```ts
 * http.createServer(routes({ '/metrics': metricsHandler({ registry }), '/healthz': healthHandler(h) })).listen(9464);
 * ```
 */
export function routes(table: Record<string, HttpHandler>): HttpHandler {
  return function routes(req, res) {
    const path = pathOf(req);
    const handler = table[path] ?? Object.entries(table).find(([prefix]) => prefix.endsWith('/') && path.startsWith(prefix))?.[1];
    if (handler) handler(req, res);
    else send(res, 404, 'text/plain; charset=utf-8', `not found: ${path} (try ${Object.keys(table).join(', ')})\n`);
  };
}

/** Where `serve()` listens. */
export interface ServeOptions extends ExposureOptions {
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
}

/**
 * Starts a node:http server for `handler` with safe defaults: it binds 127.0.0.1 unless `host`
 * says otherwise, and any other host needs a token (`token`, or `$SWITCHYARD_DASHBOARD_TOKEN`)
 * which every request must then present; without one it refuses to start (ConfigError).
 * Resolves once listening.
 *
 * @example
 * ```ts
 * const server = await serve(routes({ '/metrics': metricsHandler({ registry }) }), { port: 9464 });
 * ```
 */
export async function serve(handler: HttpHandler, options: ServeOptions = {}): Promise<Server> {
  const { host, token } = exposure('serve', options);
  const server = createServer(requireToken(handler, token));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
