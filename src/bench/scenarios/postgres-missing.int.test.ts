import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchContext, Scenario } from '../types.ts';
import { eventsourcingScenario } from './eventsourcing.ts';
import { sagaScenario } from './saga.ts';

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('benchmark scenarios with PostgreSQL cases, when PostgreSQL is not running', () => {
  const previous = process.env['SWITCHYARD_PG_URL'];
  beforeAll(async () => {
    process.env['SWITCHYARD_PG_URL'] = `postgres://postgres@127.0.0.1:${await closedPort()}/test`;
  });
  afterAll(() => {
    if (previous === undefined) delete process.env['SWITCHYARD_PG_URL'];
    else process.env['SWITCHYARD_PG_URL'] = previous;
  });

  it.each([
    ['saga', sagaScenario],
    ['eventsourcing', eventsourcingScenario],
  ] as Array<[string, Scenario]>)('%s: keeps its other cases and records the skipped ones for the report', async (_, scenario) => {
    const skipped: string[] = [];
    const ctx: BenchContext = { quick: true, rounds: 1, log: () => undefined, skip: (reason) => void skipped.push(reason) };
    const cases = await scenario.cases(ctx);
    try {
      expect(cases.length).toBeGreaterThan(0);
      expect(cases.some((c) => /postgres/i.test(c.name))).toBe(false);
      expect(skipped).toHaveLength(1);
      expect(skipped[0]).toMatch(/PostgreSQL is not reachable at postgres:\/\/postgres@127\.0\.0\.1:\d+\/test .*run: npm run services/);
    } finally {
      for (const c of cases) await c.close?.();
    }
  });
});
