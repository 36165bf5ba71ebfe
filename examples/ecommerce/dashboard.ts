// A live dashboard for the demo: one page on 127.0.0.1 (loopback only) that polls the figures
// every second and draws them — orders/s, p50/p99 latency, lag per topic and group, retries, dead
// letters, sagas — lists the dead letters with a replay button per message, shows saga instances
// with their step history and the circuit breakers, and the verified summary when the run ends.
// node:http and a canvas; no dependencies.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SAGA_STATUSES, type SagaStatus } from 'switchyard/saga';
import { exposure, requireToken, type ExposureOptions } from 'switchyard/security';
import { DASHBOARD_PAGE } from './dashboard-page.ts';
import type { LiveView } from './live-view.ts';
import type { DemoSummary, Progress } from './main.ts';

export interface Dashboard {
  readonly url: string;
  push(progress: Progress): void;
  /** Lets the page list and replay dead letters, and show sagas and breakers. */
  attach(view: LiveView): void;
  finish(summary: DemoSummary): void;
  close(): Promise<void>;
}


/**
 * Serves the dashboard on 127.0.0.1 by default. Another host (`0.0.0.0` to reach it from other
 * machines) needs a token — `options.token` or `$SWITCHYARD_DASHBOARD_TOKEN` — which every
 * request must then present (the printed URL carries it); without one it refuses to start.
 */
export async function startDashboard(port = 0, options: ExposureOptions = {}): Promise<Dashboard> {
  const { host, token } = exposure('dashboard', options);
  const points: Progress[] = [];
  let summary: DemoSummary | undefined;
  let view: LiveView | undefined;

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(DASHBOARD_PAGE);
    } else if (req.method === 'GET' && url.pathname === '/api/state') {
      json(res, 200, { points, summary, breakers: view?.breakers() ?? {} });
    } else if (req.method === 'GET' && url.pathname === '/api/dead-letters') {
      json(res, 200, view ? await view.deadLetters() : []);
    } else if (req.method === 'GET' && url.pathname === '/api/sagas') {
      const status = url.searchParams.get('status') ?? '';
      if (status && !(SAGA_STATUSES as readonly string[]).includes(status)) return json(res, 400, { error: `unknown saga status "${status}"; one of ${SAGA_STATUSES.join(', ')}` });
      json(res, 200, view ? await view.sagas({ limit: 25, ...(status ? { status: status as SagaStatus } : {}) }) : []);
    } else if (req.method === 'POST' && url.pathname === '/api/dead-letters/replay') {
      // JSON only: a cross-site form cannot send it without a CORS preflight, which this server never grants.
      if (!req.headers['content-type']?.startsWith('application/json')) return json(res, 415, { error: 'send JSON: {"topic": …, "id": …}' });
      const text = await readBody(req);
      let body: { topic?: unknown; id?: unknown } | null;
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        return json(res, 400, { error: 'the body is not JSON: send {"topic": …, "id": …}' });
      }
      if (typeof body?.topic !== 'string' || typeof body.id !== 'string') return json(res, 400, { error: 'topic and id must be strings' });
      if (!view) return json(res, 409, { error: 'the demo has not started yet' });
      json(res, 200, { replayed: await view.replay(body.topic, body.id) });
    } else {
      json(res, 404, { error: `no ${req.method} ${url.pathname}` });
    }
  };
  const server = createServer(
    requireToken((req, res) => {
      route(req, res).catch((error: unknown) => json(res, 500, { error: (error as Error).message }));
    }, token),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/${token ? `?token=${encodeURIComponent(token)}` : ''}`,
    push: (p) => void points.push(p),
    attach: (v) => void (view = v),
    finish: (s) => void (summary = s),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // browsers keep their polling connection alive
      }),
  };
}

async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > limit) throw new Error('request body too large');
  }
  return body;
}
