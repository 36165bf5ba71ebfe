// The same demo on the distributed setup: Kafka (the mock cluster of `npm run services`),
// RabbitMQ, NATS and PostgreSQL. Same services, same faults, same verified summary.
import pg from 'pg';
import { expect, it } from 'vitest';
import { demo, type Summary } from './demo-cli.ts';

const postgresUrl = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
// The management API of `npm run services` (port 15672 on the AMQP host, same user).
const amqpUrl = new URL(process.env.SWITCHYARD_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');

/** Names of the demo runs' RabbitMQ queues (`demo.<run>.…`). */
async function demoQueues(): Promise<Set<string>> {
  const user = `${decodeURIComponent(amqpUrl.username || 'guest')}:${decodeURIComponent(amqpUrl.password || 'guest')}`;
  const response = await fetch(`http://${amqpUrl.hostname}:15672/api/queues?columns=name`, { headers: { authorization: `Basic ${btoa(user)}` } });
  if (!response.ok) throw new Error(`RabbitMQ management API: ${response.status} ${response.statusText}`);
  const queues = (await response.json()) as Array<{ name: string }>;
  return new Set(queues.map((q) => q.name).filter((name) => name.startsWith('demo.')));
}

async function demoSchemas(): Promise<number> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM pg_namespace WHERE nspname LIKE 'demo\\_%'`);
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

it('switchyard demo --profile mixed: Kafka events, RabbitMQ processes, NATS real-time, PostgreSQL stores — every check passes and the run leaves no schema and no queue behind', { timeout: 120_000 }, async () => {
  const schemasBefore = await demoSchemas();
  const queuesBefore = await demoQueues();
  const poison = 4;
  const { code, stdout, stderr } = await demo(['--profile', 'mixed', '--duration', '8', '--rate', '40', '--json', '--poison', String(poison), '--duplicates', '10']);
  const summary = JSON.parse(stdout) as Summary & { profile: string };
  expect(summary.checks.filter((c) => !c.ok), stderr).toEqual([]);
  expect(code).toBe(0);
  expect(summary.profile).toBe('mixed');
  expect(summary.orders.requested).toBeGreaterThan(150);
  expect(summary.orders.stuck).toEqual([]);
  expect(summary.orders.completed + summary.orders.rolledBack).toBe(summary.orders.requested);
  expect(summary.observed.duplicatesSkipped).toBe(summary.injected.duplicatesSent);
  expect(summary.deadLetters.ids).toEqual(summary.injected.poisonIds.toSorted());
  expect(summary.deadLetters.orderRequests).toBe(poison);
  expect(await demoSchemas()).toBe(schemasBefore);
  // Group and retry queues alike (retry queues have no expiry: nothing else would ever remove them).
  expect([...(await demoQueues())].filter((q) => !queuesBefore.has(q))).toEqual([]);
});
