import { expect, it } from 'vitest';
import { isTransportError } from '../../core/errors.ts';
import { managementGet } from './management.ts';
import { defaultAmqpUrl } from './options.ts';

// Against the real management API of the test broker (:15672).
it('says what to fix when the management API refuses the credentials', async () => {
  const error = await managementGet('http://guest:wrong@127.0.0.1:15672', defaultAmqpUrl(), 'queues/{vhost}').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isTransportError(error)).toBe(true);
  expect((error as Error).message).toMatch(/^rabbitmq: management API answered 401 for \/api\/queues\/%2F: it refused the credentials — give the management user and password in the management URL/);
  expect((error as Error).message).not.toContain('wrong');
});
