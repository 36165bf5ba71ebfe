import { toError } from '../core/errors.ts';
import type { Transport } from '../core/transport.ts';
import { curable } from '../internal/curable.ts';

/** An outbox row as the relay publishes it. */
export interface OutboxRow {
  id: string;
  topic: string;
  msg_id: string;
  key: string;
  payload: Buffer;
  headers: Record<string, string>;
}

/** The key of a row enqueued without one: it promises no order, so it blocks no other row. */
export const NO_KEY = '';

/** What publishing a round's rows came to. */
export interface PublishOutcome {
  /** Ids of the rows published. */
  readonly sent: string[];
  /** Rows the transport refused (an error trying again cannot cure), each with why. */
  readonly refused: Array<{ readonly row: OutboxRow; readonly error: Error }>;
  /** A failure trying again may cure (the broker or the connection), which ended the round early. */
  readonly failed?: Error;
}

const toOutgoing = (r: OutboxRow) => ({ id: r.msg_id, key: r.key, payload: new Uint8Array(r.payload), headers: r.headers });

/**
 * Publishes `rows` (in id order) with one call per run of consecutive rows of one topic. When the
 * transport refuses a run, its rows go one at a time to find the ones refused; a refused row's key
 * publishes nothing more this round (order per key), while other keys go on — and so do the other
 * rows without a key: they have no order to keep. A curable failure
 * ends the round: the broker's trouble would fail every publish after it.
 */
export async function publishRows(transport: Transport, rows: readonly OutboxRow[]): Promise<PublishOutcome> {
  const sent: string[] = [];
  const refused: Array<{ row: OutboxRow; error: Error }> = [];
  const blocked = new Set<string>();
  let i = 0;
  while (i < rows.length) {
    const topic = rows[i]!.topic;
    const run: OutboxRow[] = [];
    for (; i < rows.length && rows[i]!.topic === topic; i++) if (!blocked.has(rows[i]!.key)) run.push(rows[i]!);
    if (run.length === 0) continue;
    try {
      await transport.publish(topic, run.map(toOutgoing));
      for (const r of run) sent.push(r.id);
      continue;
    } catch (error) {
      if (curable(error)) return { sent, refused, failed: toError(error) };
      if (run.length === 1) {
        block(blocked, run[0]!);
        refused.push({ row: run[0]!, error: toError(error) });
        continue;
      }
    }
    // Some row of the run was refused: one at a time, to publish all the others. Rows the failed
    // call stored already go out twice, under the same message ids (at-least-once).
    for (const row of run) {
      if (blocked.has(row.key)) continue;
      try {
        await transport.publish(topic, [toOutgoing(row)]);
        sent.push(row.id);
      } catch (error) {
        if (curable(error)) return { sent, refused, failed: toError(error) };
        block(blocked, row);
        refused.push({ row, error: toError(error) });
      }
    }
  }
  return { sent, refused };
}

/** Holds back the rows behind a refused one: those of its key, none if it has no key. */
function block(blocked: Set<string>, row: OutboxRow): void {
  if (row.key !== NO_KEY) blocked.add(row.key);
}
