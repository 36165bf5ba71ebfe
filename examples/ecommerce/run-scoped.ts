// Every mixed-profile run gets topic names of its own (`demo.<run>.orders.requests`…) on brokers
// that outlive it, so the summary verifies this run only: no leftovers of an earlier run are
// consumed, and nothing of this run lingers in the next. Services keep using the plain names.
import type { Handler, Message, OutgoingMessage, Subscription, SubscribeOptions, Transport } from 'switchyard';

/** `transport` with `prefix` put in front of every topic it publishes and subscribes to, and taken off delivered messages. */
export function runScoped(transport: Transport, prefix: string): Transport {
  const strip = (m: Message): Message => ({ ...m, topic: m.topic.startsWith(prefix) ? m.topic.slice(prefix.length) : m.topic });
  return {
    name: transport.name,
    capabilities: transport.capabilities,
    connect: () => transport.connect(),
    publish: (topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]) => transport.publish(prefix + topic, messages),
    subscribe: async (topic: string, options: SubscribeOptions, handler: Handler): Promise<Subscription> => {
      const inner = await transport.subscribe(prefix + topic, options, (m, ctx) => handler(strip(m), ctx));
      return {
        topic,
        group: inner.group,
        closed: inner.closed,
        pause: () => inner.pause(),
        resume: () => inner.resume(),
        get paused() {
          return inner.paused;
        },
        close: () => inner.close(),
        [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
      };
    },
    close: () => transport.close(),
  };
}
