// Inventory: stock per product and reservations. A reservation is keyed by the saga step's
// idempotency key, so a step re-run after a retry or a crash finds the reservation it already
// made instead of taking the stock twice; a release is keyed the same way. Stock is checked and
// taken in one synchronous block, so it never goes below zero.
import { PermanentError } from 'switchyard';
import type { OrderLine } from './order.ts';

export interface Product {
  productId: string;
  name: string;
  priceCents: number;
}

export interface Reservation {
  reservationId: string;
  orderId: string;
  lines: OrderLine[];
  status: 'held' | 'released';
}

/** The order asks for more than is left: permanent, the saga rolls back. */
export class OutOfStock extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = 'OutOfStock';
  }
}

export class Inventory {
  readonly products = new Map<string, Product>();
  readonly initialStock = new Map<string, number>();
  readonly stock = new Map<string, number>();
  readonly reservations = new Map<string, Reservation>();
  readonly #byKey = new Map<string, string>();
  readonly #released = new Set<string>();
  /** The lowest stock level any product ever had (checked on every change). */
  lowestStock = Number.POSITIVE_INFINITY;
  /** Reserve calls that found the reservation already made (retries, re-runs). */
  repeatedReservations = 0;
  #next = 1;

  constructor(products: ReadonlyArray<Product & { stock: number }>) {
    for (const { stock, ...product } of products) {
      this.products.set(product.productId, product);
      this.initialStock.set(product.productId, stock);
      this.stock.set(product.productId, stock);
      this.lowestStock = Math.min(this.lowestStock, stock);
    }
  }

  // #region reserve
  async reserve(orderId: string, lines: readonly OrderLine[], key: string): Promise<{ reservationId: string }> {
    await tick();
    const existing = this.#byKey.get(key);
    if (existing) {
      this.repeatedReservations++;
      return { reservationId: existing };
    }
    for (const line of lines) {
      const left = this.stock.get(line.productId);
      if (left === undefined) throw new OutOfStock(`unknown product ${line.productId}`);
      if (left < line.quantity) throw new OutOfStock(`only ${left} of ${line.productId} left, ${orderId} wants ${line.quantity}`);
    }
    for (const line of lines) this.#change(line.productId, -line.quantity); // no await between check and take
    const reservationId = `res-${this.#next++}`;
    this.reservations.set(reservationId, { reservationId, orderId, lines: [...lines], status: 'held' });
    this.#byKey.set(key, reservationId);
    return { reservationId };
  }
  // #endregion reserve

  async release(reservationId: string, key: string): Promise<void> {
    await tick();
    if (this.#released.has(key)) return;
    const reservation = this.reservations.get(reservationId);
    if (!reservation || reservation.status === 'released') return;
    for (const line of reservation.lines) this.#change(line.productId, line.quantity);
    reservation.status = 'released';
    this.#released.add(key);
  }

  /** Stock and price of one product: what the catalog query answers. */
  quote(productId: string): { productId: string; priceCents: number; available: number } | undefined {
    const product = this.products.get(productId);
    if (!product) return undefined;
    return { productId, priceCents: product.priceCents, available: this.stock.get(productId) ?? 0 };
  }

  #change(productId: string, delta: number): void {
    const next = (this.stock.get(productId) ?? 0) + delta;
    this.stock.set(productId, next);
    this.lowestStock = Math.min(this.lowestStock, next);
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve)); // a round trip to the service
