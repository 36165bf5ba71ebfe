// Stand-ins for the inventory, payment, shipping and email services the saga calls. Each keys its
// work on the idempotency key it is given, so a step re-run after a crash or a retry has no second
// effect — the contract a real service's API offers with an `Idempotency-Key` header.
import { PermanentError } from 'switchyard';

export interface Order {
  orderId: string;
  customerId: string;
  amount: number;
}

export class Services {
  readonly log: string[] = [];
  readonly #done = new Map<string, unknown>();
  #next = 1;
  /** Orders whose payment the bank declines. */
  readonly declined = new Set<string>();
  /** Orders no courier delivers. */
  readonly undeliverable = new Set<string>();

  /** Runs `work` once per key; later calls with the key return the first result. */
  async #once<T>(key: string, work: () => T): Promise<T> {
    await new Promise((resolve) => setTimeout(resolve, 1)); // a network round trip
    if (!this.#done.has(key)) this.#done.set(key, work());
    return this.#done.get(key) as T;
  }

  reserveInventory(order: Order, key: string): Promise<{ reservationId: string }> {
    return this.#once(key, () => {
      const reservationId = `inv-${this.#next++}`;
      this.log.push(`inventory: reserved ${reservationId} for ${order.orderId}`);
      return { reservationId };
    });
  }

  releaseInventory(reservationId: string, key: string): Promise<void> {
    return this.#once(key, () => void this.log.push(`inventory: released ${reservationId}`));
  }

  processPayment(order: Order, key: string): Promise<{ paymentId: string }> {
    if (this.declined.has(order.orderId)) return Promise.reject(new PermanentError(`card declined for ${order.orderId}`));
    return this.#once(key, () => {
      const paymentId = `pay-${this.#next++}`;
      this.log.push(`payments: charged ${order.amount.toFixed(2)} as ${paymentId}`);
      return { paymentId };
    });
  }

  refundPayment(paymentId: string, key: string): Promise<void> {
    return this.#once(key, () => void this.log.push(`payments: refunded ${paymentId}`));
  }

  createShipment(order: Order, key: string): Promise<{ shipmentId: string }> {
    if (this.undeliverable.has(order.orderId)) return Promise.reject(new PermanentError(`no courier delivers ${order.orderId}`));
    return this.#once(key, () => {
      const shipmentId = `ship-${this.#next++}`;
      this.log.push(`shipping: created ${shipmentId} for ${order.orderId}`);
      return { shipmentId };
    });
  }

  cancelShipment(shipmentId: string, key: string): Promise<void> {
    return this.#once(key, () => void this.log.push(`shipping: cancelled ${shipmentId}`));
  }

  sendConfirmation(order: Order, key: string): Promise<void> {
    return this.#once(key, () => void this.log.push(`email: confirmation sent to ${order.customerId}`));
  }
}
