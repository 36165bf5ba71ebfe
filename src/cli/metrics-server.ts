import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '../observability/http.ts';
import { exposure } from '../security/http-guard.ts';

/**
 * Serves `handler` on `host:port` for `--metrics-port`/`--metrics-host` through `serve()`,
 * resolving with the server, the port it got (the one asked for, or the free one picked for 0),
 * its URL and whether a token guards it. A port that cannot be had (in use, or privileged)
 * rejects with what to do instead (exit code 1: the port is taken now, it may not be later).
 */
export async function serveMetrics(handler: RequestListener, port: number, host = '127.0.0.1'): Promise<{ server: Server; port: number; url: string; token: boolean }> {
  // Loopback by default; another host needs a token (SWITCHYARD_DASHBOARD_TOKEN), as every HTTP
  // endpoint of Switchyard does: topic and group names and lag are not for everyone to read.
  // Checked here to name the option in the refusal; serve() then uses what it found.
  const exposed = exposure('--metrics-host', { host });
  const server = await serve(handler, { port, host: exposed.host, token: exposed.token }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE') throw new Error(`port ${port} is in use; pick another --metrics-port`, { cause: error });
    if (error.code === 'EACCES') throw new Error(`not allowed to listen on port ${port}${port < 1024 ? ' (ports below 1024 need privileges)' : ''}; pick another --metrics-port`, { cause: error });
    throw new Error(`cannot serve metrics on port ${port} (--metrics-port): ${error.message}`, { cause: error });
  });
  const got = (server.address() as AddressInfo).port;
  return { server, port: got, url: `http://${exposed.host.includes(':') ? `[${exposed.host}]` : exposed.host}:${got}/metrics`, token: exposed.token !== undefined };
}
