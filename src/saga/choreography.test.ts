import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { memory } from '../transports/memory/index.ts';
import { CAUSATION_HEADER, CORRELATION_HEADER } from './choreography.ts';
import { threeServices } from './fixtures/three-services.ts';

describe('choreography over the memory transport', () => {
  it('a three-service chain completes, every event carrying the correlation id and its cause', async () => {
    const bus = memory();
    const app = await threeServices(bus, { prefix: `ch${randomBytes(3).toString('hex')}`, withinMs: 10_000, refuse: [] });
    const correlationId = await app.place({ orderId: 'o-1', amount: 42 });
    const shipped = await app.waitFor('shipment.created', 'o-1');
    const charged = await app.waitFor('payment.charged', 'o-1');
    const reserved = await app.waitFor('inventory.reserved', 'o-1');
    const placed = await app.waitFor('orders.placed', 'o-1');
    expect(placed.id).toBe(correlationId);
    for (const m of [placed, reserved, charged, shipped]) expect(m.headers[CORRELATION_HEADER]).toBe(correlationId);
    expect(reserved.headers[CAUSATION_HEADER]).toBe(placed.id);
    expect(charged.headers[CAUSATION_HEADER]).toBe(reserved.id);
    expect(shipped.headers[CAUSATION_HEADER]).toBe(charged.id);
    // The watcher saw the expected event in time.
    await app.watcherStatus(correlationId, 'completed');
    await app.close();
    await bus.close();
  });

  it('a missing event triggers the deadline: a timeout event and the compensation reaction, in the same conversation', async () => {
    const bus = memory();
    const app = await threeServices(bus, { prefix: `ch${randomBytes(3).toString('hex')}`, withinMs: 150, refuse: ['o-2'] });
    const ok = await app.place({ orderId: 'o-1', amount: 1 });
    const stuck = await app.place({ orderId: 'o-2', amount: 2 });
    await app.waitFor('shipment.created', 'o-1');
    const released = await app.waitFor('inventory.released', 'o-2', 10_000);
    expect(released.headers[CORRELATION_HEADER]).toBe(stuck);
    const missed = app.seen.messages.filter((m) => m.topic.endsWith('orders.shipping-missed'));
    expect(missed).toHaveLength(1);
    expect(JSON.parse(Buffer.from(missed[0]!.payload).toString())).toMatchObject({ correlationId: stuck, started: { orderId: 'o-2' } });
    expect(released.headers[CAUSATION_HEADER]).toBe(missed[0]!.id);
    expect((await app.store.get(app.recordId(stuck)))?.status).toBe('rolled_back');
    await app.watcherStatus(ok, 'completed');
    expect(app.seen.messages.some((m) => m.topic.endsWith('inventory.released') && m.headers[CORRELATION_HEADER] === ok)).toBe(false);
    await app.close();
    await bus.close();
  });
});
