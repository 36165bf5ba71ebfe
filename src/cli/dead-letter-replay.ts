import type { Handler, Subscription, Transport } from '../core/transport.ts';
import { replayDeadLetters } from '../router/dlq.ts';

/**
 * Most dead letters one pass of `replayDeadLetters` / `listDeadLetters` looks at (their own
 * default, given explicitly so the CLI knows when a pass was full).
 */
export const DEAD_LETTERS_PER_PASS = 10_000;

/** How `switchyard dlq replay` replays. */
export interface ReplayPassesOptions {
  /** Only these ids; every dead letter when undefined. */
  ids?: readonly string[];
  idleMs: number;
  /** Once aborted, no further dead letter is replayed; those already being published finish. */
  signal: AbortSignal;
  /** Told of each replayed id as soon as its publish succeeded (progress over thousands). */
  onReplayed?: (id: string) => void;
  /** Most dead letters per pass; default {@link DEAD_LETTERS_PER_PASS}. */
  perPass?: number;
}

/** What was replayed, what was not (with why), and whether an interruption cut it short. */
export interface ReplayPassesOutcome {
  replayed: string[];
  skipped: Map<string, string>;
  interrupted: boolean;
}

/**
 * Replays dead letters of `dlqTopic` in as many passes of `replayDeadLetters` as it takes. One
 * pass looks at {@link DEAD_LETTERS_PER_PASS} letters at most, so a larger DLQ used to be
 * replayed only in part while the command reported success; another pass follows while the last
 * one was full and did something (replayed a letter, or found letters not seen before while ids
 * are still missing).
 *
 * Once `signal` aborts, letters delivered from then on are held and handed back to the DLQ when
 * the pass ends (as a pass hands back letters it keeps): only the publishes under way complete
 * and are acknowledged. Killing the process instead left every letter published but not yet
 * acknowledged in the DLQ (thousands at once), to be replayed a second time. `open` gives the
 * transport of each pass, which closes it.
 */
export async function replayInPasses(open: () => Transport, dlqTopic: string, options: ReplayPassesOptions): Promise<ReplayPassesOutcome> {
  const perPass = options.perPass ?? DEAD_LETTERS_PER_PASS;
  const replayed: string[] = [];
  const skipped = new Map<string, string>();
  const seenBefore = new Set<string>();
  const wanted = options.ids ? new Set(options.ids) : undefined;
  const notYet = (): string[] => [...(wanted ?? [])].filter((id) => !replayed.includes(id) && !skipped.has(id));
  while (!options.signal.aborted) {
    // A transport of its own per pass, closed when the pass ends: what the pass handed back is
    // settled with the broker before the next one reads. (It also kept the CLI clear of an
    // embedded-broker defect, since fixed, that made a second pass through one transport replay
    // 50 letters twice.)
    const bus = open();
    const pass = watchedPass(bus, dlqTopic, options.signal, options.onReplayed);
    let got: string[];
    try {
      got = await replayDeadLetters(pass.transport, dlqTopic, {
        idleMs: options.idleMs,
        limit: perPass,
        onSkip: (id, reason) => void skipped.set(id, reason),
        ...(wanted ? { ids: notYet() } : {}),
      });
    } finally {
      await bus.close();
    }
    replayed.push(...got);
    for (const id of got) skipped.delete(id); // a publish that failed in an earlier pass went through in this one
    const fresh = [...pass.delivered].filter((id) => !seenBefore.has(id));
    for (const id of fresh) seenBefore.add(id);
    if (pass.delivered.size < perPass) break; // the pass saw the whole DLQ
    if (wanted ? notYet().length === 0 || fresh.length === 0 : got.length === 0) break;
  }
  return { replayed, skipped, interrupted: options.signal.aborted };
}

/**
 * `bus` as one pass sees it: the ids delivered to the pass are recorded, a publish to another
 * topic than the DLQ (a replay) is reported once it succeeded, and after `signal` aborts each
 * delivery is held until the pass pauses its subscription, then failed, so the broker keeps it.
 */
function watchedPass(bus: Transport, dlqTopic: string, signal: AbortSignal, onReplayed?: (id: string) => void): { transport: Transport; delivered: Set<string> } {
  const delivered = new Set<string>();
  let ended!: () => void;
  const passEnded = new Promise<void>((resolve) => (ended = resolve));
  const transport: Transport = {
    name: bus.name,
    capabilities: bus.capabilities,
    connect: () => bus.connect(),
    close: () => bus.close(),
    publish: async (topic, messages) => {
      await bus.publish(topic, messages);
      if (topic !== dlqTopic) for (const m of Array.isArray(messages) ? messages : [messages]) if (m.id) onReplayed?.(m.id);
    },
    subscribe: async (topic, subscribeOptions, handler: Handler) => {
      const sub = await bus.subscribe(topic, subscribeOptions, async (m, ctx) => {
        if (signal.aborted) {
          await passEnded;
          throw new Error('replay interrupted: left in the dead-letter topic');
        }
        delivered.add(m.id);
        return handler(m, ctx);
      });
      return endsPass(sub, ended);
    },
  };
  return { transport, delivered };
}

/** `sub`, calling `ended` once it is paused or closed (the pass is over). */
function endsPass(sub: Subscription, ended: () => void): Subscription {
  return {
    get topic() {
      return sub.topic;
    },
    get group() {
      return sub.group;
    },
    get closed() {
      return sub.closed;
    },
    get paused() {
      return sub.paused;
    },
    pause: () => {
      sub.pause();
      ended();
    },
    resume: () => sub.resume(),
    close: () => {
      ended();
      return sub.close();
    },
    [Symbol.asyncDispose]: () => {
      ended();
      return sub[Symbol.asyncDispose]();
    },
  };
}
