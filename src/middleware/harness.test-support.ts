// Shared set-up for the middleware tests: a real Router on the memory transport, with the
// dead-letter topic watched. Not exported from the package.
import { json } from '../codecs/json.ts';
import type { Codec } from '../core/codec.ts';
import type { Message } from '../core/message.ts';
import { Router } from '../router/router.ts';
import type { Logger, Middleware, RouteHandler, RouteOptions } from '../router/types.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory, type MemoryOptions } from '../transports/memory/index.ts';

export const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
let seq = 0;

export interface Harness<T> {
  bus: ReturnType<typeof memory>;
  topic: string;
  router: Router;
  /** Messages that reached the dead-letter topic `<topic>.dlq`. */
  dlq: Inbox;
  /** Messages the handler finished (pushed by `done(msg)` helpers in tests). */
  done: Inbox;
  codec: Codec<T>;
  publish(values: T[] | T, init?: { key?: string; id?: string; headers?: Record<string, string> }): Promise<void>;
  stop(): Promise<void>;
}

export async function harness<T = { n: number }>(
  name: string,
  use: Middleware[],
  handler: (msg: Parameters<RouteHandler<T>>[0], ctx: Parameters<RouteHandler<T>>[1], h: Harness<T>) => Promise<void> | void,
  options: { route?: Partial<RouteOptions<T>>; memory?: MemoryOptions; codec?: Codec<T> } = {},
): Promise<Harness<T>> {
  const bus = memory(options.memory);
  const topic = `mw-test.${process.pid}.${++seq}.${name}`;
  const codec = options.codec ?? json<T>();
  const dlq = new Inbox();
  const done = new Inbox();
  await bus.subscribe(`${topic}.dlq`, { group: 'dlq-watch', from: 'earliest' }, async (m: Message) => dlq.push(m));
  const router = new Router({ logger: quiet, closeTransports: false }).use(...use);
  const h: Harness<T> = {
    bus,
    topic,
    router,
    dlq,
    done,
    codec,
    async publish(values, init = {}) {
      const list = Array.isArray(values) ? values : [values];
      await bus.publish(topic, list.map((v) => codec.encode(v, init)));
    },
    async stop() {
      await router.stop();
      await bus.close();
    },
  };
  router.handle(name, { from: bus, topic, group: 'g', codec, ...options.route }, (msg, ctx) => handler(msg, ctx, h));
  await router.start();
  return h;
}

/** Pushes a routed message into an inbox (bytes as payload). */
export function record(inbox: Inbox, msg: { bytes: Uint8Array } & Omit<Message, 'payload'>): void {
  inbox.push({ ...msg, payload: msg.bytes });
}
