import { connect as netConnect, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';

/** A TLS-terminating TCP proxy on loopback (for servers that cannot speak TLS themselves). */
export interface TlsProxy {
  readonly port: number;
  /** TLS handshakes that failed on the proxy's side (e.g. the client refused the certificate). */
  readonly handshakeErrors: Error[];
  close(): Promise<void>;
}

/**
 * Accepts TLS on 127.0.0.1 with `cert`/`key` and forwards the plain bytes to `target`. With
 * `clientCa`, clients must present a certificate signed by it (mutual TLS).
 *
 * @example
 * ```ts
 * const proxy = await startTlsProxy({ target: { host: '127.0.0.1', port: 9092 }, cert: pki.server.cert, key: pki.server.key });
 * ```
 */
export async function startTlsProxy(options: { target: { host: string; port: number }; cert: string; key: string; clientCa?: string }): Promise<TlsProxy> {
  const sockets = new Set<Socket>();
  const handshakeErrors: Error[] = [];
  const server = createServer(
    {
      cert: options.cert,
      key: options.key,
      ...(options.clientCa ? { ca: options.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    },
    (client: TLSSocket) => {
      const upstream = netConnect(options.target.port, options.target.host);
      sockets.add(client).add(upstream);
      const done = (): void => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', done).on('close', done);
      upstream.on('error', done).on('close', done);
      client.pipe(upstream).pipe(client);
    },
  );
  server.on('tlsClientError', (error) => handshakeErrors.push(error));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    handshakeErrors,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
