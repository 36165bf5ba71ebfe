// Where every piece of the shop runs. Services never build a transport or a store themselves:
// they get them by role from here, so moving from one machine to the distributed setup is a
// change of profile, not of service code.
//
//   role        embedded profile (default)            mixed profile (mixed-profile.ts)
//   events      embedded broker (durable log)         Kafka: order events, saga events
//   processes   the same embedded broker              RabbitMQ: order requests, email queue
//   realtime    a second embedded broker, no fsync    NATS: customer updates, stock/price queries
//   eventStore  embeddedEventStore({ dir })           postgresEventStore({ pool, outbox })
//   sagaStore   embeddedSagaStore({ transport })      postgresSagaStore({ pool })
//   dedup       memoryIdempotencyStore()              postgresIdempotencyStore({ pool })
import { join } from 'node:path';
import { ConfigError, memoryIdempotencyStore, type IdempotencyStore, type Transport } from 'switchyard';
import { embedded, type EmbeddedTransport } from 'switchyard/embedded';
import { embeddedEventStore, type EventStore } from 'switchyard/eventsourcing';
import { embeddedSagaStore, type SagaStore } from 'switchyard/saga';
import type { OrderEvent } from './order.ts';
import { mixedInfrastructure } from './mixed-profile.ts';
import { TOPICS } from './topics.ts';

export const PROFILES = ['embedded', 'mixed'] as const;
export type Profile = (typeof PROFILES)[number];

export interface Infrastructure {
  readonly profile: Profile;
  /** Event streams: order events, saga events. Replayable. */
  readonly events: Transport;
  /** Work queues: order requests, the email queue. Each message handled once per group. */
  readonly processes: Transport;
  /** Fire-and-forget and request-reply: customer updates, stock/price queries. */
  readonly realtime: Transport;
  readonly eventStore: EventStore<OrderEvent>;
  readonly sagaStore: SagaStore;
  readonly dedup: IdempotencyStore;
  /** Consumer lag by `topic / group` (what is published and not yet acknowledged), over every transport. */
  lagByGroup(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

// #region profile
export async function createInfrastructure(profile: string, dir: string): Promise<Infrastructure> {
  switch (profile) {
    case 'embedded': {
      // One partition per topic (the default): on one machine more buy no parallelism — one event
      // loop consumes them all, and a group already runs different keys at once, in order per key —
      // while each is a file of its own, written and fsync'd separately at every group commit.
      const bus = embedded({ dir: join(dir, 'broker'), redeliveryDelayMs: 50 });
      // Fire-and-forget traffic (customer updates, stock/price queries) is not worth an fsync, as
      // on NATS core in the mixed profile: a broker of its own that hands records to the OS only.
      const live = embedded({ dir: join(dir, 'realtime'), fsync: 'never', redeliveryDelayMs: 50 });
      const eventStore = embeddedEventStore<OrderEvent>({ dir: join(dir, 'events'), publish: { transport: bus, topic: TOPICS.orderEvents } });
      // Saga instances in a compacted topic of the same broker: one fsync group for both.
      const sagaStore = embeddedSagaStore({ transport: bus, topic: 'shop.sagas' });
      return {
        profile,
        events: bus,
        processes: bus,
        realtime: live,
        eventStore,
        sagaStore,
        dedup: memoryIdempotencyStore({ maxKeys: 1_000_000 }),
        lagByGroup: async () => ({ ...(await embeddedLag(bus)), ...(await embeddedLag(live)) }),
        close: async () => {
          await eventStore.close();
          await sagaStore.close();
          await bus.close();
          await live.close();
        },
      };
    }
    case 'mixed':
      return mixedInfrastructure();
    default:
      throw new ConfigError(`unknown profile "${profile}"; choose one of ${PROFILES.join(', ')}`);
  }
}
// #endregion profile

/** The shop's groups only: tools' groups (`switchyard.*`, e.g. the DLQ reader) are not the shop's backlog. */
async function embeddedLag(bus: EmbeddedTransport): Promise<Record<string, number>> {
  const lag: Record<string, number> = {};
  for (const topic of await bus.inspect()) {
    // One line for all the per-customer update topics, not one per customer.
    const name = topic.topic.startsWith('orders.updates.') ? 'orders.updates.*' : topic.topic;
    for (const group of topic.groups) {
      if (group.group.startsWith('switchyard.')) continue;
      const key = `${name} / ${group.group}`;
      lag[key] = (lag[key] ?? 0) + group.lag;
    }
  }
  return lag;
}

/** Total lag over every group of a `lagByGroup()` reading. */
export function totalLag(lagByGroup: Record<string, number>): number {
  return Object.values(lagByGroup).reduce((n, l) => n + l, 0);
}
