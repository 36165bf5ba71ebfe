import type { NatsTransport } from '../../transports/nats/index.ts';
import { natsError } from '../../transports/nats/errors.ts';

/** One JetStream stream as `switchyard topics` shows it: its topics (subjects) and groups (durable consumers). */
export interface NatsStreamListing {
  stream: string;
  subjects: string[];
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  /** Messages per topic held by the stream. */
  topics: Array<{ topic: string; messages: number }>;
  /** Durable consumers: one per group and topic, named `<group>__<topic>_<hash>`. */
  consumers: Array<{ consumer: string; topic: string; pending: number; ackPending: number }>;
}

/** JetStream's API error code for "stream not found". */
const STREAM_NOT_FOUND = 10059;

/** Whether a JetStream API call failed because the stream does not exist (any more). */
function isStreamGone(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown } | null;
  return e?.name === 'StreamNotFoundError' || e?.code === STREAM_NOT_FOUND;
}

/**
 * @internal Called between the steps of reading one stream, so a test can delete it there: after
 * the stream was listed (`listed`, before its info is read) and after its info was read (`read`,
 * before its consumers are listed).
 */
export type NatsListingStep = (stream: string, step: 'listed' | 'read') => Promise<void>;

/**
 * The JetStream streams holding topics that `matches` accepts, with messages per topic and each
 * consumer's pending counts. A stream with no matching topic and no consumer of one is left out,
 * and so is a stream deleted while the listing runs (the server lists the streams first, then each
 * is read by name: one deleted in between no longer exists, which is no error for a listing).
 */
export async function listNatsStreams(bus: NatsTransport, matches: (topic: string) => boolean, step?: NatsListingStep): Promise<NatsStreamListing[]> {
  await bus.connect();
  const jsm = bus.native.manager!;
  const out: NatsStreamListing[] = [];
  try {
    for await (const listed of jsm.streams.list()) {
      const name = listed.config.name;
      try {
        await step?.(name, 'listed');
        const info = await jsm.streams.info(name, { subjects_filter: '>' });
        await step?.(name, 'read');
        const topics = Object.entries(info.state.subjects ?? {})
          .filter(([topic]) => matches(topic))
          .map(([topic, messages]) => ({ topic, messages }))
          .sort((a, b) => a.topic.localeCompare(b.topic));
        const consumers: NatsStreamListing['consumers'] = [];
        for await (const c of jsm.consumers.list(name)) {
          const topic = c.config.filter_subject ?? '>';
          if (!matches(topic)) continue;
          consumers.push({ consumer: c.name, topic, pending: c.num_pending, ackPending: c.num_ack_pending });
        }
        if (topics.length === 0 && consumers.length === 0) continue;
        consumers.sort((a, b) => a.consumer.localeCompare(b.consumer));
        const s = info.state;
        out.push({ stream: name, subjects: info.config.subjects ?? [], messages: s.messages, bytes: s.bytes, firstSeq: s.first_seq, lastSeq: s.last_seq, topics, consumers });
      } catch (error) {
        if (isStreamGone(error)) continue;
        throw error;
      }
    }
  } catch (error) {
    throw natsError('cannot list JetStream streams', error);
  }
  return out.sort((a, b) => a.stream.localeCompare(b.stream));
}
