import { createServer, connect, type Server, type Socket } from 'node:net';

/** Which way bytes travel: from the client to the broker, back, or both. */
export type Direction = 'upstream' | 'downstream' | 'both';

export interface FaultProxyOptions {
  /** The broker to forward to. */
  target: { host: string; port: number };
  /** Where the proxy listens. Default 127.0.0.1 on a free port. */
  listen?: { host?: string; port?: number };
}

/** A running proxy; point the transport at `host:port` instead of the broker. */
export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** Open client connections. */
  readonly connections: number;
  /**
   * Delays every chunk travelling in `direction` by `ms`. 0 removes the delay. Order is kept: a
   * chunk never overtakes one sent before it, also when the latency is lowered or healed.
   */
  latency(ms: number, direction?: Direction): void;
  /** Silently drops bytes in `direction`: no error, no close — a network partition as TCP sees one. */
  blackhole(direction?: Direction): void;
  /** Ends the blackhole and any latency; new bytes flow again (behind bytes still delayed). */
  heal(): void;
  /** Resets (RST) every open connection, as a crashed peer or a firewall would. */
  reset(): void;
  /** Resets every connection and stops listening. */
  close(): Promise<void>;
}

const ways = (direction: Direction): Array<'upstream' | 'downstream'> =>
  direction === 'both' ? ['upstream', 'downstream'] : [direction];

interface Pair {
  client: Socket;
  upstream: Socket;
}

/**
 * A TCP proxy for adapter tests that injects network faults on command: added latency, a reset
 * connection, and a blackhole, per direction. Only for loopback test brokers.
 *
 * @example
 * ```ts
 * const proxy = await faultProxy({ target: { host: '127.0.0.1', port: 5672 } });
 * const bus = rabbitmq({ url: `amqp://guest:guest@127.0.0.1:${proxy.port}` });
 * proxy.blackhole();            // partition: bytes vanish, nobody is told
 * proxy.heal();
 * ```
 */
export async function faultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const pairs = new Set<Pair>();
  const delay = { upstream: 0, downstream: 0 };
  const dropping = { upstream: false, downstream: false };

  const forward = (from: Socket, to: Socket, way: 'upstream' | 'downstream'): void => {
    // Chunks held back by latency, oldest first. Each is written no earlier than the one before
    // it: lowering the latency or heal() must not let newer bytes overtake older ones, as TCP
    // never reorders a stream (one timer per chunk would).
    const held: Array<{ chunk: Buffer; due: number }> = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      timer = undefined;
      const now = performance.now();
      while (held.length > 0 && held[0]!.due <= now) {
        const { chunk } = held.shift()!;
        if (!dropping[way] && !to.destroyed) to.write(chunk); // a blackhole swallows what was in flight
      }
      if (held.length > 0) timer = setTimeout(flush, held[0]!.due - now);
    };
    from.on('data', (chunk: Buffer) => {
      if (dropping[way]) return;
      if (delay[way] === 0 && held.length === 0) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      const due = Math.max(performance.now() + delay[way], held.at(-1)?.due ?? 0);
      held.push({ chunk, due });
      timer ??= setTimeout(flush, held[0]!.due - performance.now());
    });
    const stop = (): void => {
      clearTimeout(timer);
      held.length = 0;
    };
    from.once('close', stop);
    to.once('close', stop);
  };

  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect({ host: options.target.host, port: options.target.port });
    upstream.setNoDelay(true);
    const pair = { client, upstream };
    pairs.add(pair);
    forward(client, upstream, 'upstream');
    forward(upstream, client, 'downstream');
    const drop = (): void => {
      pairs.delete(pair);
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen?.port ?? 0, options.listen?.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy: no TCP address');

  const reset = (): void => {
    for (const { client, upstream } of pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    pairs.clear();
  };

  return {
    host: address.address,
    port: address.port,
    get connections() {
      return pairs.size;
    },
    latency(ms, direction = 'both') {
      for (const way of ways(direction)) delay[way] = ms;
    },
    blackhole(direction = 'both') {
      for (const way of ways(direction)) dropping[way] = true;
    },
    heal() {
      dropping.upstream = dropping.downstream = false;
      delay.upstream = delay.downstream = 0;
    },
    reset,
    async close() {
      reset();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
