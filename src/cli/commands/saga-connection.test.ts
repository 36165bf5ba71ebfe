import { expect, it } from 'vitest';
import { freePort } from '../../internal/free-port.test-support.ts';
import { spawnCli } from './cli.test-support.ts';

// pg's own errors ("getaddrinfo ENOTFOUND base", "connect ECONNREFUSED …") name neither
// PostgreSQL nor the option to fix; the saga commands say both, without the password.

it('an unparsable --pg is a usage error (exit 2) that does not echo the string (it may hold a password)', async () => {
  const { code, stderr } = await spawnCli(['saga', 'list', '--pg', 'not-a-url']).done;
  expect(stderr.trim()).toBe('switchyard: --pg is not a URL (9 characters, not shown as it may hold a password): expected postgres://user@host:5432/database');
  expect(code).toBe(2);
});

it('a URL of another scheme is a usage error naming the scheme', async () => {
  const { code, stderr } = await spawnCli(['saga', 'list', '--pg', 'mysql://root:pw@127.0.0.1/app']).done;
  expect(stderr.trim()).toBe('switchyard: --pg must be a PostgreSQL URL like postgres://user@host:5432/database, got mysql://…');
  expect(code).toBe(2);
});

it('a server that refuses the connection: names PostgreSQL, the URL without its password, and --pg (exit 1)', async () => {
  const port = await freePort(); // nothing listens there
  const { code, stderr } = await spawnCli(['saga', 'list', '--pg', `postgres://postgres:s3cret@127.0.0.1:${port}/test`]).done;
  expect(stderr.trim()).toBe(
    `switchyard: cannot connect to PostgreSQL at postgres://postgres:***@127.0.0.1:${port}/test (--pg): nothing listens on 127.0.0.1:${port}; is PostgreSQL running there?`,
  );
  expect(stderr).not.toContain('s3cret');
  expect(code).toBe(1);
});
