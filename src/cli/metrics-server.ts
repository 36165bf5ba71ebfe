import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exposure, requireToken } from '../security/http-guard.ts';

/**
 * Serves `handler` on `host:port` for `--metrics-port`/`--metrics-host`, resolving with the server, the port it got
 * (the one asked for, or the free one picked for 0). A port that cannot be had (in use, or
 * privileged) rejects with what to do instead (exit code 1: the port is taken now, it may not be
 * later): listen() reports it as an 'error' event, which without a listener would crash the
 * process with a stack trace.
 */
export async function serveMetrics(handler: RequestListener, port: number, host = '127.0.0.1'): Promise<{ server: Server; port: number; url: string; token: boolean }> {
  // Loopback by default; another host needs a token (SWITCHYARD_DASHBOARD_TOKEN), as every HTTP
  // endpoint of Switchyard does: topic and group names and lag are not for everyone to read.
  const exposed = exposure('--metrics-host', { host });
  const server = createServer(requireToken(handler, exposed.token));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new Error(`port ${port} is in use; pick another --metrics-port`, { cause: error }));
      else if (error.code === 'EACCES') reject(new Error(`not allowed to listen on port ${port}${port < 1024 ? ' (ports below 1024 need privileges)' : ''}; pick another --metrics-port`, { cause: error }));
      else reject(new Error(`cannot serve metrics on port ${port} (--metrics-port): ${error.message}`, { cause: error }));
    });
    server.listen(port, exposed.host, () => resolve());
  });
  const got = (server.address() as AddressInfo).port;
  return { server, port: got, url: `http://${exposed.host.includes(':') ? `[${exposed.host}]` : exposed.host}:${got}/metrics`, token: exposed.token !== undefined };
}
