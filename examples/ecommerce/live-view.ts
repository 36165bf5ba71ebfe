// What the dashboard may look at and do while the demo runs (and after, with --keep-open): the
// dead letters with a per-message replay, saga instances with their step history, and the
// circuit breakers. Everything is read from the system's own state on each request.
import type { SagaStore, SagaStatus, StepRecord } from 'switchyard/saga';
import type { DeadLetterDesk } from './dead-letter-desk.ts';
import type { Shop } from './shop.ts';

export interface DeadLetterRow {
  topic: string;
  id: string;
  originalTopic: string;
  error: string;
  attempts: number;
  failedAt: string;
}

export interface SagaRow {
  id: string;
  saga: string;
  status: SagaStatus;
  error?: string;
  updatedAt: number;
  history: StepRecord[];
}

export interface LiveView {
  deadLetters(): Promise<DeadLetterRow[]>;
  /** Publishes the dead letter back to its original topic; false when it is no longer there. */
  replay(topic: string, id: string): Promise<boolean>;
  /** The newest instances first; `status` narrows them. */
  sagas(options?: { limit?: number; status?: SagaStatus }): Promise<SagaRow[]>;
  /** Circuit breaker states by what they guard. */
  breakers(): Record<string, string>;
}

export function liveView(shop: Shop, sagaStore: SagaStore, desk: DeadLetterDesk): LiveView {
  return {
    async deadLetters() {
      const rows: DeadLetterRow[] = [];
      for (const topic of desk.topics) {
        for (const d of await desk.list(topic)) {
          rows.push({ topic, id: d.id, originalTopic: d.originalTopic, error: d.error, attempts: d.attempts, failedAt: d.failedAt });
        }
      }
      return rows;
    },
    replay: (topic, id) => desk.replay(topic, id),
    async sagas({ limit = 20, status } = {}) {
      const records = await sagaStore.list({ limit, ...(status ? { status: [status] } : {}) });
      return records.map((r) => ({
        id: r.id,
        saga: r.saga,
        status: r.status,
        ...(r.error ? { error: r.error } : {}),
        updatedAt: r.updatedAt,
        history: [...r.history],
      }));
    },
    breakers: () => ({ 'email provider': shop.notifications.breaker.state }),
  };
}
