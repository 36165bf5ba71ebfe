// The Black Friday demo: the whole shop on one machine, a load generator with injected faults, a
// live progress display, and a summary verified against the system's own state.
//
//   node --conditions=switchyard-source examples/ecommerce/main.ts --duration 10 --rate 50
//   npm start                      (the same through `switchyard demo`)
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, type Logger } from 'switchyard';
import { CatalogClient } from './catalog.ts';
import { DeadLetterDesk } from './dead-letter-desk.ts';
import { createInfrastructure, totalLag } from './infrastructure.ts';
import type { Product } from './inventory.ts';
import { liveView, type LiveView } from './live-view.ts';
import { LoadGenerator, productIds } from './load-generator.ts';
import { createShop } from './shop.ts';
import { DemoStats, percentile, routerCounts } from './stats.ts';
import { verify, type Check } from './verify.ts';

export interface DemoOptions {
  profile: string;
  /** Data directory; a temporary one (removed afterwards) when absent. */
  dir?: string;
  durationS: number;
  /** Orders per second; 0 = full speed. */
  rate: number;
  customers: number;
  products: number;
  faults: {
    /** Percent of orders whose card is declined. */
    paymentFailures: number;
    /** Percent of charge attempts that fail transiently (retried). */
    transientPaymentFailures: number;
    /** Percent of order requests delivered twice (and of charges sent twice). */
    duplicates: number;
    /** Malformed order requests. */
    poison: number;
    /** Percent of orders no courier takes. */
    shippingFailures: number;
    /** Percent of real-time publishes that fail. */
    realtimeFailures: number;
    /** The email provider turns slow for this many seconds mid-run (circuit breaker). */
    slowDownstreamS: number;
    /** Times the fulfillment worker is killed mid-run (and restarted half a second later). */
    workerCrashes: number;
  };
  /** Called about once a second with the live figures. */
  onProgress?: (p: Progress) => void;
  /** Called once the shop runs, with what a dashboard may look at and do. */
  onStart?: (view: LiveView) => void;
  /**
   * Called with the summary after the shop stopped and before the broker and stores close: the
   * run's state stays inspectable (and dead letters replayable) until the promise settles.
   */
  afterRun?: (summary: DemoSummary) => Promise<void>;
  /** Warnings and errors from the router and the orchestrator. Default: counted, not printed. */
  logger?: Logger;
  /**
   * Aborting it (Ctrl-C) stops the load and the wait for orders to settle: runDemo then throws
   * the abort reason after stopping the shop and closing the broker and stores (and removing the
   * temporary data folder), with no summary.
   */
  signal?: AbortSignal;
  /** Longest wait for in-flight orders to settle after the load stops, in ms. */
  settleTimeoutMs?: number;
  /** With rate 0: orders placed and not yet settled at most (default 200). */
  maxInFlight?: number;
  /** Put every order's latency in the summary (`latenciesMs`), for benchmarks. */
  keepLatencies?: boolean;
}

export interface Progress {
  elapsedS: number;
  ordersPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  lag: number;
  /** Lag by `topic / group`. */
  lagByGroup: Record<string, number>;
  retries: number;
  deadLetters: number;
  completed: number;
  rolledBack: number;
  breaker: string;
  phase: 'load' | 'settling';
}

export interface DemoSummary {
  ok: boolean;
  profile: string;
  durationS: number;
  rate: number;
  orders: { requested: number; placed: number; completed: number; rolledBack: number; stuck: string[]; rolledBackBy: Record<string, number> };
  throughput: { ordersPerSecond: number; p50Ms: number; p99Ms: number };
  injected: DemoOptions['faults'] & { duplicatesSent: number; poisonIds: string[] };
  observed: {
    retries: number;
    duplicatesSkipped: number;
    paymentDuplicatesAbsorbed: number;
    breakerOpened: number;
    /** When the fulfillment worker was killed, and how many sagas it was driving then. */
    workerCrashes: Array<{ atS: number; inFlight: number }>;
    realtime: { published: number; failed: number; received: number };
    catalogQueries: { answered: number; p50Ms: number };
    warnings: number;
  };
  payments: { charges: number; refunds: number; netCents: number };
  deadLetters: { orderRequests: number; other: number; ids: string[] };
  analytics: { revenueCents: number; revenuePerMinute: Record<string, number>; topProducts: Array<{ productId: string; units: number }> };
  checks: Check[];
  /** Every order's latency in ms, with `keepLatencies`. */
  latenciesMs?: number[];
}

export const defaultFaults: DemoOptions['faults'] = {
  paymentFailures: 5,
  transientPaymentFailures: 5,
  duplicates: 5,
  poison: 5,
  shippingFailures: 2,
  realtimeFailures: 5,
  slowDownstreamS: 2,
  workerCrashes: 1,
};

export const noFaults: DemoOptions['faults'] = { paymentFailures: 0, transientPaymentFailures: 0, duplicates: 0, poison: 0, shippingFailures: 0, realtimeFailures: 0, slowDownstreamS: 0, workerCrashes: 0 };

/** The catalog: two doorbusters with little stock (they sell out), the rest stocked for the expected load. */
export function catalog(products: number, expectedOrders: number): Array<Product & { stock: number }> {
  return productIds(products).map((productId, i) => ({
    productId,
    name: `Product ${i + 1}`,
    priceCents: 499 + ((i * 1237) % 20_000),
    stock: i < 2 ? 25 : expectedOrders > 0 ? Math.ceil(expectedOrders * 0.4) + 20 : 1_000_000,
  }));
}

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

// #region run
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  if (options.dir && existsSync(options.dir) && readdirSync(options.dir).length > 0) {
    throw new ConfigError(`--dir ${options.dir} is not empty; the summary verifies one run, so give a new or empty folder`);
  }
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
  const removeTemporaryDir = (): void => {
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
  };
  const infra = await createInfrastructure(options.profile, dir).catch((error: unknown) => {
    removeTemporaryDir(); // a broker or database that is not there: the run never started
    throw error;
  });
  const f = options.faults;
  let warnings = 0;
  const logger: Logger = options.logger ?? quiet;
  const counting: Logger = { ...logger, warn: (m, x) => (warnings++, logger.warn(m, x)), error: (m, x) => (warnings++, logger.error(m, x)) };
  let generator: LoadGenerator | undefined;
  const stats = new DemoStats((orderId) => generator?.result.placedAt.get(orderId), () => generator?.settled());
  const shop = createShop({
    infra,
    products: catalog(options.products, options.rate * options.durationS),
    faults: {
      declineRate: f.paymentFailures / 100,
      transientRate: f.transientPaymentFailures / 100,
      duplicateRate: f.duplicates / 100,
      shippingFailRate: f.shippingFailures / 100,
      realtimeFailRate: f.realtimeFailures / 100,
    },
    onSagaEvent: stats.onSagaEvent,
    logger: counting,
  });
  const client = new CatalogClient(infra.realtime);
  const desk = new DeadLetterDesk(infra.processes, infra.events);
  let summary: DemoSummary | undefined;
  try {
    await desk.prepare();
    await shop.start();
    await client.start();
    options.onStart?.(liveView(shop, infra.sagaStore, desk));
    generator = new LoadGenerator(infra.processes, client, {
      rate: options.rate,
      durationS: options.durationS,
      customers: options.customers,
      products: options.products,
      duplicateRate: f.duplicates / 100,
      poison: f.poison,
      liveQueryRate: 0.1,
      ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}),
    });
    const slowFrom = Date.now() + options.durationS * 300; // 30 % into the run
    shop.notifications.provider.slow = () => f.slowDownstreamS > 0 && Date.now() >= slowFrom && Date.now() < slowFrom + f.slowDownstreamS * 1_000;
    // Worker crashes spread evenly over the load phase (the first at half of it when there is one).
    const crashes: Array<Promise<unknown>> = [];
    const crashTimers = Array.from({ length: f.workerCrashes }, (_, i) =>
      setTimeout(() => crashes.push(shop.orders.worker.crashAndRestart(500)), (options.durationS * 1_000 * (i + 1)) / (f.workerCrashes + 1)),
    );

    const began = Date.now();
    let phase: Progress['phase'] = 'load';
    let lastSettled = 0;
    const report = async (): Promise<void> => {
      const window = stats.takeWindow().toSorted((a, b) => a - b);
      const settled = stats.completed + stats.rolledBack;
      const counts = routerCounts(shop.router.inspector);
      const lagByGroup = await infra.lagByGroup();
      options.onProgress?.({
        elapsedS: Math.round((Date.now() - began) / 1_000),
        ordersPerSecond: settled - lastSettled,
        p50Ms: percentile(window, 50),
        p99Ms: percentile(window, 99),
        lag: totalLag(lagByGroup),
        lagByGroup,
        retries: counts.retried + stats.stepRetries,
        deadLetters: counts.deadLettered,
        completed: stats.completed,
        rolledBack: stats.rolledBack,
        breaker: shop.notifications.breaker.state,
        phase,
      });
      lastSettled = settled;
    };
    const ticker = setInterval(() => void report().catch(() => {}), 1_000);
    // Interrupted: no summary (it would verify a cut-short run), only the cleanup below.
    const interrupted = (): void => {
      if (!options.signal?.aborted) return;
      clearInterval(ticker);
      for (const t of crashTimers) clearTimeout(t);
      options.signal.throwIfAborted();
    };

    const result = await generator.run(options.signal);
    for (const t of crashTimers) clearTimeout(t);
    await Promise.all(crashes);
    interrupted();
    phase = 'settling';
    // Wait until every order settled and every queue is drained (or give up: the summary says which are stuck).
    const deadline = Date.now() + (options.settleTimeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      interrupted();
      const settledAll = result.orderIds.every((id) => stats.settledIds.has(id));
      const projection = await shop.projection.status();
      const realtimeDone = shop.realtime.attempted === shop.realtime.published + shop.realtime.failed;
      // A saga publishes its final event before writing its final state: the order can settle first.
      const sagasDone = (await shop.orders.worker.orchestrator()).activeCount === 0;
      if (settledAll && projection.lag === 0 && realtimeDone && sagasDone && totalLag(await infra.lagByGroup()) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    clearInterval(ticker);
    await report();
    const busyS = Math.max(0.001, (stats.lastSettledAt - result.startedAt) / 1_000); // first order placed → last order settled

    const verified = await verify({
      shop,
      eventStore: infra.eventStore,
      sagaStore: infra.sagaStore,
      desk,
      crashes: shop.orders.worker.crashes,
      requested: result.orderIds,
      poisonIds: result.poisonIds,
    });
    const counts = routerCounts(shop.router.inspector);
    const sorted = stats.latenciesMs.toSorted((a, b) => a - b);
    const quotes = client.latenciesMs.toSorted((a, b) => a - b);
    summary = {
      ok: verified.ok,
      profile: infra.profile,
      durationS: options.durationS,
      rate: options.rate,
      orders: verified.orders,
      throughput: { ordersPerSecond: round((stats.completed + stats.rolledBack) / busyS), p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)) },
      injected: { ...f, duplicatesSent: result.duplicatesSent, poisonIds: result.poisonIds },
      observed: {
        retries: counts.retried + stats.stepRetries,
        duplicatesSkipped: counts.duplicateRequests,
        paymentDuplicatesAbsorbed: shop.payments.duplicatesAbsorbed,
        breakerOpened: shop.notifications.opened,
        workerCrashes: shop.orders.worker.crashes.map((c) => ({ atS: round((c.at - began) / 1_000), inFlight: c.inFlight.length })),
        realtime: { published: shop.realtime.published, failed: shop.realtime.failed, received: shop.realtime.received },
        catalogQueries: { answered: client.answered, p50Ms: round(percentile(quotes, 50)) },
        warnings,
      },
      payments: verified.payments,
      deadLetters: verified.deadLetters,
      analytics: { revenueCents: shop.analytics.revenueCents, revenuePerMinute: Object.fromEntries(shop.analytics.revenuePerMinute), topProducts: shop.analytics.topProducts(5) },
      checks: verified.checks,
      ...(options.keepLatencies ? { latenciesMs: sorted } : {}),
    };
  } finally {
    await client.close();
    await shop.stop();
    try {
      if (summary && options.afterRun) await options.afterRun(summary);
    } finally {
      await infra.close();
      removeTemporaryDir();
    }
  }
  return summary;
}
// #endregion run

const round = (n: number): number => Math.round(n * 10) / 10;

/** The summary as text, one check per line. */
export function formatSummary(s: DemoSummary): string {
  const money = (c: number): string => (c / 100).toFixed(2);
  const i = s.injected;
  const o = s.observed;
  return [
    `VERIFIED SUMMARY — profile ${s.profile}, ${s.durationS} s at ${s.rate === 0 ? 'full speed' : `${s.rate} orders/s`}`,
    `  orders      ${s.orders.requested} requested: ${s.orders.completed} completed, ${s.orders.rolledBack} rolled back (${Object.entries(s.orders.rolledBackBy).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}), ${s.orders.stuck.length} stuck`,
    `  throughput  ${s.throughput.ordersPerSecond} orders/s settled; order latency p50 ${s.throughput.p50Ms} ms, p99 ${s.throughput.p99Ms} ms`,
    `  injected    declined ${i.paymentFailures}%, transient payment errors ${i.transientPaymentFailures}%, duplicates ${i.duplicates}% (${i.duplicatesSent} sent twice), poison ${i.poison}, no courier ${i.shippingFailures}%, real-time drops ${i.realtimeFailures}%, slow email provider ${i.slowDownstreamS} s, worker crashes ${i.workerCrashes}`,
    `  observed    ${o.retries} retries, ${o.duplicatesSkipped} duplicate deliveries skipped, ${o.paymentDuplicatesAbsorbed} duplicate charges absorbed, circuit opened ${o.breakerOpened}×, worker killed ${o.workerCrashes.length}× (${o.workerCrashes.map((c) => `${c.inFlight} saga${c.inFlight === 1 ? '' : 's'} in flight at ${c.atS} s`).join(', ') || '-'}), real-time ${o.realtime.published} sent / ${o.realtime.failed} dropped / ${o.realtime.received} received, ${o.catalogQueries.answered} stock/price queries (p50 ${o.catalogQueries.p50Ms} ms)`,
    `  payments    ${s.payments.charges} charges, ${s.payments.refunds} refunds, net ${money(s.payments.netCents)}`,
    `  analytics   revenue ${money(s.analytics.revenueCents)}; top products ${s.analytics.topProducts.map((p) => `${p.productId} (${p.units})`).join(', ')}`,
    `  dead letters ${s.deadLetters.orderRequests} on orders.requests.dlq, ${s.deadLetters.other} elsewhere`,
    ...s.checks.map((c) => `  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name} — ${c.detail}`),
    s.ok ? `RESULT: all ${s.checks.length} checks passed` : `RESULT: ${s.checks.filter((c) => !c.ok).length} of ${s.checks.length} checks FAILED`,
  ].join('\n');
}

/** One progress line. */
export function formatProgress(p: Progress): string {
  const latency = p.ordersPerSecond === 0 ? '-' : `p50 ${Math.round(p.p50Ms)} ms p99 ${Math.round(p.p99Ms)} ms`;
  return `[${String(p.elapsedS).padStart(3)} s] ${p.phase === 'load' ? '' : '(settling) '}${p.ordersPerSecond} orders/s | latency ${latency} | lag ${p.lag} | retries ${p.retries} | DLQ ${p.deadLetters} | sagas ${p.completed} completed, ${p.rolledBack} rolled back | email circuit ${p.breaker}`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      rate: { type: 'string', default: '50' },
      profile: { type: 'string', default: 'embedded' },
      json: { type: 'boolean', default: false },
      'no-faults': { type: 'boolean', default: false },
    },
  });
  const summary = await runDemo({
    profile: values.profile,
    durationS: Number(values.duration),
    rate: Number(values.rate),
    customers: 200,
    products: 50,
    faults: values['no-faults'] ? noFaults : defaultFaults,
    onProgress: values.json ? undefined : (p) => console.log(formatProgress(p)),
  });
  console.log(values.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
  process.exitCode = summary.ok ? 0 : 1;
}
