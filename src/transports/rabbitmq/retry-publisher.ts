import type { Channel, Connection, Envelope } from 'rabbitmq-client';
import { ClosedError, toError, TransportError } from '../../core/errors.ts';
import { deferred, type Deferred } from '../../internal/deferred.ts';
import { waitAtMost } from '../../internal/with-timeout.ts';
import { amqpCode } from './errors.ts';
import { nextTick, Returns } from './returns.ts';
import type { QueueDeclaration } from './retry-queues.ts';

interface Send {
  declaration: QueueDeclaration;
  envelope: Envelope;
  body: Buffer;
  id: string;
  done: Deferred<void>;
}

/**
 * Puts failed messages into retry queues that expire (`x-expires`, see `retry-queues.ts`) so that
 * none can expire with a message in it. On one confirming channel, for each batch of messages:
 *
 * 1. every target queue is declared passively, which renews its lease whatever arguments it
 *    exists with (one an older version declared without `x-expires` and still holds messages,
 *    or one another member just replaced); a queue that is gone (it expired while nobody failed)
 *    is declared again as asked;
 * 2. the messages are published, mandatory;
 * 3. every target queue is declared passively again, on the same channel, so the broker renews
 *    the lease after the messages arrived — also when it held the publish back for long (a
 *    resource alarm stops reading the connection between a message and what follows it).
 *
 * A message counts as sent only once the broker confirmed it, it was not returned (its queue was
 * missing) and step 3 succeeded; otherwise `send` rejects and the caller keeps the original.
 * Batches run one after the other, so nothing of the next batch comes between a publish and
 * its renewal.
 */
export class RetryPublisher {
  readonly #connection: () => Connection;
  readonly #onError: (error: Error) => void;
  readonly #returns = new Returns();
  readonly #waiting: Send[] = [];
  #channel: Promise<Channel> | undefined;
  #running = false;
  #closed = false;

  /** `onError`: errors of the channel that no send was waiting for. */
  constructor(connection: () => Connection, onError: (error: Error) => void) {
    this.#connection = connection;
    this.#onError = onError;
  }

  /** Resolves once `envelope` is in `declaration`'s queue and that queue's lease was renewed after it. */
  send(declaration: QueueDeclaration, envelope: Envelope, body: Buffer, id: string): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('rabbitmq retry publisher'));
    const done = deferred();
    this.#waiting.push({ declaration, envelope, body, id, done });
    if (!this.#running) void this.#drain();
    return done.promise;
  }

  async #drain(): Promise<void> {
    this.#running = true;
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0);
      await this.#sendBatch(batch).catch((error: unknown) => {
        for (const s of batch) s.done.reject(error);
      });
    }
    this.#running = false;
  }

  async #sendBatch(batch: Send[]): Promise<void> {
    const declarations = [...new Map(batch.map((s) => [s.declaration.queue, s.declaration])).values()];
    const ch = await this.#renewOrDeclare(declarations);
    const confirms = Promise.allSettled(batch.map((s) => ch.basicPublish(s.envelope, s.body)));
    // Asked for before any confirm is awaited: the client writes them behind the publishes.
    const renewals = Promise.allSettled(declarations.map((d) => ch.queueDeclare({ queue: d.queue, passive: true })));
    const [confirmed, renewed] = await Promise.all([confirms, renewals]);
    await nextTick(); // returns are emitted on a later tick than the confirm that follows them
    const failedRenewal = renewed.find((r) => r.status === 'rejected');
    batch.forEach((s, i) => {
      const result = confirmed[i]!;
      if (this.#returns.take(s.id)) s.done.reject(new TransportError(`rabbitmq: queue "${s.declaration.queue}" does not exist; message ${s.id} was not redelivered through it`));
      else if (result.status === 'rejected') s.done.reject(result.reason);
      else if (failedRenewal) s.done.reject(failedRenewal.reason);
      else s.done.resolve();
    });
  }

  /**
   * Step 1: renews the lease of each queue that exists, as it exists (a declaration with other
   * arguments would be refused), and declares those that do not. Returns the channel to publish on.
   */
  async #renewOrDeclare(declarations: readonly QueueDeclaration[]): Promise<Channel> {
    let ch = await this.#acquire();
    const missing: QueueDeclaration[] = [];
    for (const d of declarations) {
      try {
        await ch.queueDeclare({ queue: d.queue, passive: true });
      } catch (error) {
        if (amqpCode(error) !== 'NOT_FOUND') throw error;
        missing.push(d);
        ch = await this.#acquire(); // the broker closed the channel over it
      }
    }
    for (const d of missing) await ch.queueDeclare(d);
    return ch;
  }

  #acquire(): Promise<Channel> {
    const current = this.#channel;
    if (current) {
      return current.then(
        (ch) => (ch.active ? ch : this.#open()),
        () => this.#open(),
      );
    }
    return this.#open();
  }

  #open(): Promise<Channel> {
    const opening = (async () => {
      const ch = await this.#connection().acquire({ emitErrorsFromChannel: true });
      ch.on('error', (error: unknown) => this.#onError(toError(error)));
      ch.on('basic.return', (msg) => this.#returns.add(msg));
      try {
        await ch.confirmSelect();
      } catch (error) {
        void ch.close().catch(() => undefined);
        throw error;
      }
      return ch;
    })();
    this.#channel = opening;
    return opening;
  }

  /** Closes the channel, waiting at most `timeoutMs` for the broker. Later sends reject. */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    const ch = await this.#channel?.catch(() => undefined);
    if (ch?.active) await waitAtMost(ch.close(), timeoutMs);
  }
}
