import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { requireToken } from './http-guard.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

it('takes the Bearer scheme in any case, as HTTP defines auth schemes (a client sending "bearer" got "a token is required")', async () => {
  const token = 'correct-horse-battery-staple';
  const server = createServer(requireToken((_req, res) => res.end('hello\n'), token));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
    const res = await fetch(url, { headers: { authorization: `${scheme} ${token}` } });
    expect(res.status, scheme).toBe(200);
    expect(await res.text()).toBe('hello\n');
    const wrong = await fetch(url, { headers: { authorization: `${scheme} not-the-token-at-all` } });
    expect(wrong.status, scheme).toBe(401);
    expect(await wrong.text()).toBe('wrong token\n');
  }
});
