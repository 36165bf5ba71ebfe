/**
 * Which appends of an embedded event store's log were written whole.
 *
 * One append (one command's events) is one write of several records. A power cut or an OS crash
 * in the middle of that write can leave its first records on disk and the rest not: the log's own
 * recovery only cuts the torn last record, and the store would then show part of an append. So
 * every record's envelope says where it sits in its append (index and count), and opening the
 * store replays the records through `AppendRecovery`, which passes on the appends that are
 * complete and keeps back the records of the one a crash cut short.
 *
 * Such records stay in the log and keep their offsets: positions are never reused, so a reader's
 * checkpoint past them stays right, and the next append goes after them.
 */

/** Where a record sits in the append that wrote it. */
export interface AppendMark {
  /** 0 for the append's first record. */
  index: number;
  /** How many records the append wrote. */
  count: number;
}

const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const DIGIT_0 = 0x30;

/**
 * The envelope ends with `…, metadata, index, count]`; envelopes written before appends were
 * marked end with the metadata object (`…}]`) and have none. Read from the end, digit by digit,
 * without parsing the envelope: opening the store does this once per stored event.
 */
export function appendMarkOf(envelope: string | undefined): AppendMark | undefined {
  if (envelope === undefined || envelope.charCodeAt(envelope.length - 1) !== CLOSE_BRACKET) return undefined;
  let at = envelope.length - 2;
  const number = (): number | undefined => {
    let value = 0;
    let scale = 1;
    const end = at;
    for (let c = envelope.charCodeAt(at); c >= DIGIT_0 && c <= DIGIT_0 + 9; c = envelope.charCodeAt(--at)) {
      value += (c - DIGIT_0) * scale;
      scale *= 10;
    }
    if (at === end || envelope.charCodeAt(at) !== COMMA) return undefined;
    at--;
    return value;
  };
  const count = number();
  const index = count === undefined ? undefined : number();
  return index === undefined ? undefined : { index, count: count! };
}

/** Records of an append that was not written whole: never shown, their offsets never reused. */
export interface IncompleteAppend {
  streamId: string;
  /** How many records the append wrote. */
  count: number;
  /** Offsets of its records that are on disk. */
  offsets: number[];
}

/**
 * Sorts a log's records, fed in offset order, into complete appends (handed to `commit`, one
 * record at a time in offset order) and incomplete ones (collected in `incomplete`). Call
 * `finish()` after the last record: an append still open then is the one a crash cut short.
 */
export class AppendRecovery {
  readonly incomplete: IncompleteAppend[] = [];
  readonly #commit: (streamId: string, offset: number) => void;
  #open: IncompleteAppend | undefined;

  constructor(commit: (streamId: string, offset: number) => void) {
    this.#commit = commit;
  }

  add(streamId: string, offset: number, mark: AppendMark | undefined): void {
    if (mark === undefined) {
      // Written before appends were marked: shown as it always was, a record of its own.
      this.#cutOpen();
      this.#commit(streamId, offset);
      return;
    }
    const open = this.#open;
    const continuesOpen =
      open !== undefined && mark.index === open.offsets.length && mark.count === open.count && streamId === open.streamId && offset === open.offsets[open.offsets.length - 1]! + 1;
    if (continuesOpen) {
      open.offsets.push(offset);
    } else {
      // A new append starts here; the one still open never got its last records.
      this.#cutOpen();
      if (mark.index !== 0) {
        // Its first records are missing: nothing to show of it either.
        this.incomplete.push({ streamId, count: mark.count, offsets: [offset] });
        return;
      }
      this.#open = { streamId, count: mark.count, offsets: [offset] };
    }
    const current = this.#open!;
    if (current.offsets.length === current.count) {
      for (const o of current.offsets) this.#commit(current.streamId, o);
      this.#open = undefined;
    }
  }

  /** Ends the replay: an append still open is incomplete. */
  finish(): void {
    this.#cutOpen();
  }

  #cutOpen(): void {
    if (this.#open) this.incomplete.push(this.#open);
    this.#open = undefined;
  }
}
