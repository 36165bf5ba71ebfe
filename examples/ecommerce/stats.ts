// Live figures for the progress display: order latencies, settled counts, retries, dead letters.
import type { RouterInspector } from 'switchyard';
import type { SagaEvent } from 'switchyard/saga';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export class DemoStats {
  completed = 0;
  rolledBack = 0;
  stepRetries = 0;
  /** When the last saga settled, ms since epoch. */
  lastSettledAt = 0;
  readonly latenciesMs: number[] = [];
  readonly settledIds = new Set<string>();
  #window: number[] = [];
  readonly #placedAt: (orderId: string) => number | undefined;
  readonly #onSettled: () => void;

  constructor(placedAt: (orderId: string) => number | undefined, onSettled: () => void = () => {}) {
    this.#placedAt = placedAt;
    this.#onSettled = onSettled;
  }

  /** Feed every saga event here (the orchestrator's `onEvent`). */
  readonly onSagaEvent = (event: SagaEvent): void => {
    if (event.type === 'saga.step.completed' || event.type === 'saga.step.failed') this.stepRetries += Math.max(0, event.attempts - 1);
    if (event.type !== 'saga.completed' && event.type !== 'saga.rolled_back') return;
    if (this.settledIds.has(event.sagaId)) return; // a re-published event after recovery
    this.settledIds.add(event.sagaId);
    this.lastSettledAt = event.at;
    if (event.type === 'saga.completed') this.completed++;
    else this.rolledBack++;
    const placed = this.#placedAt(event.sagaId);
    if (placed !== undefined) {
      const ms = event.at - placed;
      this.latenciesMs.push(ms);
      this.#window.push(ms);
    }
    this.#onSettled();
  };

  /** Latencies since the last call. */
  takeWindow(): number[] {
    const w = this.#window;
    this.#window = [];
    return w;
  }
}

/** Retries and dead letters counted by the router's handlers. */
export function routerCounts(inspector: RouterInspector): { retried: number; deadLettered: number; duplicateRequests: number } {
  let retried = 0;
  let deadLettered = 0;
  let duplicateRequests = 0; // order requests skipped as already processed
  for (const h of inspector.handlers()) {
    retried += h.counters.retried ?? 0;
    deadLettered += h.counters['dead-lettered'] ?? 0;
    if (h.name === 'place-order') duplicateRequests += h.counters['skipped-duplicate'] ?? 0;
  }
  return { retried, deadLettered, duplicateRequests };
}
