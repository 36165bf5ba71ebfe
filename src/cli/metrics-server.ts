import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Serves `handler` on `port` for `--metrics-port`, resolving with the server and the port it got
 * (the one asked for, or the free one picked for 0). A port that cannot be had (in use, or
 * privileged) rejects with what to do instead (exit code 1: the port is taken now, it may not be
 * later): listen() reports it as an 'error' event, which without a listener would crash the
 * process with a stack trace.
 */
export async function serveMetrics(handler: RequestListener, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new Error(`port ${port} is in use; pick another --metrics-port`, { cause: error }));
      else if (error.code === 'EACCES') reject(new Error(`not allowed to listen on port ${port}${port < 1024 ? ' (ports below 1024 need privileges)' : ''}; pick another --metrics-port`, { cause: error }));
      else reject(new Error(`cannot serve metrics on port ${port} (--metrics-port): ${error.message}`, { cause: error }));
    });
    server.listen(port, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
