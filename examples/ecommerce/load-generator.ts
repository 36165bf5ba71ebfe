// Black Friday: customers hammer the storefront at a fixed rate of orders per second. Prices come
// from the stock/price query (request-reply); a few products are doorbusters with little stock,
// so they sell out. Faults are injected on the way in: duplicated deliveries (the same message
// sent twice) and poison messages (bytes that are not an order).
import { json, type Transport } from 'switchyard';
import type { CatalogClient, Quote } from './catalog.ts';
import type { PlaceOrderRequest } from './fulfillment.ts';
import type { OrderLine } from './order.ts';
import { TOPICS } from './topics.ts';

export interface LoadOptions {
  /** Orders per second; 0 = as fast as the shop takes them (bounded by `maxInFlight`). */
  rate: number;
  durationS: number;
  customers: number;
  products: number;
  /** Share of order requests delivered twice. */
  duplicateRate: number;
  /** Malformed messages mixed into the order requests. */
  poison: number;
  /** Share of orders whose customer checks stock and price live first (request-reply). */
  liveQueryRate: number;
  /** With rate 0: orders placed and not yet settled at most. */
  maxInFlight?: number;
  random?: () => number;
}

export interface LoadResult {
  /** Order ids requested, each once (duplicates are the same id). */
  orderIds: string[];
  placedAt: Map<string, number>;
  duplicatesSent: number;
  /** Message ids of the poison messages. */
  poisonIds: string[];
  liveQueries: number;
  startedAt: number;
  endedAt: number;
}

export function productIds(products: number): string[] {
  return Array.from({ length: products }, (_, i) => `p${String(i + 1).padStart(3, '0')}`);
}

// #region generator
export class LoadGenerator {
  readonly result: LoadResult = { orderIds: [], placedAt: new Map(), duplicatesSent: 0, poisonIds: [], liveQueries: 0, startedAt: 0, endedAt: 0 };
  readonly #processes: Transport;
  readonly #catalog: CatalogClient;
  readonly #options: LoadOptions;
  readonly #random: () => number;
  readonly #prices = new Map<string, number>();
  readonly #pending = new Set<Promise<unknown>>();
  #settled = 0;
  #wake: (() => void) | undefined;

  constructor(processes: Transport, catalog: CatalogClient, options: LoadOptions) {
    this.#processes = processes;
    this.#catalog = catalog;
    this.#options = options;
    this.#random = options.random ?? Math.random;
  }

  /** Tells a full-speed generator that an order settled (frees a slot). */
  settled(): void {
    this.#settled++;
    this.#wake?.();
  }

  async run(signal?: AbortSignal): Promise<LoadResult> {
    const { rate, durationS, poison } = this.#options;
    const quotes = await Promise.all(productIds(this.#options.products).map((p) => this.#catalog.quote(p)));
    for (const q of quotes) this.#prices.set(q.productId, q.priceCents);
    const r = this.result;
    r.startedAt = Date.now();
    const end = r.startedAt + durationS * 1_000;
    const poisonAt = Array.from({ length: poison }, (_, i) => r.startedAt + ((i + 0.5) / poison) * durationS * 1_000);
    let n = 0;
    while (Date.now() < end && !signal?.aborted) {
      while (poisonAt.length > 0 && poisonAt[0]! <= Date.now()) {
        poisonAt.shift();
        this.#track(this.#poison());
      }
      if (rate > 0) {
        const due = Math.floor(((Date.now() - r.startedAt) / 1_000) * rate);
        const batch: Promise<unknown>[] = [];
        while (n < due) batch.push(this.#order(++n));
        await Promise.all(batch);
        await sleep(10);
      } else {
        const max = this.#options.maxInFlight ?? 200;
        if (r.orderIds.length - this.#settled >= max) {
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
            setTimeout(resolve, 50);
          });
          this.#wake = undefined;
          continue;
        }
        const batch: Promise<unknown>[] = [];
        for (let i = 0; i < 20; i++) batch.push(this.#order(++n));
        await Promise.all(batch);
      }
    }
    for (const _ of poisonAt) this.#track(this.#poison()); // the rest, if the run was cut short
    await Promise.all(this.#pending);
    r.endedAt = Date.now();
    return r;
  }

  async #order(n: number): Promise<void> {
    const orderId = `o${String(n).padStart(7, '0')}`;
    const customerId = `c${1 + Math.floor(this.#random() ** 2 * this.#options.customers)}`; // some customers buy a lot
    const lines: OrderLine[] = [];
    const count = 1 + Math.floor(this.#random() * 3);
    const ids = productIds(this.#options.products);
    for (let i = 0; i < count; i++) {
      const productId = ids[Math.floor(this.#random() ** 1.3 * ids.length)]!; // popular products first
      if (lines.some((l) => l.productId === productId)) continue;
      let priceCents = this.#prices.get(productId)!;
      if (this.#random() < this.#options.liveQueryRate) {
        const quote: Quote = await this.#catalog.quote(productId);
        this.result.liveQueries++;
        priceCents = quote.priceCents;
      }
      lines.push({ productId, quantity: 1 + Math.floor(this.#random() * 2), priceCents });
    }
    const placedAt = Date.now();
    const request: PlaceOrderRequest = { orderId, customerId, lines, placedAt };
    const message = json<PlaceOrderRequest>().encode(request, { id: `req-${orderId}`, key: customerId });
    this.result.orderIds.push(orderId);
    this.result.placedAt.set(orderId, placedAt);
    await this.#processes.publish(TOPICS.orderRequests, message);
    if (this.#random() < this.#options.duplicateRate) {
      this.result.duplicatesSent++;
      // The same message again a little later, as a broker redelivering after a lost ack would.
      this.#track(sleep(this.#random() * 100).then(() => this.#processes.publish(TOPICS.orderRequests, message)));
    }
  }

  async #poison(): Promise<void> {
    const id = `poison-${this.result.poisonIds.length + 1}`;
    this.result.poisonIds.push(id);
    const payload = new TextEncoder().encode(`{"orderId": "${id}", "lines": [`); // cut off mid-way: not JSON
    await this.#processes.publish(TOPICS.orderRequests, { id, key: id, payload, headers: { 'content-type': 'application/json' } });
  }

  #track(p: Promise<unknown>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }
}
// #endregion generator

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
