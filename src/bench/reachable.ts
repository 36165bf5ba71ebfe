import { connect } from 'node:net';
import { SkipScenario } from './types.ts';

/** Resolves when something listens at host:port; otherwise throws SkipScenario saying what to start. */
export async function requireService(url: string, defaultPort: number, what: string): Promise<void> {
  const parsed = new URL(url.includes('://') ? url : `tcp://${url}`);
  const host = parsed.hostname || '127.0.0.1';
  const port = Number(parsed.port || defaultPort);
  const ok = await new Promise<boolean>((resolve) => {
    const socket = connect({ host, port, timeout: 1_000 });
    socket.once('connect', () => resolve(true));
    socket.once('timeout', () => resolve(false));
    socket.once('error', () => resolve(false));
  }).finally(() => undefined);
  if (!ok) throw new SkipScenario(`${what} is not reachable at ${host}:${port} (run: npm run services)`);
}
