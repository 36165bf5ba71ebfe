// One desk for the shop's dead-letter topics. Listing and replaying read a dead-letter topic with
// one consumer group, so two sweeps at once (the dashboard polling while the summary is being
// verified) would split its messages between them: the desk runs them one after the other.
import { listDeadLetters, replayDeadLetters, type DeadLetter, type Transport } from 'switchyard';
import { TOPICS } from './topics.ts';

/** A dead-letter topic and the transport it lives on. */
interface DeadLetterTopic {
  readonly topic: string;
  readonly transport: Transport;
}

export class DeadLetterDesk {
  readonly #topics: readonly DeadLetterTopic[];
  #queue: Promise<unknown> = Promise.resolve();

  constructor(processes: Transport, events: Transport) {
    this.#topics = [
      { topic: `${TOPICS.orderRequests}.dlq`, transport: processes },
      { topic: `${TOPICS.email}.dlq`, transport: processes },
      { topic: `${TOPICS.sagaEvents}.dlq`, transport: events },
    ];
  }

  /** The dead-letter topics the desk looks after. */
  get topics(): string[] {
    return this.#topics.map((t) => t.topic);
  }

  /**
   * Reads each dead-letter topic once, so its DLQ group exists before the first dead letter: on
   * RabbitMQ a group is a queue, and a message published before its queue is bound goes nowhere.
   */
  async prepare(): Promise<void> {
    for (const topic of this.topics) await this.list(topic);
  }

  /** What `topic` holds now, oldest first. */
  list(topic: string): Promise<DeadLetter[]> {
    const { transport } = this.#find(topic);
    return this.#serial(() => listDeadLetters(transport, topic, { idleMs: 300 }));
  }

  /** Publishes one dead letter back to its original topic; false when it is no longer there. */
  replay(topic: string, id: string): Promise<boolean> {
    const { transport } = this.#find(topic);
    return this.#serial(async () => (await replayDeadLetters(transport, topic, { ids: [id], idleMs: 300 })).includes(id));
  }

  #find(topic: string): DeadLetterTopic {
    const found = this.#topics.find((t) => t.topic === topic);
    if (!found) throw new Error(`unknown dead-letter topic "${topic}"; the shop's are ${this.topics.join(', ')}`);
    return found;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }
}
