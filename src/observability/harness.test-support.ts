// Shared by the observability tests: an HTTP server around a handler, and a Prometheus text reader.
// Not exported from the package.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { expect } from 'vitest';
import { json } from '../codecs/json.ts';
import { PermanentError } from '../core/errors.ts';
import type { Transport } from '../core/transport.ts';
import { deadLetter } from '../middleware/dead-letter.ts';
import { retry } from '../middleware/retry.ts';
import { Router } from '../router/router.ts';
import type { Logger } from '../router/types.ts';
import { Inbox } from '../testing/inbox.ts';
import type { HttpHandler } from './http.ts';
import { instrument } from './instrument.ts';
import { METRIC_NAMES } from './metric-names.ts';
import { metricsHandler } from './metrics-handler.ts';
import { metrics } from './metrics.ts';

export const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Serves `handler` on a free loopback port; `url(path)` addresses it, `close()` stops it. */
export async function serve(handler: HttpHandler): Promise<{ url: (path: string) => string; close: () => Promise<void>; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

/** One sample line of a Prometheus text exposition. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the sample lines of a Prometheus text exposition (no escapes in label values needed here). */
export function parseProm(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
export function valueOf(samples: readonly PromSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Fetches and parses /metrics. */
export async function scrape(url: string): Promise<PromSample[]> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return parseProm(await response.text());
}

/**
 * The known workload the metrics tests run on every transport: 10 keyed messages through an
 * instrumented transport and a Router with metrics(), retry() and deadLetter(); message 3 fails
 * permanently, message 7 transiently (retried once, then dead-lettered). Resolves with /metrics
 * as read over HTTP once every delivery settled.
 */
export async function knownWorkload(transport: Transport, topic: string): Promise<PromSample[]> {
  const registry = new Registry();
  const bus = instrument(transport, { registry });
  const codec = json<{ n: number }>();
  const done = new Inbox();
  const dlq = new Inbox();
  const watch = await bus.subscribe(`${topic}.dlq`, { group: 'watch' }, async (m) => dlq.push(m));
  const router = new Router({ logger: quiet, closeTransports: false });
  router.use(metrics({ registry }), retry({ attempts: 2, initialDelayMs: 1 }), deadLetter({ maxAttempts: 2 }));
  router.handle('billing', { from: bus, topic, group: 'billing', codec, concurrency: 4 }, async (msg) => {
    if (msg.payload.n === 3) throw new PermanentError('customer unknown');
    if (msg.payload.n === 7) throw new Error('payment service down');
    done.push({ ...msg, payload: msg.bytes });
  });
  await router.start();
  const http = await serve(metricsHandler({ registry }));
  try {
    await bus.publish(topic, Array.from({ length: 10 }, (_, n) => codec.encode({ n }, { key: `k${n % 3}` })));
    await done.untilCount(8, 20_000);
    await dlq.untilCount(2, 20_000);
    await router.stop(); // every delivery settled
    return await scrape(http.url('/metrics'));
  } finally {
    await router.stop();
    await watch.close();
    await http.close();
  }
}

/** What `knownWorkload` must have counted, on any transport. */
export function expectKnownWorkload(samples: readonly PromSample[], transport: string, topic: string): void {
  const route = { transport, topic, group: 'billing', handler: 'billing' };
  expect(valueOf(samples, METRIC_NAMES.published, { transport, topic })).toBe(10);
  expect(valueOf(samples, METRIC_NAMES.published, { transport, topic: `${topic}.dlq` })).toBe(2);
  expect(valueOf(samples, METRIC_NAMES.publishFailed, { transport, topic })).toBe(0);
  expect(valueOf(samples, METRIC_NAMES.consumed, route)).toBe(10);
  expect(valueOf(samples, METRIC_NAMES.acked, route)).toBe(10); // dead-lettered messages are acknowledged
  expect(valueOf(samples, METRIC_NAMES.failed, route)).toBe(0);
  expect(valueOf(samples, METRIC_NAMES.retried, route)).toBe(1); // the transient failure, once; not the permanent one
  expect(valueOf(samples, METRIC_NAMES.deadLettered, route)).toBe(2);
  expect(valueOf(samples, METRIC_NAMES.inFlight, route)).toBe(0);
  expect(valueOf(samples, `${METRIC_NAMES.handlerDuration}_count`, route)).toBe(10);
  expect(valueOf(samples, `${METRIC_NAMES.handlerDuration}_bucket`, { ...route, le: '+Inf' })).toBe(10);
  expect(valueOf(samples, `${METRIC_NAMES.endToEndLatency}_count`, route)).toBe(10);
  expect(valueOf(samples, `${METRIC_NAMES.endToEndLatency}_sum`, route)).toBeGreaterThanOrEqual(0);
}
