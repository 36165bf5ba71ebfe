// The verified summary: every claim is computed from the system's own state — the order streams
// in the event store, the saga store, the payment ledger, inventory, shipments, the email
// provider, the analytics read model and the dead-letter topics — never from what the load
// generator believes it did.
import type { EventStore, RecordedEvent } from 'switchyard/eventsourcing';
import type { SagaStore } from 'switchyard/saga';
import type { DeadLetterDesk } from './dead-letter-desk.ts';
import type { Crash } from './fulfillment-worker.ts';
import { TOPICS } from './topics.ts';
import type { OrderEvent, OrderLine } from './order.ts';
import type { Shop } from './shop.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Verified {
  ok: boolean;
  checks: Check[];
  orders: { requested: number; placed: number; completed: number; rolledBack: number; stuck: string[]; rolledBackBy: Record<string, number> };
  payments: { charges: number; refunds: number; netCents: number };
  deadLetters: { orderRequests: number; other: number; ids: string[] };
}

interface OrderView {
  status: 'placed' | 'confirmed' | 'cancelled';
  totalCents: number;
  lines: OrderLine[];
}

export interface VerifyInput {
  shop: Shop;
  eventStore: EventStore<OrderEvent>;
  sagaStore: SagaStore;
  /** The dead-letter topics, read one sweep at a time (the dashboard may be reading them too). */
  desk: DeadLetterDesk;
  /** Fulfillment worker crashes: the sagas each left behind must have been finished by the restarted worker. */
  crashes: readonly Crash[];
  requested: readonly string[];
  poisonIds: readonly string[];
}

// #region verify
export async function verify({ shop, eventStore, sagaStore, desk, crashes, requested, poisonIds }: VerifyInput): Promise<Verified> {
  const checks: Check[] = [];
  const check = (name: string, problems: string[], okDetail: string): void => {
    checks.push({ name, ok: problems.length === 0, detail: problems.length === 0 ? okDetail : `${problems.length} problem(s): ${problems.slice(0, 5).join('; ')}` });
  };

  // Orders, from their event streams.
  const orders = new Map<string, OrderView>();
  for await (const e of allEvents(eventStore)) {
    const id = e.streamId.slice('order-'.length);
    if (e.type === 'OrderPlaced') orders.set(id, { status: 'placed', totalCents: e.data.totalCents, lines: e.data.lines });
    else if (orders.has(id)) orders.get(id)!.status = e.type === 'OrderConfirmed' ? 'confirmed' : 'cancelled';
  }
  const byStatus = (s: OrderView['status']): string[] => [...orders].filter(([, o]) => o.status === s).map(([id]) => id);
  const confirmed = new Set(byStatus('confirmed'));
  const cancelled = new Set(byStatus('cancelled'));
  const stuck = [...requested.filter((id) => !orders.has(id)).map((id) => `${id} (never placed)`), ...byStatus('placed').map((id) => `${id} (placed, not settled)`)];
  check('every order completed or rolled back', stuck, `${requested.length} requested: ${confirmed.size} completed, ${cancelled.size} rolled back, 0 stuck`);

  // Sagas agree with the orders.
  const sagaProblems: string[] = [];
  const sagas = await sagaStore.list({ saga: 'order-fulfillment', limit: Number.MAX_SAFE_INTEGER });
  for (const s of sagas) {
    const order = orders.get(s.id);
    if (s.status === 'completed' && order?.status !== 'confirmed') sagaProblems.push(`saga ${s.id} completed, order ${order?.status ?? 'missing'}`);
    else if (s.status === 'rolled_back' && order?.status !== 'cancelled') sagaProblems.push(`saga ${s.id} rolled back, order ${order?.status ?? 'missing'}`);
    else if (s.status !== 'completed' && s.status !== 'rolled_back') sagaProblems.push(`saga ${s.id} is ${s.status}`);
  }
  if (sagas.length !== orders.size) sagaProblems.push(`${sagas.length} sagas for ${orders.size} orders`);
  const rolledBackBy: Record<string, number> = {};
  for (const s of sagas) {
    if (s.status !== 'rolled_back') continue;
    const reason = /failed: (\w+)/.exec(s.error ?? '')?.[1] ?? 'unknown'; // the failed step's error class: OutOfStock, CardDeclined…
    rolledBackBy[reason] = (rolledBackBy[reason] ?? 0) + 1;
  }
  // Sagas a crashed worker was driving: finished by the restarted one, not left leased to the dead.
  const bySaga = new Map(sagas.map((r) => [r.id, r]));
  const crashProblems = crashes.flatMap((c) => c.inFlight.filter((id) => !['completed', 'rolled_back'].includes(bySaga.get(id)?.status ?? '')).map((id) => `${id} is ${bySaga.get(id)?.status ?? 'missing'}`));
  const inFlight = crashes.reduce((n, c) => n + c.inFlight.length, 0);
  check('sagas of a crashed worker resumed and settled', crashProblems, crashes.length === 0 ? 'no worker crash injected' : inFlight === 0 ? `${crashes.length} crash(es), none while a saga was in flight: nothing to resume` : `${crashes.length} crash(es) left ${inFlight} saga(s) in flight; the restarted worker settled all`);
  check('every saga settled and agrees with its order', sagaProblems, `${sagas.length} sagas: ${sagas.filter((s) => s.status === 'completed').length} completed, ${sagas.filter((s) => s.status === 'rolled_back').length} rolled back`);

  // Payments: charged once per order; confirmed orders paid in full, cancelled ones refunded.
  const charges = new Map<string, number[]>();
  const refunds = new Map<string, number>();
  for (const entry of shop.payments.ledger) {
    if (entry.kind === 'charge') charges.set(entry.orderId, [...(charges.get(entry.orderId) ?? []), entry.amountCents]);
    else refunds.set(entry.orderId, (refunds.get(entry.orderId) ?? 0) + 1);
  }
  const payProblems: string[] = [];
  for (const [id, amounts] of charges) if (amounts.length > 1) payProblems.push(`${id} charged ${amounts.length} times`);
  for (const id of confirmed) {
    const amounts = charges.get(id);
    if (amounts?.length !== 1) payProblems.push(`confirmed ${id} charged ${amounts?.length ?? 0} times`);
    else if (amounts[0] !== orders.get(id)!.totalCents) payProblems.push(`confirmed ${id} charged ${amounts[0]} for a total of ${orders.get(id)!.totalCents}`);
    if (refunds.has(id)) payProblems.push(`confirmed ${id} was refunded`);
  }
  const chargeCount = [...charges.values()].reduce((n, a) => n + a.length, 0);
  check('payments charged at most once per order', payProblems, `${chargeCount} charges for ${charges.size} orders, every confirmed order charged exactly once`);

  // Compensations: every rolled-back order's reservation released, payment refunded, shipment cancelled.
  const compProblems: string[] = [];
  const held = new Map<string, number>();
  for (const r of shop.inventory.reservations.values()) {
    if (r.status === 'held') held.set(r.orderId, (held.get(r.orderId) ?? 0) + 1);
  }
  for (const id of cancelled) {
    if (held.has(id)) compProblems.push(`cancelled ${id} still holds stock`);
    if (charges.has(id) && refunds.get(id) !== 1) compProblems.push(`cancelled ${id} charged, refunded ${refunds.get(id) ?? 0} times`);
  }
  for (const s of shop.shipping.shipments.values()) if (cancelled.has(s.orderId) && s.status !== 'cancelled') compProblems.push(`cancelled ${s.orderId} still has shipment ${s.shipmentId}`);
  for (const id of confirmed) if (held.get(id) !== 1) compProblems.push(`confirmed ${id} holds ${held.get(id) ?? 0} reservations`);
  const refunded = [...cancelled].filter((id) => charges.has(id)).length;
  check('compensations matched', compProblems, `${cancelled.size} rolled back: all reservations released, ${refunded} payments refunded once`);

  // Stock: never negative, and what is left is what the confirmed orders did not take.
  const stockProblems: string[] = [];
  if (shop.inventory.lowestStock < 0) stockProblems.push(`stock went down to ${shop.inventory.lowestStock}`);
  const sold = new Map<string, number>();
  for (const id of confirmed) for (const l of orders.get(id)!.lines) sold.set(l.productId, (sold.get(l.productId) ?? 0) + l.quantity);
  for (const [p, initial] of shop.inventory.initialStock) {
    const left = shop.inventory.stock.get(p)!;
    if (left !== initial - (sold.get(p) ?? 0)) stockProblems.push(`${p}: ${left} left, expected ${initial} - ${sold.get(p) ?? 0} sold`);
  }
  const soldOut = [...shop.inventory.stock.values()].filter((n) => n === 0).length;
  check('stock never negative and balanced', stockProblems, `lowest level ${shop.inventory.lowestStock}; every product's stock = initial - units in confirmed orders; ${soldOut} sold out`);

  // Emails: one per confirmed order, none for the others.
  const mailProblems: string[] = [];
  for (const id of confirmed) if (shop.notifications.provider.sent.get(id) !== 1) mailProblems.push(`${id}: ${shop.notifications.provider.sent.get(id) ?? 0} emails`);
  for (const id of shop.notifications.provider.sent.keys()) if (!confirmed.has(id)) mailProblems.push(`${id} emailed but not confirmed`);
  check('one confirmation email per completed order', mailProblems, `${confirmed.size} emails sent, none twice`);

  // Dead letters: exactly the poison messages, nothing else anywhere.
  const requestsDlq = `${TOPICS.orderRequests}.dlq`;
  const dlq = await desk.list(requestsDlq);
  const otherDlq = [];
  for (const topic of desk.topics) if (topic !== requestsDlq) otherDlq.push(...(await desk.list(topic)));
  const dlqIds = dlq.map((d) => d.id).toSorted();
  const dlqProblems: string[] = [];
  if (JSON.stringify(dlqIds) !== JSON.stringify([...poisonIds].toSorted())) dlqProblems.push(`DLQ holds ${dlqIds.length} (${dlqIds.slice(0, 3).join(', ')}…), injected ${poisonIds.length}`);
  for (const d of dlq) if (!d.error.startsWith('DecodeError')) dlqProblems.push(`${d.id}: ${d.error}`);
  if (otherDlq.length > 0) dlqProblems.push(`${otherDlq.length} unexpected dead letters: ${otherDlq[0]!.error}`);
  check('DLQ holds exactly the injected poison messages', dlqProblems, `${dlq.length} dead letters = ${poisonIds.length} injected, all DecodeError; no other dead letters`);

  // Analytics agrees with the money.
  const netCents = shop.payments.ledger.reduce((n, e) => n + (e.kind === 'charge' ? e.amountCents : -e.amountCents), 0);
  const a = shop.analytics;
  const anaProblems: string[] = [];
  if (a.revenueCents !== netCents) anaProblems.push(`analytics revenue ${a.revenueCents} ≠ net payments ${netCents}`);
  if (a.confirmed !== confirmed.size || a.cancelled !== cancelled.size) anaProblems.push(`analytics counts ${a.confirmed}/${a.cancelled} ≠ orders ${confirmed.size}/${cancelled.size}`);
  check('analytics revenue equals net payments', anaProblems, `revenue ${(netCents / 100).toFixed(2)} in ${a.revenuePerMinute.size} minute(s)`);

  return {
    ok: checks.every((c) => c.ok),
    checks,
    orders: { requested: requested.length, placed: orders.size, completed: confirmed.size, rolledBack: cancelled.size, stuck, rolledBackBy },
    payments: { charges: chargeCount, refunds: [...refunds.values()].reduce((n, c) => n + c, 0), netCents },
    deadLetters: { orderRequests: dlq.length, other: otherDlq.length, ids: dlqIds },
  };
}
// #endregion verify

async function* allEvents(store: EventStore<OrderEvent>): AsyncGenerator<RecordedEvent<OrderEvent>> {
  const head = await store.headPosition();
  for (let from = 1; from <= head; ) {
    const page = await store.readAllPage({ from, limit: 5_000, filter: { category: 'order' } });
    yield* page.events;
    if (page.next <= from) return;
    from = page.next;
  }
}
