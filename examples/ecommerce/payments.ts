// Payments: a card is charged at most once per order. The charge is keyed by the order id (the
// idempotency key a payment provider takes), so a retried step, a re-run after a crash or a
// duplicated request returns the first charge instead of taking the money twice. Every effect
// is written to a ledger, which the demo's summary reads to prove it.
import { PermanentError } from 'switchyard';

export interface LedgerEntry {
  kind: 'charge' | 'refund';
  orderId: string;
  paymentId: string;
  amountCents: number;
  at: number;
}

export interface PaymentFaults {
  /** Share of orders whose card is declined (permanent: the saga rolls back). */
  declineRate: number;
  /** Share of charge attempts that fail transiently (the saga step retries). */
  transientRate: number;
  /** Share of charges the caller sends twice (a lost response, a client retry). */
  duplicateRate: number;
}

export class CardDeclined extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = 'CardDeclined';
  }
}

export class Payments {
  readonly ledger: LedgerEntry[] = [];
  readonly #charges = new Map<string, LedgerEntry>();
  readonly #refunds = new Map<string, LedgerEntry>();
  readonly #faults: PaymentFaults;
  readonly #random: () => number;
  /** Charge requests answered with an earlier charge (duplicates that took no money). */
  duplicatesAbsorbed = 0;
  transientFailures = 0;
  #next = 1;

  constructor(faults: PaymentFaults, random: () => number = Math.random) {
    this.#faults = faults;
    this.#random = random;
  }

  /** Declines are decided per order, once, so a retry of a declined card is declined again. */
  declines(orderId: string): boolean {
    return hashShare(orderId) < this.#faults.declineRate;
  }

  // #region charge
  async charge(orderId: string, amountCents: number): Promise<{ paymentId: string }> {
    await tick();
    if (this.declines(orderId)) throw new CardDeclined(`card declined for ${orderId}`);
    if (this.#random() < this.#faults.transientRate) {
      this.transientFailures++;
      throw new Error(`payment provider timed out charging ${orderId}`);
    }
    const earlier = this.#charges.get(orderId); // the provider's idempotency key: the order id
    if (earlier) {
      this.duplicatesAbsorbed++;
      return { paymentId: earlier.paymentId };
    }
    const entry: LedgerEntry = { kind: 'charge', orderId, paymentId: `pay-${this.#next++}`, amountCents, at: Date.now() };
    this.#charges.set(orderId, entry);
    this.ledger.push(entry);
    return { paymentId: entry.paymentId };
  }
  // #endregion charge

  /** Sends the charge twice when the fault says so, as a client whose first response got lost. */
  async chargeWithDuplicates(orderId: string, amountCents: number): Promise<{ paymentId: string }> {
    if (this.#random() < this.#faults.duplicateRate) {
      const [first, second] = await Promise.allSettled([this.charge(orderId, amountCents), this.charge(orderId, amountCents)]);
      if (first.status === 'fulfilled') return first.value;
      if (second.status === 'fulfilled') return second.value;
      throw first.reason;
    }
    return this.charge(orderId, amountCents);
  }

  async refund(orderId: string, paymentId: string): Promise<void> {
    await tick();
    if (this.#refunds.has(orderId)) return;
    const charge = this.#charges.get(orderId);
    if (!charge || charge.paymentId !== paymentId) return;
    const entry: LedgerEntry = { kind: 'refund', orderId, paymentId, amountCents: charge.amountCents, at: Date.now() };
    this.#refunds.set(orderId, entry);
    this.ledger.push(entry);
  }
}

/** A stable share in [0, 1) of a string: the same order is always declined or always not. */
export function hashShare(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b); // mix, so ids that differ in their last character spread evenly
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
