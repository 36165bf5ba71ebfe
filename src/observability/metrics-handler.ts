import { register as defaultRegistry, type Registry } from 'prom-client';
import { toError } from '../core/errors.ts';
import { refusedMethod, send, type HttpHandler } from './http.ts';

/** Settings of `metricsHandler()`. */
export interface MetricsHandlerOptions {
  /** The registry to expose. Default: prom-client's global `register`. */
  registry?: Registry;
}

/**
 * A node:http handler answering with the registry's metrics in the Prometheus text format. Give
 * it to `http.createServer()` (it answers any path) or call it from your server's `/metrics` route.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * http.createServer(metricsHandler({ registry })).listen(9464); // GET http://host:9464/metrics
 * ```
 */
export function metricsHandler(options: MetricsHandlerOptions = {}): HttpHandler {
  const registry = options.registry ?? defaultRegistry;
  return function metricsHandler(req, res) {
    if (refusedMethod(req, res, 'metrics')) return;
    registry.metrics().then(
      (body) => send(res, 200, registry.contentType, body),
      (error: unknown) => send(res, 500, 'text/plain; charset=utf-8', `metrics: ${toError(error).message}\n`),
    );
  };
}
