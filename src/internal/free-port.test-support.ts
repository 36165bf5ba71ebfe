import { createServer } from 'node:net';

/**
 * A TCP port free on `host` right now: the OS picks it, and it is closed again — for a server a
 * test starts, or for an address where nothing listens.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}
