import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  type MsgHdrs,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import type { Capabilities } from '../../core/capabilities.ts';
import { ClosedError, ConfigError, TimeoutError, TransportError } from '../../core/errors.ts';
import { normalizeOutgoing, type NormalizedMessage, type OutgoingMessage } from '../../core/message.ts';
import { redact, redactUrl } from '../../core/redact.ts';
import { resolveSubscribeOptions } from '../../core/subscribe-options.ts';
import type { Handler, SubscribeOptions, Subscription, Transport } from '../../core/transport.ts';
import { groupProblems, patternProblems } from '../../core/topic.ts';
import { checkMessageLimits } from '../../internal/message-limits.ts';
import { nodeTlsOptions, skipsVerify, tlsError, warnSkipVerify } from '../../internal/transport-tls.ts';
import { CoreSubscription } from './core-subscription.ts';
import { isNatsClosed, isNatsNoResponders, isNatsTimeout, natsError, NatsTransportError } from './errors.ts';
import { JetStreamSubscription } from './jetstream-subscription.ts';
import { encodeHeaders, fromStored, toWireHeaders } from './mapping.ts';
import { reportGaveUp, type GaveUp } from './max-deliveries.ts';
import { exceedsMaxPayload } from './max-payload.ts';
import type { NatsNative } from './native.ts';
import { resolveNatsOptions, type NatsOptions, type ResolvedNatsOptions } from './options.ts';
import { sendRequest, startResponder, type RequestOptions, type Responder, type RespondOptions, type Responding } from './request-reply.ts';
import { StatusEmitter, fromClientStatus, type NatsStatus, type NatsStatusListener } from './status.ts';
import { captures, capturingStream, consumerName, ensureConsumer, ensureStream, isNotFound, planStream, restoreConsumer, type StreamRef } from './streams.ts';

/** What each mode can promise (see Capabilities). */
export function natsCapabilities(mode: 'jetstream' | 'core', maxPayloadBytes = 1_048_576): Capabilities {
  const durable = mode === 'jetstream';
  return Object.freeze({
    durable,
    redelivery: durable,
    persistentGroups: durable,
    replay: durable,
    partitions: false,
    delayedRedelivery: durable,
    wildcards: true,
    requestReply: true,
    maxPayloadBytes,
  });
}

interface Prepared {
  payload: Uint8Array;
  headers: MsgHdrs;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * The NATS transport. JetStream mode (default): a stream per first topic token, a durable pull
 * consumer per group, explicit acks, `nak` with delay, in-progress acks for long handlers,
 * `Nats-Msg-Id` de-duplication and retried publishes. Core mode: subjects and queue groups,
 * at-most-once. Both offer request-reply and status events. See docs/nats.md.
 */
export class NatsTransport implements Transport {
  readonly name = 'nats';
  readonly capabilities: Capabilities;
  readonly options: ResolvedNatsOptions;
  readonly #status = new StatusEmitter();
  readonly #subscriptions = new Set<JetStreamSubscription | CoreSubscription>();
  readonly #responders = new Set<Responding>();
  readonly #publishing = new Set<Promise<unknown>>();
  readonly #streams = new Map<string, Promise<StreamRef>>();
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;
  #connecting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;
  /** The client's socket is up: cleared by its `disconnect` status, set again by `reconnect`. */
  #live = false;

  constructor(options: NatsOptions = {}) {
    this.options = resolveNatsOptions(options);
    this.capabilities = natsCapabilities(this.options.mode, this.options.maxPayloadBytes);
    if (skipsVerify(this.options.tls)) warnSkipVerify('nats', this.#where());
  }

  /** The servers, with any credentials in their URLs masked: safe for messages and logs. */
  #where(): string {
    return this.options.servers.map((s) => (s.includes('://') ? redactUrl(s, { userIsSecret: true }) : s)).join(', ');
  }

  /** Every credential this transport knows, so error messages can be scrubbed of them. */
  #secrets(): string[] {
    const a = this.options.auth as Record<string, string | undefined> | undefined;
    const fromUrls = this.options.servers.flatMap((s) => {
      try {
        const u = new URL(s);
        // nats://user:pass@… hides the password; nats://token@… carries the token as the user.
        return [u.password || u.username].filter(Boolean).map((x) => decodeURIComponent(x));
      } catch {
        return [];
      }
    });
    return [a?.['pass'], a?.['token'], a?.['nkeySeed'], a?.['creds'], ...fromUrls].filter((x): x is string => typeof x === 'string');
  }

  /** The underlying clients; throws TransportError before `connect()`. */
  get native(): NatsNative {
    if (!this.#nc) throw new TransportError('the NATS transport is not connected yet: await connect() first', { retryable: false });
    return { connection: this.#nc, jetstream: this.#js, manager: this.#jsm };
  }

  /**
   * True while the client is connected to a server; false before `connect()` finished, from a
   * `disconnected` status until `reconnected`, and once the connection is closed.
   */
  get connected(): boolean {
    return this.#live && !this.#closed && this.#nc !== undefined && !this.#nc.isClosed();
  }

  /** Listens to connection and consumer status events; returns the function that stops listening. */
  on(event: 'status', listener: NatsStatusListener): () => void {
    if (event !== 'status') throw new ConfigError(`unknown event ${JSON.stringify(event)}: the NATS transport emits "status"`);
    return this.#status.on(listener);
  }

  /** Status events as an async iterator, until `signal` aborts or the connection closes. */
  statuses(signal?: AbortSignal): AsyncGenerator<NatsStatus> {
    return this.#status.iterate(signal);
  }

  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('nats transport'));
    this.#connecting ??= this.#connect().catch((error: unknown) => {
      this.#connecting = undefined; // a later call may try again
      throw error;
    });
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const o = this.options;
    const r = o.reconnect;
    const opts: NodeConnectionOptions = {
      servers: o.servers,
      name: o.name,
      maxReconnectAttempts: r.maxReconnects,
      reconnectTimeWait: r.waitMs,
      reconnectJitter: r.jitterMs,
      reconnectJitterTLS: r.jitterMs,
      pingInterval: r.pingIntervalMs,
      maxPingOut: r.maxPingsOut,
      timeout: r.connectTimeoutMs,
    };
    // nats.js spreads these over its own TLS defaults (verification on), so only
    // dangerouslySkipVerify can switch verification off.
    if (o.tls) opts.tls = nodeTlsOptions(o.tls) as NodeConnectionOptions['tls'];
    const a = o.auth;
    if (a && 'user' in a) Object.assign(opts, { user: a.user, pass: a.pass });
    else if (a && 'token' in a) opts.token = a.token;
    else if (a && 'nkeySeed' in a) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(a.nkeySeed));
    else if (a && 'creds' in a) opts.authenticator = credsAuthenticator(new TextEncoder().encode(a.creds));
    let nc: NatsConnection;
    try {
      nc = await connect(opts);
    } catch (error) {
      throw this.#connectError(error);
    }
    if (o.mode === 'jetstream') {
      try {
        this.#jsm = await jetstreamManager(nc, { timeout: o.ackTimeoutMs });
        this.#js = jetstream(nc, { timeout: o.ackTimeoutMs });
      } catch (error) {
        await nc.close().catch(() => undefined);
        throw new TransportError(
          `JetStream is not available on ${o.servers.join(', ')} (${(error as Error)?.message}): start nats-server with -js, or use nats({ mode: 'core' })`,
          { cause: error, retryable: false },
        );
      }
    }
    this.#nc = nc;
    if (this.#closed) {
      await nc.close();
      throw new ClosedError('nats transport');
    }
    this.#live = true;
    this.#status.emit({ type: 'connected', server: nc.getServer() });
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.#live = false;
        else if (s.type === 'reconnect') this.#live = true;
        const status = fromClientStatus(s);
        if (status && status.type !== 'closed') this.#status.emit(status);
      }
    })().catch(() => undefined);
    void nc.closed().then((error) => {
      this.#live = false;
      this.#status.emit(error ? { type: 'closed', error } : { type: 'closed' });
      if (!this.#closed) {
        const reason = new NatsTransportError(`the NATS connection closed${error ? `: ${error.message}` : ''}`, 'connection-closed', { cause: error });
        for (const sub of this.#subscriptions) sub.fail(reason);
      }
    });
  }

  /** A connect failure as a distinct, actionable error: certificate, credentials, or the network. */
  #connectError(error: unknown): Error {
    const what = `cannot connect to NATS at ${this.#where()}`;
    const secrets = this.#secrets();
    const tls = tlsError(what, error, 'tls', secrets);
    if (tls) return tls;
    const name = (error as { name?: string } | null)?.name ?? '';
    const message = redact(error instanceof Error ? error.message : String(error), secrets);
    if (name === 'AuthorizationError' || /authorization violation|authentication/i.test(message)) {
      return new ConfigError(
        `${what}: authentication failed (${message}): the server refused these credentials; check auth ({ user, pass }, { token }, { nkeySeed } or { creds })`,
        { cause: error },
      );
    }
    const mapped = natsError(what, error);
    mapped.message = redact(mapped.message, secrets);
    return mapped;
  }

  async publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) throw new ClosedError('nats transport');
    return this.#publish(topic, messages);
  }

  /** `publish` without the closed check, for the transport's own dead letters while its subscriptions close. */
  async #publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void> {
    const list = normalizeOutgoing(topic, messages);
    if (list.length === 0) return;
    if (!this.#nc || this.#nc.isClosed()) await this.connect();
    const prepared = this.#prepare(topic, list);
    const work = this.options.mode === 'jetstream' ? this.#publishJetStream(topic, prepared) : this.#publishCore(topic, prepared);
    this.#publishing.add(work);
    try {
      await work;
    } finally {
      this.#publishing.delete(work);
    }
  }

  #prepare(topic: string, list: readonly NormalizedMessage[]): Prepared[] {
    const limit = this.#nc?.info?.max_payload ?? this.options.maxPayloadBytes;
    const set = this.options.maxPayloadBytesSet;
    checkMessageLimits(topic, list, {
      transport: 'nats',
      maxPayloadBytes: set === undefined ? limit : Math.min(set, limit),
      maxHeaderBytes: this.options.maxHeaderBytes,
      payloadHint: `(the server's max_payload, ${limit} bytes, caps it: raise max_payload in the server config)`,
    });
    const problems: string[] = [];
    const out = new Array<Prepared>(list.length);
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      const encoded = encodeHeaders(toWireHeaders(topic, m));
      const size = m.payload.length + encoded.size;
      if (size > limit) problems.push(exceedsMaxPayload(`publish to "${topic}"${list.length > 1 ? `, message ${i}` : ''}`, size, limit));
      out[i] = { payload: m.payload, headers: encoded.headers };
    }
    ConfigError.throwIfAny(problems);
    return out;
  }

  /** Makes sure the stream planned for `topic` exists (once per stream); resolves to it as it is on the server. */
  #stream(topic: string): Promise<StreamRef> {
    const plan = planStream(topic, this.options);
    let ensured = this.#streams.get(plan.name);
    if (!ensured) {
      ensured = ensureStream(this.#jsm!, plan);
      this.#streams.set(plan.name, ensured);
      ensured.catch(() => this.#streams.delete(plan.name));
    }
    return ensured;
  }

  /** The name of the stream holding `topic`; ConfigError when the stream there does not capture it (see capturingStream). */
  async #streamOf(topic: string): Promise<string> {
    return capturingStream(this.#jsm!, planStream(topic, this.options), await this.#stream(topic), topic);
  }

  async #publishJetStream(topic: string, prepared: Prepared[]): Promise<void> {
    const stream = await this.#streamOf(topic);
    const window = this.options.publishWindow;
    const pending = new Set<Promise<void>>();
    let failure: unknown;
    for (const p of prepared) {
      if (failure !== undefined) break;
      while (pending.size >= window) await Promise.race(pending);
      const one: Promise<void> = this.#publishOne(topic, stream, p)
        .catch((error: unknown) => {
          failure ??= error;
        })
        .finally(() => pending.delete(one));
      pending.add(one);
    }
    await Promise.all(pending);
    if (failure !== undefined) throw failure;
  }

  /** One JetStream publish, retried with the same Nats-Msg-Id through timeouts and outages until `publishTimeoutMs`. */
  async #publishOne(topic: string, stream: string, p: Prepared): Promise<void> {
    const deadline = Date.now() + this.options.publishTimeoutMs;
    let wait = 100;
    for (;;) {
      try {
        await this.#js!.publish(topic, p.payload, { headers: p.headers, timeout: this.options.ackTimeoutMs });
        return;
      } catch (error) {
        const nc = this.#nc!;
        if (nc.isClosed() || isNatsClosed(error)) {
          throw new NatsTransportError(`publish to "${topic}": the NATS connection is closed`, 'connection-closed', { cause: error, retryable: false });
        }
        const retry = isNatsTimeout(error) || isNatsNoResponders(error) || /disconnect|reconnect|connection/i.test(String((error as Error)?.message));
        if (!retry) throw natsError(`publish to "${topic}" (stream "${stream}")`, error);
        if (Date.now() + wait > deadline) {
          throw new NatsTransportError(
            `publish to "${topic}" was not confirmed by JetStream within ${this.options.publishTimeoutMs} ms (${(error as Error)?.message}); ` +
              'publishing it again with the same id is safe',
            'broker',
            { cause: error, retryable: true },
          );
        }
        await sleep(wait);
        wait = Math.min(wait * 2, 2_000);
        // A 503 may mean the stream was deleted: make sure it exists before trying again.
        if (isNatsNoResponders(error)) {
          this.#streams.delete(planStream(topic, this.options).name);
          await this.#stream(topic).catch(() => undefined);
        }
      }
    }
  }

  async #publishCore(topic: string, prepared: Prepared[]): Promise<void> {
    const nc = this.#nc!;
    try {
      for (const p of prepared) nc.publish(topic, p.payload, { headers: p.headers });
    } catch (error) {
      throw natsError(`publish to "${topic}"`, error);
    }
    // The server has the messages once a PING sent after them is answered.
    const ms = this.options.publishTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        nc.flush(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TimeoutError(`publish to "${topic}" (waiting for the server to confirm receipt)`, ms)), ms);
        }),
      ]);
    } catch (error) {
      if ((error as { code?: string }).code === 'TIMEOUT') throw error;
      throw natsError(`publish to "${topic}"`, error);
    } finally {
      clearTimeout(timer);
    }
  }

  async subscribe(topic: string, options: SubscribeOptions, handler: Handler): Promise<Subscription> {
    const resolved = resolveSubscribeOptions(this, topic, options, handler);
    if (this.#closed) throw new ClosedError('nats transport');
    const plan = this.options.mode === 'jetstream' ? planStream(topic, this.options) : undefined;
    await this.connect();
    const onClose = (sub: JetStreamSubscription | CoreSubscription): void => {
      this.#subscriptions.delete(sub);
    };
    if (!plan) {
      if (this.#closed) throw new ClosedError('nats transport');
      const sub = new CoreSubscription({ nc: this.#nc!, options: this.options, status: this.#status, onClose }, topic, resolved, handler);
      this.#subscriptions.add(sub);
      try {
        await sub.start();
      } catch (error) {
        this.#subscriptions.delete(sub);
        throw natsError(`subscribe to "${topic}"`, error);
      }
      return sub;
    }
    const stream = await this.#streamOf(topic);
    const name = consumerName(resolved.group, topic);
    const consumer = { stream, name, topic, from: resolved.from };
    const info = await ensureConsumer(this.#jsm!, consumer, this.options.consumers);
    if (this.#closed) throw new ClosedError('nats transport');
    let consumerCreated = info.created;
    const restore = async (resumeAt: number): Promise<number | undefined> => {
      const restored = await restoreConsumer(this.#jsm!, consumer, this.options.consumers, { resumeAt, consumerCreated }, () => {
        this.#streams.delete(planStream(topic, this.options).name); // it may have been deleted too: look again, create it if so
        return this.#stream(topic);
      });
      if (restored) consumerCreated = restored.info.created;
      return restored?.startSeq;
    };
    const gaveUp = (g: Pick<GaveUp, 'streamSequence' | 'deliveries' | 'message' | 'reason'>): Promise<boolean> =>
      this.#gaveUp({ ...g, topic, group: resolved.group, stream });
    const sub = new JetStreamSubscription(
      { nc: this.#nc!, options: this.options, status: this.#status, apiPrefix: '$JS.API', onClose, restore, gaveUp },
      { topic, stream, consumerName: name, ackFloor: info.ack_floor.stream_seq },
      resolved,
      handler,
    );
    this.#subscriptions.add(sub);
    try {
      await sub.start();
    } catch (error) {
      await sub.close();
      throw natsError(`subscribe to "${topic}"`, error);
    }
    return sub;
  }

  /** Reports a message that reached `maxDeliver`, reading it back from the stream when the caller does not have it (see max-deliveries.ts). */
  async #gaveUp(g: GaveUp): Promise<boolean> {
    let message = g.message;
    if (!message) {
      try {
        const stored = await this.#jsm!.streams.getMessage(g.stream, { seq: g.streamSequence });
        if (stored) message = fromStored(stored, g.stream, g.deliveries);
      } catch {
        // Gone (deleted, or dropped by the stream's limits): reported without it.
      }
    }
    // close() closes the subscriptions first, and they report what the server gives up on until
    // their last pull request ended: the connection is still open for the dead letter then.
    return reportGaveUp(
      {
        status: this.#status,
        options: this.options,
        publish: (topic, m) => this.#publish(topic, m),
        maxPayloadBytes: () => this.#nc?.info?.max_payload ?? this.options.maxPayloadBytes,
      },
      { ...g, message },
    );
  }

  /**
   * Sends a request and resolves to the reply (core NATS request-reply, in both modes). Rejects with
   * TimeoutError when no reply came within `timeoutMs`, with a TransportError whose `reason` is
   * `'no-responders'` (see `isNoRespondersError`) when nobody listens on the subject, and with
   * `reason: 'responder-failed'` when the responder threw.
   *
   * @example
   * ```ts
   * const price = await bus.request('prices.quote', { sku: 'A-1' }, { codec: json<Quote>(), replyCodec: json<Price>(), timeoutMs: 2_000 });
   * ```
   */
  async request<Req = Uint8Array, Res = Uint8Array>(subject: string, value: Req, options: RequestOptions<Req, Res> = {}): Promise<Res> {
    if (this.#closed) throw new ClosedError('nats transport');
    await this.connect();
    return sendRequest(this.#nc!, subject, value, options);
  }

  /**
   * Answers requests on `subject` until the returned handle is closed (or the transport is).
   * Responders in one `group` (default `switchyard-responders`) share the requests.
   *
   * @example
   * ```ts
   * await bus.respond('prices.quote', { codec: json<Quote>(), replyCodec: json<Price>() }, async (q) => ({ sku: q.sku, cents: 1299 }));
   * ```
   */
  async respond<Req = Uint8Array, Res = Uint8Array>(
    subject: string,
    options: RespondOptions<Req, Res>,
    handler: Responder<Req, Res>,
  ): Promise<Responding> {
    if (this.#closed) throw new ClosedError('nats transport');
    await this.connect();
    const responding = await startResponder(
      this.#nc!,
      subject,
      options,
      handler,
      (r) => this.#responders.delete(r),
      (error) => this.#status.emit({ type: 'error', error }),
    );
    this.#responders.add(responding);
    return responding;
  }

  /**
   * @internal The JetStream manager and where a group's consumer lives (for lag), or undefined when
   * no stream holds the topic. Looks the stream up without creating one: reading lag changes nothing.
   */
  async locate(topic: string, group: string): Promise<{ manager: JetStreamManager; stream: string; consumer: string } | undefined> {
    if (this.options.mode !== 'jetstream') throw new ConfigError('consumer lag needs JetStream mode: core NATS keeps no backlog');
    await this.connect();
    const known = this.#streams.get(planStream(topic, this.options).name);
    let stream: string;
    try {
      const ref = await known;
      stream = ref && captures(ref, topic) ? ref.name : await this.#jsm!.streams.find(topic);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    return { manager: this.#jsm!, stream, consumer: consumerName(group, topic) };
  }

  /**
   * Deletes the durable consumer of `group` on `topic` (JetStream), with its position and pending
   * acknowledgements, as `nats consumer rm` does; nothing to delete is not an error. Close the
   * group's subscriptions first: a consumer this transport still reads is refused with a ConfigError.
   *
   * @example
   * ```ts
   * await sub.close();
   * await bus.deleteGroup('orders.>', 'one-off-audit');
   * ```
   */
  async deleteGroup(topic: string, group: string): Promise<void> {
    if (this.#closed) throw new ClosedError('nats transport');
    ConfigError.throwIfAny([...patternProblems(topic), ...groupProblems(group)]);
    if (this.options.mode !== 'jetstream') throw new ConfigError('deleteGroup needs JetStream mode: core NATS keeps no groups');
    const name = consumerName(group, topic);
    if ([...this.#subscriptions].some((s) => s instanceof JetStreamSubscription && s.consumerName === name)) {
      throw new ConfigError(`delete group "${group}" of "${topic}": this transport still reads its consumer "${name}"; close that subscription first`);
    }
    const where = await this.locate(topic, group);
    if (!where) return;
    try {
      await where.manager.consumers.delete(where.stream, where.consumer);
    } catch (error) {
      if (!isNotFound(error)) throw natsError(`delete consumer "${where.consumer}" of group "${group}" on stream "${where.stream}"`, error);
    }
  }

  /** @internal Topics and groups of this transport's open subscriptions. */
  subscriptions(): Array<{ topic: string; group: string }> {
    return [...this.#subscriptions].map((s) => ({ topic: s.topic, group: s.group }));
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
    await Promise.all([...this.#responders].map((r) => r.close()));
    await Promise.allSettled(this.#publishing);
    await this.#connecting?.catch(() => undefined);
    const nc = this.#nc;
    if (!nc || nc.isClosed()) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([nc.flush(), new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]).catch(() => undefined);
    clearTimeout(timer);
    await nc.close().catch(() => undefined);
  }
}

/**
 * Creates the NATS transport (`switchyard/nats`).
 *
 * @example
 * ```ts
 * import { nats } from 'switchyard/nats';
 * const bus = nats({ servers: 'nats://127.0.0.1:4222' });              // JetStream, durable
 * const fast = nats({ servers: 'nats://127.0.0.1:4222', mode: 'core' }); // at-most-once
 * await bus.subscribe('orders.placed', { group: 'billing' }, async (msg) => { ... });
 * await bus.publish('orders.placed', { key: 'order-1', payload: bytes });
 * ```
 */
export function nats(options: NatsOptions = {}): NatsTransport {
  return new NatsTransport(options);
}
