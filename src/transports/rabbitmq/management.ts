import { TransportError } from '../../core/errors.ts';

/**
 * GET `path` (under `/api/`) of the RabbitMQ management API at `base`, with the credentials of
 * `base` (default guest/guest), and the vhost of `amqpUrl` in place of `{vhost}`.
 *
 * @example
 * ```ts
 * const queues = await managementGet<Array<{ name: string }>>('http://127.0.0.1:15672', 'amqp://127.0.0.1', 'queues/{vhost}');
 * ```
 */
export async function managementGet<T>(base: string, amqpUrl: string, path: string): Promise<T> {
  const api = new URL(base);
  const vhost = decodeURIComponent(new URL(amqpUrl).pathname.slice(1)) || '/';
  const auth = Buffer.from(`${decodeURIComponent(api.username || 'guest')}:${decodeURIComponent(api.password || 'guest')}`).toString('base64');
  api.username = '';
  api.password = '';
  const url = new URL(`api/${path.replace('{vhost}', encodeURIComponent(vhost))}`, api.href.endsWith('/') ? api.href : `${api.href}/`);
  const response = await fetch(url, { headers: { authorization: `Basic ${auth}` } }).catch((error: unknown) => {
    throw new TransportError(`rabbitmq: management API ${api.origin} unreachable: ${String(error)}`, { cause: error });
  });
  if (!response.ok) {
    const hint =
      response.status === 401
        ? ': it refused the credentials — give the management user and password in the management URL (http://user:password@host:15672)'
        : response.status === 403
          ? ': the user may not use the management API — give it the monitoring or management tag (rabbitmqctl set_user_tags)'
          : '';
    throw new TransportError(`rabbitmq: management API answered ${response.status} for ${url.pathname}${hint}`, { retryable: response.status >= 500 });
  }
  return (await response.json()) as T;
}
