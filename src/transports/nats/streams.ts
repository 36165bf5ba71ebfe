import { createHash } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { ConfigError } from '../../core/errors.ts';
import { natsError } from './errors.ts';
import type { NatsStreamLimits, ResolvedNatsOptions } from './options.ts';

/**
 * Where topics live in JetStream.
 *
 * A stream per topic cannot serve a pattern subscription (`orders.*`) that must also see topics
 * created after it: a JetStream consumer reads one stream. So the transport keeps **one stream per
 * first token**: `orders.placed` and `orders.paid` both live in `SY_orders` (subjects `orders` and
 * `orders.>`), and a group subscribing to `orders.*` is one durable consumer on `SY_orders`
 * filtered by `orders.*` — it sees every matching topic, including ones published for the first
 * time later. Declared streams (`streams: [{ name, subjects }]`) take precedence for the topics their
 * subjects cover. A pattern whose first token is a wildcard (`*.created`, `>`) spans streams and is
 * refused unless one declared stream covers it.
 */

/** The stream that holds a topic or pattern, and the subjects it is created with. */
export interface StreamPlan {
  name: string;
  subjects: string[];
  limits: NatsStreamLimits;
  declared: boolean;
}

/** Whether every subject matching `inner` also matches the stream subject `outer` (both may be patterns). */
export function subjectCovers(outer: string, inner: string): boolean {
  const o = outer.split('.');
  const i = inner.split('.');
  for (let k = 0; k < o.length; k++) {
    const ot = o[k];
    if (ot === '>') return i.length > k; // `>` needs at least one more token, which inner has
    if (k >= i.length) return false;
    const it = i[k];
    if (it === '>') return false; // inner goes on arbitrarily; outer is narrower here
    if (ot === '*') continue;
    if (it === '*' || ot !== it) return false;
  }
  return o.length === i.length;
}

/** A topic token as a stream-name-safe string: letters, digits and "-" stay; anything else becomes `_xx` (hex). */
export function encodeToken(token: string): string {
  return token.replace(/[^A-Za-z0-9-]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Which stream holds `topic` (a name or a pattern). Throws ConfigError for patterns no stream can serve. */
export function planStream(topic: string, options: Pick<ResolvedNatsOptions, 'streams' | 'streamPrefix' | 'defaultStream'>): StreamPlan {
  const declared = options.streams.find((s) => s.subjects.some((subject) => subjectCovers(subject, topic)));
  if (declared) return { name: declared.name, subjects: declared.subjects, limits: declared, declared: true };
  const first = topic.split('.')[0]!;
  if (first === '*' || first === '>') {
    throw new ConfigError(
      `pattern "${topic}" starts with a wildcard, so it spans several JetStream streams (one per first token); ` +
        `declare a stream whose subjects cover it, e.g. nats({ streams: [{ name: "ALL_EVENTS", subjects: ["${topic}"] }] })`,
    );
  }
  return { name: streamName(options.streamPrefix, first), subjects: [first, `${first}.>`], limits: options.defaultStream, declared: false };
}

/** The longest stream name JetStream accepts (it names the stream's directory on disk). */
const MAX_STREAM_NAME = 255;

/**
 * The stream name of a first token: the prefix and the encoded token. A token escaped at length
 * (a topic's first token may be 249 characters of `_`, `:` or `@`, three characters each once
 * encoded) would pass the server's limit and be refused: such a name is cut and ends in a hash of
 * the token instead, so it stays unique. Every name that fits is as it always was.
 */
function streamName(prefix: string, first: string): string {
  const name = `${prefix}${encodeToken(first)}`;
  if (name.length <= MAX_STREAM_NAME) return name;
  const hash = createHash('sha256').update(first).digest('hex').slice(0, 16);
  return `${name.slice(0, MAX_STREAM_NAME - hash.length - 1)}_${hash}`;
}

/** The durable consumer name of `group` reading `topic`: readable, and unique per (group, topic). */
export function consumerName(group: string, topic: string): string {
  const readable = `${group}__${topic}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48);
  const hash = createHash('sha256').update(`${group}\0${topic}`).digest('hex').slice(0, 12);
  return `${readable}_${hash}`;
}

const retention = { limits: RetentionPolicy.Limits, interest: RetentionPolicy.Interest, workqueue: RetentionPolicy.Workqueue } as const;

/** The JetStream configuration of a planned stream. */
export function streamConfig(plan: StreamPlan): Partial<StreamConfig> & { name: string } {
  const l = plan.limits;
  const config: Partial<StreamConfig> & { name: string } = {
    name: plan.name,
    subjects: plan.subjects,
    retention: retention[l.retention ?? 'limits'],
    storage: l.storage === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: l.replicas ?? 1,
    discard: DiscardPolicy.Old,
    // JetStream refuses a duplicate window longer than max_age; left unset it takes the shorter of
    // its 2-minute default and max_age, as the server does, so a short maxAgeMs alone still works.
    duplicate_window: nanos(l.duplicateWindowMs ?? Math.min(120_000, l.maxAgeMs ?? Infinity)),
  };
  if (l.maxAgeMs !== undefined) config.max_age = nanos(l.maxAgeMs);
  if (l.maxBytes !== undefined) config.max_bytes = l.maxBytes;
  if (l.maxMessages !== undefined) config.max_msgs = l.maxMessages;
  return config;
}

/** A stream as it is on the server: its name and the subjects it captures. */
export interface StreamRef {
  name: string;
  subjects: string[];
}

/** The stream `name` as it is on the server (with its whole config), or undefined when there is none. */
async function lookUpStream(jsm: JetStreamManager, name: string): Promise<(StreamRef & { config: StreamConfig }) | undefined> {
  try {
    const info = await jsm.streams.info(name);
    return { name, subjects: info.config.subjects ?? [], config: info.config };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw natsError(`cannot look up stream "${name}"`, error);
  }
}

/**
 * Makes sure the stream exists (creating it when missing). Resolves to the stream and the subjects
 * it has on the server — which, for a stream that existed already, may not be the planned ones:
 * see `capturingStream`.
 */
export async function ensureStream(jsm: JetStreamManager, plan: StreamPlan): Promise<StreamRef> {
  const existing = await lookUpStream(jsm, plan.name);
  if (existing) return applyLimits(jsm, plan, existing);
  try {
    await jsm.streams.add(streamConfig(plan));
    return { name: plan.name, subjects: plan.subjects };
  } catch (error) {
    if (/already in use/i.test(String((error as Error)?.message))) {
      const raced = await lookUpStream(jsm, plan.name); // another client won the race
      if (raced) return applyLimits(jsm, plan, raced);
    }
    if (/overlap/i.test(String((error as Error)?.message)) && !plan.declared) {
      // An existing stream (created outside Switchyard) already captures some of these subjects: use it.
      const found = await jsm.streams.find(plan.subjects[1] ?? plan.subjects[0]!).catch(() => undefined);
      const other = found === undefined ? undefined : await lookUpStream(jsm, found).catch(() => undefined);
      if (other) return other;
    }
    const what = `cannot create stream "${plan.name}" for subjects ${plan.subjects.join(', ')}`;
    if (refusesConfig(error)) {
      // Not a broker failure to retry: the same config is refused every time until it changes.
      const where = plan.declared ? `streams option (stream "${plan.name}")` : 'defaultStream option';
      const replicas = /replicas/i.test(String((error as Error)?.message))
        ? `: this server is not part of a JetStream cluster, so set replicas to 1 (or leave it out) in the ${where}, or run a cluster`
        : `: change the ${where} to what the server accepts`;
      throw new ConfigError(`${what}: JetStream refused its configuration (${(error as Error)?.message})${replicas}`, { cause: error });
    }
    throw natsError(what, error);
  }
}

/**
 * JetStream API errors saying a stream config cannot be had as asked (10074: replicas above 1
 * outside a cluster; 10052: an invalid config), as opposed to failures worth retrying.
 */
function refusesConfig(error: unknown): boolean {
  const e = error as { name?: string; code?: unknown } | undefined;
  return e?.name === 'JetStreamApiError' && (e.code === 10_074 || e.code === 10_052);
}

/** The option a stream config field comes from, for messages. */
const OPTION: Record<string, string> = {
  max_age: 'maxAgeMs',
  max_bytes: 'maxBytes',
  max_msgs: 'maxMessages',
  num_replicas: 'replicas',
  duplicate_window: 'duplicateWindowMs',
  retention: 'retention',
  storage: 'storage',
};

/**
 * The limits of an existing stream that differ from the ones the options set, as the fields of a
 * `streams.update`, or undefined when none does. Only limits the options set are compared: one left
 * out keeps whatever the stream has (an operator's `nats stream edit` is not undone). A
 * `maxAgeMs` shorter than the stream's duplicate window brings the window down with it when
 * `duplicateWindowMs` is not set, as at creation (JetStream refuses a window longer than max_age).
 * `storage` is left out: JetStream cannot change it (see `applyLimits`).
 */
export function streamUpdate(existing: Partial<StreamConfig>, plan: StreamPlan): Partial<StreamConfig> | undefined {
  const l = plan.limits;
  const want = streamConfig(plan);
  const update: Partial<StreamConfig> = {};
  if (l.maxAgeMs !== undefined && existing.max_age !== want.max_age) update.max_age = want.max_age;
  if (l.maxBytes !== undefined && existing.max_bytes !== want.max_bytes) update.max_bytes = want.max_bytes;
  if (l.maxMessages !== undefined && existing.max_msgs !== want.max_msgs) update.max_msgs = want.max_msgs;
  if (l.replicas !== undefined && existing.num_replicas !== want.num_replicas) update.num_replicas = want.num_replicas;
  if (l.retention !== undefined && existing.retention !== want.retention) update.retention = want.retention;
  const maxAge = update.max_age ?? existing.max_age ?? 0;
  if (l.duplicateWindowMs !== undefined) {
    if (existing.duplicate_window !== want.duplicate_window) update.duplicate_window = want.duplicate_window;
  } else if (maxAge > 0 && (existing.duplicate_window ?? 0) > maxAge) {
    update.duplicate_window = want.duplicate_window;
  }
  return Object.keys(update).length > 0 ? update : undefined;
}

/**
 * Brings an existing stream's limits to the ones the options declare (`streamUpdate`); without
 * this, limits changed between runs were ignored for good, since a stream keeps the config it was
 * created with. A change JetStream cannot make is a ConfigError naming the field and what to do:
 * `storage` (file or memory) never changes, and the server may refuse others (`retention` on some
 * versions, `replicas` above 1 on a server outside a cluster).
 */
async function applyLimits(jsm: JetStreamManager, plan: StreamPlan, existing: StreamRef & { config: StreamConfig }): Promise<StreamRef> {
  const ref = { name: existing.name, subjects: existing.subjects };
  const where = plan.declared ? `streams option (stream "${plan.name}")` : 'defaultStream option';
  const storage = plan.limits.storage;
  if (storage !== undefined && existing.config.storage !== streamConfig(plan).storage) {
    throw new ConfigError(
      `stream "${plan.name}" exists with storage "${existing.config.storage}", but the ${where} asks for storage "${storage}": JetStream cannot change a ` +
        `stream's storage. Set storage: "${existing.config.storage}", or delete the stream (nats stream rm ${plan.name}, which deletes its messages) to have it created again`,
    );
  }
  const update = streamUpdate(existing.config, plan);
  if (!update) return ref;
  try {
    await jsm.streams.update(plan.name, update);
    return ref;
  } catch (error) {
    const fields = Object.keys(update).map((k) => `${OPTION[k] ?? k} (${JSON.stringify(existing.config[k as keyof StreamConfig])} → ${JSON.stringify(update[k as keyof StreamConfig])})`);
    const message = String((error as Error)?.message);
    if ((error as { api_error?: unknown })?.api_error !== undefined || /stream configuration|can not|cannot|not supported|invalid/i.test(message)) {
      throw new ConfigError(
        `stream "${plan.name}" exists with other limits than the ${where} sets, and JetStream refused to change ${fields.join(', ')}: ${message}. ` +
          `Set ${fields.length > 1 ? 'these' : 'it'} to what the stream has, or delete the stream (nats stream rm ${plan.name}, which deletes its messages) to have it created again`,
        { cause: error },
      );
    }
    throw natsError(`cannot update stream "${plan.name}" to the limits of the ${where} (${fields.join(', ')})`, error);
  }
}

/** Whether the stream captures every subject `topic` (a name or a pattern) stands for. */
export function captures(stream: StreamRef, topic: string): boolean {
  return stream.subjects.some((subject) => subjectCovers(subject, topic));
}

/**
 * The name of the stream that holds `topic`, given the stream `ensureStream` resolved for its plan.
 * That is the planned stream unless it existed already with other subjects, or could not be
 * created because a stream made outside Switchyard overlaps it (which then stood in for it): a
 * stream capturing only `orders.placed` cannot hold `orders.paid`. Then another stream capturing
 * the topic is looked for (only in the overlap case) and, failing that, it is a ConfigError saying
 * what to change — publishing there would be answered by no stream (503, retried until
 * `publishTimeoutMs`) and a consumer refused with "filter subject is not a valid subset".
 */
export async function capturingStream(jsm: JetStreamManager, plan: StreamPlan, resolved: StreamRef, topic: string): Promise<string> {
  if (captures(resolved, topic)) return resolved.name;
  const what = `no JetStream stream captures "${topic}"`;
  const fix = `add "${topic}" to a stream's subjects (nats stream edit), or declare a stream for it: nats({ streams: [{ name: "…", subjects: ["${topic}"] }] })`;
  if (resolved.name !== plan.name) {
    const found = await jsm.streams.find(topic).catch(() => undefined);
    const other = found === undefined ? undefined : await lookUpStream(jsm, found).catch(() => undefined);
    if (other && captures(other, topic)) return other.name;
    throw new ConfigError(
      `${what}: stream "${resolved.name}" (subjects ${resolved.subjects.join(', ')}), created outside Switchyard, overlaps the subjects ` +
        `${plan.subjects.join(', ')}, so the transport cannot create its stream "${plan.name}" for them; ${fix}`,
    );
  }
  throw new ConfigError(
    `${what}: stream "${plan.name}" exists on the server with subjects ${resolved.subjects.join(', ') || '(none)'}, not ${plan.subjects.join(', ')} as ` +
      `${plan.declared ? 'declared' : 'the transport creates it'}, and the transport does not change an existing stream's subjects; ` +
      `add them to the stream (nats stream edit "${plan.name}")${plan.declared ? ' or change the declaration' : ''}`,
  );
}

/** What a subscription asks of its durable consumer. */
export interface ConsumerPlan {
  stream: string;
  name: string;
  topic: string;
  from: 'earliest' | 'latest';
  /** Start at this stream sequence instead of `from` (a consumer created again: see restoreConsumer). */
  startSeq?: number;
}

/** The JetStream configuration of a group's durable consumer. */
export function consumerConfig(plan: ConsumerPlan, c: ResolvedNatsOptions['consumers']): Partial<ConsumerConfig> {
  const config: Partial<ConsumerConfig> = {
    durable_name: plan.name,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(c.ackWaitMs),
    max_deliver: c.maxDeliver,
    filter_subject: plan.topic,
    deliver_policy: plan.from === 'earliest' ? DeliverPolicy.All : DeliverPolicy.New,
  };
  if (plan.startSeq !== undefined) {
    config.deliver_policy = DeliverPolicy.StartSequence;
    config.opt_start_seq = plan.startSeq;
  }
  if (c.backoffMs) config.backoff = c.backoffMs.map((ms) => nanos(ms));
  if (c.maxAckPending !== undefined) config.max_ack_pending = c.maxAckPending;
  if (c.inactiveThresholdMs !== undefined) config.inactive_threshold = nanos(c.inactiveThresholdMs);
  return config;
}

/**
 * The settings of an existing consumer that differ from the options, as a `consumers.update`
 * (JetStream changes each of these in place), or undefined when none does. Without it, an option
 * changed between runs would be ignored for good: a durable consumer keeps the config it was
 * created with, so raising `maxDeliver` would leave the server giving up on messages at the old
 * count. An unset `maxAckPending` leaves the consumer's as it is (the server's default is not
 * known here); an unset `inactiveThresholdMs` removes one set before ("never" is the default).
 */
export function consumerUpdate(existing: Partial<ConsumerConfig>, c: ResolvedNatsOptions['consumers']): Partial<ConsumerConfig> | undefined {
  const want = consumerConfig({ stream: '', name: '', topic: '', from: 'latest' }, c);
  const backoff = want.backoff ?? [];
  const changed =
    (existing.max_deliver ?? -1) !== want.max_deliver ||
    // With a backoff the server sets ack_wait to its first step, so ack_wait is compared without one only.
    (backoff.length === 0 && existing.ack_wait !== want.ack_wait) ||
    (existing.backoff ?? []).join() !== backoff.join() ||
    (want.max_ack_pending !== undefined && existing.max_ack_pending !== want.max_ack_pending) ||
    (existing.inactive_threshold ?? 0) !== (want.inactive_threshold ?? 0);
  if (!changed) return undefined;
  const update: Partial<ConsumerConfig> = { ack_wait: want.ack_wait, max_deliver: want.max_deliver, backoff, inactive_threshold: want.inactive_threshold ?? 0 };
  if (want.max_ack_pending !== undefined) update.max_ack_pending = want.max_ack_pending;
  return update;
}

/**
 * Makes sure the group's durable consumer exists, with the settings the options ask for. An
 * existing one keeps its position (that is what makes the group persistent) and is updated when
 * its settings differ (`consumerUpdate`); `from` only matters when it is created.
 */
export async function ensureConsumer(jsm: JetStreamManager, plan: ConsumerPlan, c: ResolvedNatsOptions['consumers']): Promise<ConsumerInfo> {
  const lookup = async (): Promise<ConsumerInfo | undefined> => {
    try {
      return await jsm.consumers.info(plan.stream, plan.name);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw natsError(`cannot look up consumer "${plan.name}" on stream "${plan.stream}"`, error);
    }
  };
  const existing = await lookup();
  if (existing) {
    if (existing.config.filter_subject && existing.config.filter_subject !== plan.topic) {
      throw new ConfigError(`consumer "${plan.name}" on stream "${plan.stream}" filters "${existing.config.filter_subject}", not "${plan.topic}"; delete it or pick another group`);
    }
    const update = consumerUpdate(existing.config, c);
    if (!update) return existing;
    try {
      return await jsm.consumers.update(plan.stream, plan.name, update);
    } catch (error) {
      throw natsError(`cannot update consumer "${plan.name}" on stream "${plan.stream}" to the consumers options (${JSON.stringify(update)})`, error);
    }
  }
  try {
    return await jsm.consumers.add(plan.stream, consumerConfig(plan, c));
  } catch (error) {
    const raced = await lookup().catch(() => undefined);
    if (raced) return raced;
    throw natsError(`cannot create consumer "${plan.name}" on stream "${plan.stream}" for "${plan.topic}"`, error);
  }
}

/**
 * Creates the group's consumer again if it is gone — deleted by an operator, by its
 * `inactive_threshold` (a member away longer than that), or with its stream — so that the group's
 * members do not wait for ever on a consumer that no longer exists. It resumes at `resumeAt` (the
 * first message the member holds unacked, else the one after the last it received or the ack floor
 * it started from), so messages stored while it was gone are not skipped; a stream created again
 * since `consumerCreated` starts its sequences over, so the new consumer then starts at its
 * beginning. `ensureStreamAgain` makes sure the stream exists. Resolves to the new consumer and
 * where it started, or undefined when the consumer still existed.
 */
export async function restoreConsumer(
  jsm: JetStreamManager,
  plan: ConsumerPlan,
  c: ResolvedNatsOptions['consumers'],
  where: { resumeAt: number; consumerCreated: string },
  ensureStreamAgain: () => Promise<unknown>,
): Promise<{ info: ConsumerInfo; startSeq: number } | undefined> {
  try {
    await jsm.consumers.info(plan.stream, plan.name);
    return undefined;
  } catch (error) {
    if (!isNotFound(error)) throw natsError(`cannot look up consumer "${plan.name}" on stream "${plan.stream}"`, error);
  }
  await ensureStreamAgain();
  const stream = await jsm.streams.info(plan.stream);
  const startSeq = Date.parse(stream.created) > Date.parse(where.consumerCreated) ? 1 : where.resumeAt;
  return { info: await ensureConsumer(jsm, { ...plan, startSeq }, c), startSeq };
}

/**
 * Whether a JetStream error says "not found": a stream or consumer (API code 404), or no stream
 * holding a subject (`streams.find`, which fails with a plain error).
 */
export function isNotFound(error: unknown): boolean {
  const e = error as { code?: unknown; api_error?: { err_code?: number; code?: number }; message?: string };
  const code = e?.api_error?.code;
  return code === 404 || /not found|no stream matches subject/i.test(String(e?.message ?? ''));
}
