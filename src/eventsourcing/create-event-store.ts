import type { Codec } from '../core/codec.ts';
import { ClosedError, ConcurrencyError, ConfigError, DecodeError, toError } from '../core/errors.ts';
import { newMessageId } from '../core/id.ts';
import { json } from '../codecs/json.ts';
import {
  versionMatches,
  type AllPage,
  type AppendOptions,
  type AppendResult,
  type DomainEvent,
  type EventFilter,
  type EventStorage,
  type EventStore,
  type EventSubscribeOptions,
  type EventSubscription,
  type EventToStore,
  type ExpectedVersion,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type StoredEvent,
} from './event-store.ts';
import { AppendSignal, startSubscription } from './event-subscription.ts';
import { publishEvents, type PublishOptions } from './publish.ts';
import { noUpcasting, type Upcasting } from './upcasting.ts';
import { MAX_KEY_BYTES, unstorableText } from '../internal/storable-text.ts';

/** Options every event store takes, whatever its backend. */
export interface EventStoreOptions {
  /** Turns event data into bytes and back. Default `json()`. */
  codec?: Codec<unknown>;
  /** Schema versions and upcasters applied on read (`defineUpcasters`). Default: none. */
  upcasters?: Upcasting;
  /** Publish appended events to a transport after they are stored (key = stream id). */
  publish?: PublishOptions;
}

/**
 * Builds an `EventStore` on a backend's `EventStorage`: validation, codecs, upcasting,
 * subscriptions and publishing are the same for every backend. Backends export their own
 * factory (`memoryEventStore`, `postgresEventStore`); call this to plug in another one.
 *
 * @example
 * ```ts
 * const store = createEventStore(new MyStorage(), { codec: json() });
 * ```
 */
export function createEventStore<E extends DomainEvent = DomainEvent>(storage: EventStorage, options: EventStoreOptions = {}): EventStore<E> {
  const codec = options.codec ?? json();
  const upcasting = options.upcasters ?? noUpcasting;
  const subscriptions = new Set<EventSubscription>();
  let closed = false;

  const decode = (stored: StoredEvent): RecordedEvent<E> => {
    let raw: unknown;
    try {
      raw = codec.fromBytes(stored.data, { topic: stored.streamId, messageId: stored.id });
    } catch (error) {
      throw error instanceof DecodeError ? undecodableEvent(stored, error) : error;
    }
    let upcast: { type: string; data: unknown };
    try {
      upcast = upcasting.upcast(stored.type, stored.schemaVersion, raw);
    } catch (error) {
      throw unupcastableEvent(stored, error);
    }
    const { type, data } = upcast;
    return {
      type,
      data,
      id: stored.id,
      streamId: stored.streamId,
      version: stored.version,
      position: stored.position,
      timestamp: stored.timestamp,
      metadata: stored.metadata,
      schemaVersion: stored.schemaVersion,
    } as RecordedEvent<E>;
  };

  /**
   * One decoded page of the global order: what `readAll`, `readAllPage` and subscriptions read.
   * A type filter names the types events are read as, after upcasting; since an upcaster may
   * rename, the backend is asked for the renaming types too and those are checked once upcast.
   */
  const readPage = async (from: number, limit: number, filter: EventFilter | undefined): Promise<AllPage<E>> => {
    const wanted = filter?.types;
    const renaming = upcasting.renamingTypes;
    const afterUpcast = wanted !== undefined && (renaming === undefined || renaming.length > 0);
    let pushed = filter;
    if (afterUpcast && filter) {
      const { types: _types, ...rest } = filter;
      pushed = renaming === undefined ? rest : { ...rest, types: [...new Set([...wanted, ...renaming])] };
    }
    const page = await storage.readAll(from, limit, pushed);
    // Events dropped after upcasting make a page short that did not reach the head.
    const more = page.more === true || (afterUpcast && page.events.length === limit);
    const events: RecordedEvent<E>[] = [];
    for (const [i, stored] of page.events.entries()) {
      let event: RecordedEvent<E>;
      try {
        event = decode(stored);
      } catch (error) {
        // A checkpointed reader gets the events before the bad one and continues at it, so it
        // stops exactly there (with its checkpoint just before) rather than a page earlier.
        if (i === 0) throw error;
        return { events, next: stored.position, error: toError(error), more: false };
      }
      if (!afterUpcast || wanted.includes(event.type)) events.push(event);
    }
    return { events, next: page.next, more };
  };

  /** Checks the options of a global read and reads its page. */
  const readChecked = (readOptions: ReadAllOptions): Promise<AllPage<E>> => {
    checkOpen('readAll');
    const from = readOptions.from ?? 1;
    const limit = readOptions.limit ?? 1_000;
    const problems: string[] = [];
    if (!Number.isInteger(from) || from < 0) problems.push(`readAll: from must be a global position ≥ 0, got ${from}`);
    if (!Number.isInteger(limit) || limit < 1) problems.push(`readAll: limit must be an integer ≥ 1, got ${limit}`);
    ConfigError.throwIfAny(problems);
    return readPage(Math.max(1, from), limit, readOptions.filter);
  };

  const checkOpen = (what: string): void => {
    if (closed) throw new ClosedError(`event store (${storage.name}) — ${what}`);
  };

  const store: EventStore<E> = {
    name: storage.name,

    async appendToStream(streamId: string, input: NewEvent<E> | readonly NewEvent<E>[], appendOptions: AppendOptions = {}): Promise<AppendResult> {
      checkOpen('appendToStream');
      const expected = appendOptions.expectedVersion ?? 'any';
      const list = (Array.isArray(input) ? input : [input]) as readonly NewEvent<E>[];
      const toStore = validateAppend(streamId, list, expected, (event, at) => {
        const now = Date.now();
        return {
          id: event.id ?? newMessageId(now),
          streamId,
          timestamp: now,
          type: event.type,
          schemaVersion: upcasting.currentVersion(event.type),
          contentType: codec.contentType,
          data: encode(codec, event.data, at),
          metadata: { ...event.metadata },
        };
      });
      if (toStore.length === 0) {
        const actual = await storage.streamVersion(streamId);
        if (!versionMatches(expected, actual)) throw new ConcurrencyError(`stream "${streamId}"`, expected, actual);
        return { nextExpectedVersion: actual, position: await storage.headPosition(), events: [] };
      }
      const stored = await storage.append(streamId, toStore, expected);
      if (options.publish) {
        try {
          await publishEvents(options.publish, stored);
        } catch (error) {
          if (!options.publish.onError) throw error;
          options.publish.onError(error, stored);
        }
      }
      const last = stored[stored.length - 1]!;
      return { nextExpectedVersion: last.version, position: last.position, events: stored.map(decode) };
    },

    async readStream(streamId: string, readOptions: ReadStreamOptions = {}): Promise<RecordedEvent<E>[]> {
      checkOpen('readStream');
      checkStreamId(streamId);
      const problems: string[] = [];
      const direction = readOptions.direction ?? 'forwards';
      if (direction !== 'forwards' && direction !== 'backwards') problems.push(`readStream: direction must be "forwards" or "backwards", got ${JSON.stringify(direction)}`);
      if (readOptions.from !== undefined && !(Number.isInteger(readOptions.from) && readOptions.from >= 0)) problems.push(`readStream: from must be a version ≥ 0, got ${readOptions.from}`);
      if (readOptions.limit !== undefined && !(Number.isInteger(readOptions.limit) && readOptions.limit >= 0)) problems.push(`readStream: limit must be an integer ≥ 0, got ${readOptions.limit}`);
      ConfigError.throwIfAny(problems);
      const stored = await storage.readStream(streamId, { ...readOptions, direction });
      return stored.map(decode);
    },

    async streamVersion(streamId: string): Promise<number> {
      checkOpen('streamVersion');
      checkStreamId(streamId);
      return storage.streamVersion(streamId);
    },

    async readAll(readOptions: ReadAllOptions = {}): Promise<RecordedEvent<E>[]> {
      const page = await readChecked(readOptions);
      if (page.error) throw page.error;
      return page.events;
    },

    readAllPage(readOptions: ReadAllOptions = {}): Promise<AllPage<E>> {
      return readChecked(readOptions);
    },

    headPosition(): Promise<number> {
      checkOpen('headPosition');
      return storage.headPosition();
    },

    subscribe(subscribeOptions: EventSubscribeOptions, handler: (event: RecordedEvent<E>) => Promise<void> | void): EventSubscription {
      checkOpen('subscribe');
      if (typeof handler !== 'function') throw new ConfigError('subscribe: handler must be a function');
      const subscription = startSubscription(storage, subscribeOptions, readPage, handler);
      subscriptions.add(subscription);
      void subscription.closed.then(() => subscriptions.delete(subscription));
      return subscription;
    },

    watchAppends() {
      checkOpen('watchAppends');
      return new AppendSignal(storage);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all([...subscriptions].map((s) => s.close()));
      await storage.close();
    },
  };
  return store;
}

function checkStreamId(streamId: unknown): void {
  if (typeof streamId !== 'string' || streamId === '') {
    throw new ConfigError(`stream id must be a non-empty string, got ${JSON.stringify(streamId)}`);
  }
  const problem = unstorableText(streamId, MAX_KEY_BYTES);
  if (problem !== undefined) throw new ConfigError(`stream id ${problem}`);
}

function encode(codec: Codec<unknown>, data: unknown, at: string): Uint8Array {
  try {
    return codec.toBytes(data);
  } catch (error) {
    throw new ConfigError(`${at}: data cannot be encoded with ${codec.contentType}: ${(error as Error).message}`, { cause: error });
  }
}

function validateAppend<E extends DomainEvent>(
  streamId: string,
  list: readonly NewEvent<E>[],
  expected: ExpectedVersion,
  build: (event: NewEvent<E>, at: string) => EventToStore,
): EventToStore[] {
  const problems: string[] = [];
  if (typeof streamId !== 'string' || streamId === '') problems.push(`appendToStream: stream id must be a non-empty string, got ${JSON.stringify(streamId)}`);
  else {
    const problem = unstorableText(streamId, MAX_KEY_BYTES);
    if (problem !== undefined) problems.push(`appendToStream: stream id ${problem}`);
  }
  if (!(expected === 'any' || expected === 'noStream' || expected === 'exists' || (Number.isInteger(expected) && (expected as number) >= 0))) {
    problems.push(`appendToStream: expectedVersion must be 'any', 'noStream', 'exists' or a version ≥ 0, got ${JSON.stringify(expected)}`);
  }
  const out: EventToStore[] = [];
  list.forEach((event, i) => {
    const at = `appendToStream("${String(streamId).length > 60 ? `${String(streamId).slice(0, 60)}…` : streamId}"), event ${i}`;
    if (typeof event !== 'object' || event === null) {
      problems.push(`${at}: expected an event object { type, data }, got ${event === null ? 'null' : typeof event}`);
      return;
    }
    if (typeof event.type !== 'string' || event.type === '') problems.push(`${at}: type must be a non-empty string`);
    else if (unstorableText(event.type) !== undefined) problems.push(`${at}: type ${unstorableText(event.type)}`);
    if (event.id !== undefined && (typeof event.id !== 'string' || event.id === '')) problems.push(`${at}: id must be a non-empty string when given`);
    else if (event.id !== undefined && unstorableText(event.id) !== undefined) problems.push(`${at}: id ${unstorableText(event.id)}`);
    for (const [name, value] of Object.entries(event.metadata ?? {})) {
      if (typeof value !== 'string') problems.push(`${at}: metadata "${name}" must be a string, got ${typeof value}`);
      else {
        const problem = unstorableText(name) ?? unstorableText(value);
        if (problem !== undefined) problems.push(`${at}: metadata "${name}": ${problem}`);
      }
    }
    if (problems.length === 0) {
      try {
        out.push(build(event, at));
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
  });
  ConfigError.throwIfAny(problems);
  return out;
}

/**
 * A stored event whose upcasters threw, as a DecodeError saying which event — an upcaster's own
 * error (a TypeError on data it did not expect) names none — and what to fix.
 */
function unupcastableEvent(stored: StoredEvent, error: unknown): DecodeError {
  return new DecodeError(
    { topic: stored.streamId, messageId: stored.id },
    `the upcasters of ${stored.type} from schema version ${stored.schemaVersion} threw: ${toError(error).message} (stream version ${stored.version}, global position ${stored.position}); fix the upcaster to accept this event's data — stored events are never rewritten`,
    { cause: error },
  );
}

/**
 * A stored event its codec cannot read, as a DecodeError that also says where it is — version in
 * its stream, global position and type (the codec only knows stream and id) — so it can be found.
 */
function undecodableEvent(stored: StoredEvent, error: DecodeError): DecodeError {
  const message = error.message;
  // The codec's own DecodeError names the same stream and id: keep only its reason.
  const prefix = `cannot decode message ${stored.id} on "${stored.streamId}": `;
  const reason = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  return new DecodeError(
    { topic: stored.streamId, messageId: stored.id },
    `${reason} (stream version ${stored.version}, global position ${stored.position}, type ${stored.type})`,
    { cause: error },
  );
}
