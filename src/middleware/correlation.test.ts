import { describe, expect, it } from 'vitest';
import { Inbox } from '../testing/inbox.ts';
import { correlation } from './correlation.ts';
import { harness } from './harness.test-support.ts';

describe('correlation()', () => {
  it('carries x-correlation-id to published messages and sets x-causation-id to the incoming id', async () => {
    const out = new Inbox();
    const h = await harness('corr', [correlation()], async (msg, ctx, h) => {
      ctx.publish(`${h.topic}.out`, h.codec.encode(msg.payload));
      ctx.publish(`${h.topic}.out`, h.codec.encode(msg.payload, { headers: { 'x-correlation-id': 'mine' } }));
    });
    await h.bus.subscribe(`${h.topic}.out`, { group: 'w' }, async (m) => out.push(m));
    await h.publish({ n: 1 }, { id: 'in-1', headers: { 'x-correlation-id': 'conv-9' } });
    await h.publish({ n: 2 }, { id: 'in-2' });
    await out.untilCount(4, 5_000);
    const headers = out.messages.map((m) => [m.headers['x-correlation-id'], m.headers['x-causation-id']]);
    expect(headers).toEqual([
      ['conv-9', 'in-1'],
      ['mine', 'in-1'],
      ['in-2', 'in-2'],
      ['mine', 'in-2'],
    ]);
    await h.stop();
  });

  it('carries a correlation header another client spelled in another case, instead of starting a new conversation', async () => {
    const out = new Inbox();
    const h = await harness('corr-case', [correlation()], async (msg, ctx, h) => {
      ctx.publish(`${h.topic}.out`, h.codec.encode(msg.payload));
    });
    await h.bus.subscribe(`${h.topic}.out`, { group: 'w' }, async (m) => out.push(m));
    await h.publish({ n: 1 }, { id: 'in-1', headers: { 'X-Correlation-ID': 'conv-7' } });
    await out.untilCount(1, 5_000);
    expect(out.messages[0]!.headers).toMatchObject({ 'x-correlation-id': 'conv-7', 'x-causation-id': 'in-1' });
    await h.stop();
  });
});
