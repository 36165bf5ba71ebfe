import { describe, expect, it } from 'vitest';
import { isConcurrencyError } from '../core/errors.ts';
import { Aggregate, aggregateRepository } from './aggregate.ts';
import type { DomainEvent } from './event-store.ts';
import { memoryEventStore } from './memory-event-store.ts';

type Deposited = DomainEvent<'Deposited', { amount: number }>;
type Withdrawn = DomainEvent<'Withdrawn', { amount: number }>;

class Account extends Aggregate<{ balance: number }, Deposited | Withdrawn> {
  constructor(id: string) {
    super(id, { balance: 0 });
  }
  deposit(amount: number): void {
    this.raise({ type: 'Deposited', data: { amount } });
  }
  withdraw(amount: number): void {
    if (amount > this.state.balance) throw new Error(`insufficient funds: ${this.state.balance} < ${amount}`);
    this.raise({ type: 'Withdrawn', data: { amount } });
  }
  protected apply(state: { balance: number }, event: Deposited | Withdrawn): { balance: number } {
    return { balance: state.balance + (event.type === 'Deposited' ? event.data.amount : -event.data.amount) };
  }
}

describe('Aggregate and aggregateRepository', () => {
  it('saves raised events with the loaded version and loads them back', async () => {
    const store = memoryEventStore();
    const accounts = aggregateRepository(store, (id) => new Account(id), { streamId: (id) => `account-${id}` });
    const account = await accounts.load('a-1');
    account.deposit(100);
    account.withdraw(30);
    expect(account.uncommittedEvents.length).toBe(2);
    await accounts.save(account, { metadata: { correlationId: 'c-1' } });
    expect(account.version).toBe(2);
    expect(account.uncommittedEvents).toEqual([]);
    const again = await accounts.load('a-1');
    expect(again.state.balance).toBe(70);
    expect(again.version).toBe(2);
    expect((await store.readStream('account-a-1'))[0]!.metadata).toEqual({ correlationId: 'c-1' });
    expect(() => again.withdraw(100)).toThrow(/insufficient funds/);
  });

  it('rejects a stale save with ConcurrencyError, and update() retries until it lands', async () => {
    const store = memoryEventStore();
    const accounts = aggregateRepository(store, (id) => new Account(id), { maxRetries: 10 });
    const first = await accounts.load('a');
    const second = await accounts.load('a');
    first.deposit(1);
    second.deposit(2);
    await accounts.save(first);
    expect(isConcurrencyError(await accounts.save(second).catch((e: unknown) => e))).toBe(true);
    await Promise.all(Array.from({ length: 10 }, () => accounts.update('a', (acc) => acc.deposit(10))));
    const final = await accounts.load('a');
    expect(final.state.balance).toBe(101);
    expect(final.version).toBe(11);
  });
});
