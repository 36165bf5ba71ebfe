import { describe, expect, it } from 'vitest';
import { startDashboard } from '../../examples/ecommerce/dashboard.ts';
import { runExample } from './run-example.ts';

it('examples/11-security: charges the genuine payments (one sealed before the key rotation) and dead-letters the forged ones with the reason', async () => {
  const { stdout } = await runExample('examples/11-security/main.ts');
  expect(stdout).toMatch(/^on the wire: ciphertext only, headers x-switchyard-enc-key, .*x-switchyard-sig$/m);
  expect(stdout).toMatch(/^charged 19\.99 for o-1 \(sealed with pay-1\)$/m);
  expect(stdout).toMatch(/^charged 42\.50 for o-2 \(sealed with pay-2\)$/m);
  expect(stdout).toMatch(/^dead letter pay-o-3: DecryptionError: .*authentication tag mismatch with key "pay-2"/m);
  expect(stdout).toMatch(/^dead letter pay-o-4: DecryptionError: .*unknown key id "pay-9"/m);
  expect(stdout).toMatch(/^dead letter pay-o-5: VerificationError: .*signature mismatch with key "billing-1"/m);
  expect(stdout).not.toMatch(/charged .* for o-[345]/);
  expect(stdout).toMatch(/^security: 2 charged, 3 dead-lettered$/m);
});

describe('the e-commerce dashboard’s safe defaults', () => {
  it('listens on 127.0.0.1 without a token by default', async () => {
    const dashboard = await startDashboard(0, { token: undefined });
    try {
      expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect((await fetch(new URL('/api/state', dashboard.url))).status).toBe(200);
    } finally {
      await dashboard.close();
    }
  });

  it('refuses to listen on 0.0.0.0 without a token', async () => {
    const saved = process.env.SWITCHYARD_DASHBOARD_TOKEN;
    delete process.env.SWITCHYARD_DASHBOARD_TOKEN;
    try {
      await expect(startDashboard(0, { host: '0.0.0.0' })).rejects.toThrow(/dashboard: binding 0\.0\.0\.0 makes it reachable from other machines, so it needs a token/);
    } finally {
      if (saved !== undefined) process.env.SWITCHYARD_DASHBOARD_TOKEN = saved;
    }
  });

  it('on 0.0.0.0 with a token: 401 without it, the page and its API with it (URL, then cookie)', async () => {
    const token = 'a-long-enough-dashboard-token';
    const dashboard = await startDashboard(0, { host: '0.0.0.0', token });
    try {
      const url = new URL(dashboard.url);
      expect(url.searchParams.get('token')).toBe(token);
      const local = `http://127.0.0.1:${url.port}`;
      expect((await fetch(`${local}/`)).status).toBe(401);
      expect((await fetch(`${local}/api/state`, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401);
      const page = await fetch(`${local}/?token=${token}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
      expect((await fetch(`${local}/api/state`, { headers: { cookie } })).status).toBe(200);
    } finally {
      await dashboard.close();
    }
  });
});
