// The stock/price query: request-reply over two topics with a correlation id (on NATS in the
// mixed profile this becomes its native request-reply). The server answers from inventory; each
// client listens on the replies topic in its own group and matches replies to its requests.
import { randomUUID } from 'node:crypto';
import { json, TimeoutError, type Router, type Subscription, type Transport } from 'switchyard';
import type { Inventory } from './inventory.ts';
import { TOPICS } from './topics.ts';

export interface Quote {
  productId: string;
  priceCents: number;
  available: number;
}

interface QuoteRequest {
  productId: string;
}

const REPLY_TO = 'x-reply-to';
const REQUEST_ID = 'x-request-id';

// #region catalog-server
export function catalogServer(router: Router, realtime: Transport, inventory: Inventory): void {
  router.handle('catalog-query', { from: realtime, topic: TOPICS.catalogRequests, group: 'catalog', codec: json<QuoteRequest>(), concurrency: 8 }, async (msg, ctx) => {
    const quote = inventory.quote(msg.payload.productId) ?? { productId: msg.payload.productId, priceCents: 0, available: 0 };
    ctx.publish(msg.headers[REPLY_TO] ?? TOPICS.catalogReplies, json<Quote>().encode(quote, { headers: { [REQUEST_ID]: msg.id, [REPLY_TO]: msg.headers[REPLY_TO] ?? '' } }));
  });
}
// #endregion catalog-server

/** Asks the catalog and waits for the reply with the matching request id. */
export class CatalogClient {
  readonly #transport: Transport;
  readonly #pending = new Map<string, { resolve: (q: Quote) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #group = `catalog-client-${randomUUID().slice(0, 8)}`;
  #subscription: Subscription | undefined;
  answered = 0;
  readonly latenciesMs: number[] = [];

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  async start(): Promise<void> {
    this.#subscription = await this.#transport.subscribe(TOPICS.catalogReplies, { group: this.#group, from: 'latest', concurrency: 8 }, async (msg) => {
      const waiter = this.#pending.get(msg.headers[REQUEST_ID] ?? '');
      if (!waiter) return; // someone else's reply, or one that came after its timeout
      this.#pending.delete(msg.headers[REQUEST_ID]!);
      clearTimeout(waiter.timer);
      waiter.resolve(json<Quote>().decode(msg));
    });
  }

  async quote(productId: string, timeoutMs = 5_000): Promise<Quote> {
    const id = randomUUID();
    const started = performance.now();
    const reply = new Promise<Quote>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new TimeoutError(`the stock/price query for ${productId}`, timeoutMs));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    await this.#transport.publish(TOPICS.catalogRequests, json<QuoteRequest>().encode({ productId }, { id, key: productId, headers: { [REPLY_TO]: TOPICS.catalogReplies } }));
    const quote = await reply;
    this.answered++;
    this.latenciesMs.push(performance.now() - started);
    return quote;
  }

  async close(): Promise<void> {
    for (const w of this.#pending.values()) clearTimeout(w.timer);
    await this.#subscription?.close();
  }
}
