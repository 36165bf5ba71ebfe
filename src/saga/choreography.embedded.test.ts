import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Transport } from '../core/transport.ts';
import { embedded } from '../transports/embedded/index.ts';
import { CAUSATION_HEADER, CORRELATION_HEADER } from './choreography.ts';
import { threeServices } from './fixtures/three-services.ts';

const dirs: string[] = [];
const buses: Transport[] = [];
afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function bus(): Transport {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-saga-'));
  dirs.push(dir);
  const b = embedded({ dir });
  buses.push(b);
  return b;
}

describe('choreography over the embedded broker', () => {
  it('a three-service chain completes with the correlation carried through', async () => {
    const app = await threeServices(bus(), { prefix: `ch${randomBytes(3).toString('hex')}`, withinMs: 10_000, refuse: [] });
    const correlationId = await app.place({ orderId: 'o-1', amount: 42 });
    const shipped = await app.waitFor('shipment.created', 'o-1');
    const charged = await app.waitFor('payment.charged', 'o-1');
    expect(shipped.headers[CORRELATION_HEADER]).toBe(correlationId);
    expect(shipped.headers[CAUSATION_HEADER]).toBe(charged.id);
    await app.watcherStatus(correlationId, 'completed');
    await app.close();
  });

  it('a missing event triggers the deadline compensation', async () => {
    const app = await threeServices(bus(), { prefix: `ch${randomBytes(3).toString('hex')}`, withinMs: 300, refuse: ['o-2'] });
    const stuck = await app.place({ orderId: 'o-2', amount: 2 });
    const released = await app.waitFor('inventory.released', 'o-2', 15_000);
    expect(released.headers[CORRELATION_HEADER]).toBe(stuck);
    await app.watcherStatus(stuck, 'rolled_back');
    await app.close();
  });
});
