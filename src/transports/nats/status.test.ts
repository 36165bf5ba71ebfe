import { describe, expect, it } from 'vitest';
import { fromClientStatus, StatusEmitter, type NatsStatus } from './status.ts';

describe('NATS status events', () => {
  it('maps client statuses to the transport union and leaves out pings and cluster updates', () => {
    expect(fromClientStatus({ type: 'disconnect', server: 's:1' })).toEqual({ type: 'disconnected', server: 's:1' });
    expect(fromClientStatus({ type: 'reconnect', server: 's:1' })).toEqual({ type: 'reconnected', server: 's:1' });
    expect(fromClientStatus({ type: 'staleConnection' })).toEqual({ type: 'stale-connection' });
    expect(fromClientStatus({ type: 'ldm', server: 's:1' })).toEqual({ type: 'lame-duck', server: 's:1' });
    expect(fromClientStatus({ type: 'ping', pendingPings: 1 })).toBeUndefined();
    expect(fromClientStatus({ type: 'update', added: [] })).toBeUndefined();
  });

  it('fans out to listeners, survives a throwing one, and feeds async iterators until closed', async () => {
    const e = new StatusEmitter();
    const seen: NatsStatus[] = [];
    e.on(() => {
      throw new Error('listener bug');
    });
    const off = e.on((s) => seen.push(s));
    const iterated = (async () => {
      const out: string[] = [];
      for await (const s of e.iterate()) out.push(s.type);
      return out;
    })();
    await Promise.resolve();
    e.emit({ type: 'disconnected', server: 'x' });
    e.emit({ type: 'reconnected', server: 'x' });
    off();
    e.emit({ type: 'closed' });
    expect(seen.map((s) => s.type)).toEqual(['disconnected', 'reconnected']);
    expect(await iterated).toEqual(['disconnected', 'reconnected', 'closed']);
  });
});
