// Shipping: books a courier per order, keyed by the saga step's idempotency key.
import { PermanentError } from 'switchyard';
import { hashShare } from './payments.ts';

export class Undeliverable extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = 'Undeliverable';
  }
}

export class Shipping {
  readonly shipments = new Map<string, { shipmentId: string; orderId: string; status: 'booked' | 'cancelled' }>();
  readonly #byKey = new Map<string, string>();
  readonly #failRate: number;
  #next = 1;

  /** `failRate`: share of orders no courier takes (the saga refunds and releases). */
  constructor(failRate: number) {
    this.#failRate = failRate;
  }

  async book(orderId: string, key: string): Promise<{ shipmentId: string }> {
    await tick();
    const existing = this.#byKey.get(key);
    if (existing) return { shipmentId: existing };
    if (hashShare(`ship:${orderId}`) < this.#failRate) throw new Undeliverable(`no courier delivers ${orderId}`);
    const shipmentId = `ship-${this.#next++}`;
    this.shipments.set(shipmentId, { shipmentId, orderId, status: 'booked' });
    this.#byKey.set(key, shipmentId);
    return { shipmentId };
  }

  async cancel(shipmentId: string): Promise<void> {
    await tick();
    const s = this.shipments.get(shipmentId);
    if (s) s.status = 'cancelled';
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
