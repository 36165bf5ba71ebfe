import type { ConnectionPoolEventPayload } from '@platformatic/kafka';

/** Wait before the first check again after a failed one; it doubles after each failure, up to `MAX_RETRY_MS`. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;
/** A failed request (`suspect()`) starts a check at most this often. */
const SUSPECT_SPACING_MS = 1_000;

/** A @platformatic/kafka client (Admin, Producer, Consumer): its connection pools' events. */
interface PoolEvents {
  on(event: 'client:broker:connect' | 'client:broker:disconnect', listener: (payload: ConnectionPoolEventPayload) => void): unknown;
  off(event: 'client:broker:connect' | 'client:broker:disconnect', listener: (payload: ConnectionPoolEventPayload) => void): unknown;
}

/**
 * Whether a Kafka transport can reach its cluster, derived from what its clients already do:
 * nothing is sent while all is well.
 *
 * - Up from `start()` (the transport's `connect()` succeeded) until a check fails.
 * - A check — `check()`, one Metadata request that the admin client sends to the first broker
 *   that takes a connection — runs when the last open broker connection of the watched clients
 *   closed, and when a request failed (`suspect()`, at most once a second). The link stays up while
 *   it runs: a broker closing an idle connection is not an outage.
 * - Down when a check failed; then it checks again after 250 ms, doubling up to 5 s, and at once
 *   when a watched client opened a broker connection. Up again when a check succeeds.
 */
export class ClusterLink {
  readonly #check: () => Promise<unknown>;
  /** Open broker connections of the watched clients. */
  readonly #open = new Set<object>();
  readonly #unwatch: Array<() => void> = [];
  #up = false;
  #started = false;
  #stopped = false;
  #checking = false;
  #retry: NodeJS.Timeout | undefined;
  #delay = FIRST_RETRY_MS;
  #lastCheck = 0;

  constructor(check: () => Promise<unknown>) {
    this.#check = check;
  }

  /** True from `start()` while the cluster answered the last check (see the class). */
  get up(): boolean {
    return this.#up && !this.#stopped;
  }

  /** Follows `client`'s broker connections. Watch before the client sends anything. */
  watch(client: PoolEvents): void {
    const opened = ({ connection }: ConnectionPoolEventPayload): void => {
      this.#open.add(connection);
      if (this.#started && !this.#up && !this.#checking) this.#run();
    };
    const closed = ({ connection }: ConnectionPoolEventPayload): void => {
      if (this.#open.delete(connection) && this.#open.size === 0 && this.#up) this.#run();
    };
    client.on('client:broker:connect', opened);
    client.on('client:broker:disconnect', closed);
    this.#unwatch.push(() => {
      client.off('client:broker:connect', opened);
      client.off('client:broker:disconnect', closed);
    });
  }

  /** The transport connected: up. */
  start(): void {
    if (this.#stopped) return;
    this.#started = true;
    this.#up = true;
    if (this.#open.size === 0) this.#run();
  }

  /** A request to the cluster failed in a way a lost connection explains: check (at most once a second). */
  suspect(): void {
    if (this.#up && Date.now() - this.#lastCheck >= SUSPECT_SPACING_MS) this.#run();
  }

  /** Down for good; stops listening and checking. */
  stop(): void {
    this.#stopped = true;
    this.#up = false;
    clearTimeout(this.#retry);
    for (const unwatch of this.#unwatch.splice(0)) unwatch();
  }

  #run(): void {
    if (this.#checking || this.#stopped) return;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#checking = true;
    // Not from inside the pool's event: it forgets a closed connection only after emitting
    // `disconnect`, and a request sent before that would wait on the closed connection for ever.
    void new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#check())
      .then(
        () => true,
        () => false,
      )
      .then((reached) => {
        this.#checking = false;
        this.#lastCheck = Date.now();
        if (this.#stopped) return;
        this.#up = reached;
        if (reached && this.#open.size > 0) {
          this.#delay = FIRST_RETRY_MS;
          return;
        }
        // Failed, or answered on a connection that closed since: look again later.
        this.#retry = setTimeout(() => this.#run(), this.#delay);
        this.#retry.unref();
        this.#delay = Math.min(this.#delay * 2, MAX_RETRY_MS);
      });
  }
}
