import { SwitchyardError, toError } from '../core/errors.ts';
import { MAX_TIMER_MS } from '../core/timer-limit.ts';
import { abortAttempt } from '../router/attempt-context.ts';
import type { RouterContext } from '../router/types.ts';
import type { IdempotencyClaim } from '../stores/idempotency/store.ts';

/** A claim a store can renew. */
export type Renewable = Extract<IdempotencyClaim, { status: 'claimed' }> & { renew(): Promise<boolean> | boolean };

/** Renewal periods per lease: a claim is first renewed within two of them, then every one. */
const PERIODS_PER_LEASE = 4;
/**
 * Periods without a confirmed renewal after which a claim counts as lost: the next period would
 * end at the lease's end, so another consumer may hold the key by then.
 */
const UNCONFIRMED_PERIODS = PERIODS_PER_LEASE - 1;

/** One claim whose handler is running. */
export class Flight {
  readonly claim: Renewable;
  readonly ctx: RouterContext;
  /** The custom key, or undefined for the default `<group>:<message id>` (joined only for an error). */
  readonly #key: string | undefined;
  readonly #messageId: string;
  /** Position in the renewals' list; -1 once ended. */
  index: number;
  /** The period the claim was taken in. */
  readonly born: number;
  /** The period of the last renewal the store confirmed (the claim itself at first). */
  confirmed: number;
  renewing = false;
  /** Why the claim is no longer this handler's, once a renewal found that out. */
  lost: Error | undefined;
  /** Gives the context a signal not aborted, once the attempt whose claim was lost is over. */
  #restoreSignal: (() => void) | undefined;

  constructor(claim: Renewable, ctx: RouterContext, key: string | undefined, messageId: string, index: number, born: number) {
    this.claim = claim;
    this.ctx = ctx;
    this.#key = key;
    this.#messageId = messageId;
    this.index = index;
    this.born = born;
    this.confirmed = born;
  }

  /** The message key, for errors and logs. */
  get key(): string {
    return this.#key ?? `${this.ctx.group}:${this.#messageId}`;
  }

  /**
   * Aborts the attempt's `ctx.signal` — also as the handler read it before — so the handler stops.
   * Nothing is made per message for it: the context makes its signal abortable when first read.
   */
  lose(error: Error): void {
    if (this.lost) return;
    this.lost = error;
    this.#restoreSignal = abortAttempt(this.ctx, error);
  }

  /** Once the attempt is over: the attempt that follows on the same context gets a signal not aborted. */
  attemptOver(): void {
    this.#restoreSignal?.();
  }
}

/**
 * Keeps the claims of running handlers from expiring: a handler that outlives part of its lease
 * would otherwise let a duplicate claim the key and run alongside it.
 *
 * One interval for all claims, running only while some handler runs, rather than a timer per
 * message: most handlers finish long before their first renewal is due, and for them a claim
 * costs one entry in a list. Each tick renews the claims that have lived through a full period
 * (between one and two periods old, so within half the lease), and those renewed before, every
 * period (a quarter of the lease). A renewal that finds the claim gone — or none confirmed for
 * three periods, the store unreachable or not answering — marks it lost: `ctx.signal` aborts, and the middleware
 * fails the attempt instead of marking the key processed alongside the run that took it.
 */
export class ClaimRenewals {
  readonly #leaseMs: number;
  readonly #periodMs: number;
  readonly #flights: Flight[] = [];
  #timer: NodeJS.Timeout | undefined;
  #period = 0;

  constructor(leaseMs: number) {
    this.#leaseMs = leaseMs;
    this.#periodMs = Math.min(MAX_TIMER_MS, Math.max(1, leaseMs / PERIODS_PER_LEASE));
  }

  /** Tracks `claim` while its handler runs; call `end()` when the attempt is over. */
  add(claim: Renewable, ctx: RouterContext, key: string | undefined, messageId: string): Flight {
    const flight = new Flight(claim, ctx, key, messageId, this.#flights.length, this.#period);
    this.#flights.push(flight);
    // Unref'd: a claim in flight never keeps the process alive by itself.
    this.#timer ??= setInterval(() => this.#tick(), this.#periodMs).unref();
    return flight;
  }

  /**
   * Stops renewing `flight` (again is harmless); returns why the attempt failed: the loss of the
   * claim if that happened (it explains the rest — an aborted signal, say), else `error`.
   */
  end(flight: Flight, error?: unknown): unknown {
    const i = flight.index;
    if (i >= 0) {
      const last = this.#flights.pop()!;
      if (last !== flight) {
        this.#flights[i] = last;
        last.index = i;
      }
      flight.index = -1;
      flight.attemptOver();
    }
    return flight.lost ?? error;
  }

  #tick(): void {
    const period = ++this.#period;
    if (this.#flights.length === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    for (const flight of this.#flights) {
      if (period - flight.born < 2 || flight.lost) continue;
      if (!flight.renewing) this.#renew(flight, period);
      // A renewal the store never answers (a pool with no free connection, a dead socket) counts
      // as unconfirmed all the same: waiting on it would let the lease run out unnoticed.
      else if (period - flight.confirmed >= UNCONFIRMED_PERIODS) this.#unconfirmed(flight, 'the store did not answer');
    }
  }

  #renew(flight: Flight, period: number): void {
    let answer: Promise<boolean> | boolean;
    try {
      answer = flight.claim.renew();
    } catch (error) {
      this.#failed(flight, error);
      return;
    }
    if (typeof answer === 'boolean') {
      this.#answered(flight, period, answer);
      return;
    }
    flight.renewing = true;
    answer.then(
      (ours) => {
        flight.renewing = false;
        this.#answered(flight, period, ours);
      },
      (error: unknown) => {
        flight.renewing = false;
        this.#failed(flight, error);
      },
    );
  }

  #answered(flight: Flight, period: number, ours: boolean): void {
    if (flight.index < 0) return;
    if (ours) {
      flight.confirmed = period;
      return;
    }
    flight.lose(
      new SwitchyardError(
        `idempotency: the claim of message key "${flight.key}" was lost while its handler ran (its ${this.#leaseMs} ms lease ran out: the process stalled, or the store lost it), ` +
          'so another consumer may be running the message; this attempt fails without marking the key processed or sending its publishes, and the message will be delivered again',
      ),
    );
  }

  #failed(flight: Flight, error: unknown): void {
    if (flight.index < 0) return;
    if (this.#period - flight.confirmed < UNCONFIRMED_PERIODS) {
      flight.ctx.logger.warn(`idempotency: renewing the claim of "${flight.key}" failed; trying again in ${Math.round(this.#periodMs)} ms`, { error: String(error) });
      return;
    }
    this.#unconfirmed(flight, toError(error).message, error);
  }

  /** Marks `flight` lost: no renewal confirmed for most of its lease, for the reason `why`. */
  #unconfirmed(flight: Flight, why: string, cause?: unknown): void {
    const unconfirmed = this.#period - flight.confirmed;
    flight.lose(
      new SwitchyardError(
        `idempotency: the claim of message key "${flight.key}" could not be renewed for ${Math.round(unconfirmed * this.#periodMs)} ms of its ${this.#leaseMs} ms lease (${why}), ` +
          'so another consumer may hold it now; this attempt fails without marking the key processed or sending its publishes, and the message will be delivered again',
        cause === undefined ? undefined : { cause },
      ),
    );
  }
}
