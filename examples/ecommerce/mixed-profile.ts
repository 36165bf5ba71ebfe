// The distributed setup: Kafka carries the event streams, RabbitMQ the business processes and the
// email queue, NATS the real-time updates and stock/price queries, and PostgreSQL holds the event
// store (publishing through a transactional outbox), the saga store and the idempotency keys.
// Services are the same code as on the embedded profile; only this file differs.
//
// Each run works in names of its own — topics `demo.<run>.…` and a PostgreSQL schema `demo_<run>`
// (the schema and the run's RabbitMQ queues are removed at the end) — so a run verifies exactly
// what it did, on brokers that outlive it.
import pg from 'pg';
import type { Transport } from 'switchyard';
import { postgresEventStore } from 'switchyard/eventsourcing';
import { kafka } from 'switchyard/kafka';
import { nats } from 'switchyard/nats';
import { kafkaLagSource, rabbitmqLagSource, type LagSource } from 'switchyard/observability';
import { postgresIdempotencyStore, postgresOutbox } from 'switchyard/postgres';
import { rabbitmq } from 'switchyard/rabbitmq';
import { postgresSagaStore } from 'switchyard/saga';
import type { Infrastructure } from './infrastructure.ts';
import type { OrderEvent } from './order.ts';
import { runScoped } from './run-scoped.ts';
import { requireMixedServices } from './service-check.ts';
import { TOPICS } from './topics.ts';

/** Where the services are: environment variables, else the local defaults of `npm run services`. */
export interface MixedConnections {
  kafkaBrokers: string[];
  amqpUrl: string;
  natsUrl: string;
  postgresUrl: string;
}

export function mixedConnections(env: NodeJS.ProcessEnv = process.env): MixedConnections {
  return {
    kafkaBrokers: (env.SWITCHYARD_KAFKA_BROKERS ?? '127.0.0.1:39092').split(',').map((b) => b.trim()),
    amqpUrl: env.SWITCHYARD_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    natsUrl: env.SWITCHYARD_NATS_URL ?? 'nats://127.0.0.1:4222',
    postgresUrl: env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  };
}

const missing = (what: string, error: unknown): Error =>
  // Says both ways out: start the local services, or point the demo at yours.
  new Error(
    `the mixed profile needs Kafka, RabbitMQ, NATS and PostgreSQL (\`npm run services\` starts them on this machine, or set SWITCHYARD_KAFKA_BROKERS, SWITCHYARD_AMQP_URL, SWITCHYARD_NATS_URL, SWITCHYARD_PG_URL to yours); ${what} is not reachable: ${(error as Error).message}`,
    { cause: error },
  );

// #region mixed
export async function mixedInfrastructure(connections: MixedConnections = mixedConnections()): Promise<Infrastructure> {
  // Every missing service named at once, in a moment (a client alone may retry for 15 s).
  await requireMixedServices(connections);
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const prefix = `demo.${run}.`;
  const schema = `demo_${run}`;

  const pool = new pg.Pool({ connectionString: connections.postgresUrl, max: 20 });
  await pool.query(`CREATE SCHEMA ${schema}`).catch(async (error: unknown) => {
    await pool.end();
    throw missing('PostgreSQL', error);
  });
  const kafkaBus = kafka({ brokers: connections.kafkaBrokers, clientId: `switchyard-demo-${run}` });
  // Group queues of a run that died before it deleted them go an hour after their last consumer left.
  const rabbitBus = rabbitmq({ url: connections.amqpUrl, groupQueue: { expiresMs: 3_600_000 } });
  const natsBus = nats({ servers: connections.natsUrl, mode: 'core' });

  const events = runScoped(kafkaBus, prefix);
  const outbox = postgresOutbox({ pool, table: `${schema}.outbox` });
  await outbox.migrate();
  const eventStore = postgresEventStore<OrderEvent>({ pool, schema, pollIntervalMs: 50, outbox: { outbox, topic: TOPICS.orderEvents } });
  const relay = outbox.relay({ transport: events, pollIntervalMs: 20, batchSize: 500 });
  const sagaStore = postgresSagaStore({ pool, table: `${schema}.sagas` });
  const dedup = postgresIdempotencyStore({ pool, table: `${schema}.idempotency`, transactional: false });

  const lagSources: LagSource[] = [
    kafkaLagSource({ brokers: connections.kafkaBrokers }, 'realtime', [prefix + TOPICS.orderEvents]),
    kafkaLagSource({ brokers: connections.kafkaBrokers }, 'orders-outcome', [prefix + TOPICS.sagaEvents]),
    rabbitmqLagSource(rabbitBus, [
      { topic: prefix + TOPICS.orderRequests, group: 'orders' },
      { topic: prefix + TOPICS.email, group: 'email' },
    ]),
  ];
  const transports: Transport[] = [kafkaBus, rabbitBus, natsBus];
  // The run's queues are of no use once it ended. Expiry would remove them (retry queues too),
  // but only after expiresMs of disuse, a dozen per run meanwhile: delete every queue this run
  // declared at once.
  const deleteRunQueues = async (): Promise<void> => {
    const queues = rabbitBus.declared().queues.filter((q) => q.startsWith(prefix));
    if (queues.length === 0) return; // also when the broker was never reached
    const { connection } = rabbitBus.native;
    await Promise.allSettled(queues.map((queue) => connection.queueDelete({ queue })));
  };
  const close = async (): Promise<void> => {
    await relay.stop();
    await eventStore.close();
    await deleteRunQueues();
    await Promise.allSettled(transports.map((t) => t.close()));
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  };
  try {
    await Promise.all(transports.map((t) => t.connect()));
  } catch (error) {
    await close(); // a broker is missing: leave nothing open (or the process would not exit)
    throw missing('a broker', error);
  }

  return {
    profile: 'mixed',
    events,
    processes: runScoped(rabbitBus, prefix),
    realtime: runScoped(natsBus, prefix),
    eventStore,
    sagaStore,
    dedup,
    async lagByGroup() {
      const lag: Record<string, number> = { 'outbox → orders.events / relay': await outbox.pending() };
      for (const source of lagSources) {
        for (const r of await source.read()) lag[`${r.topic.slice(prefix.length)} / ${r.group}`] = r.messages;
      }
      return lag;
    },
    close,
  };
}
// #endregion mixed
