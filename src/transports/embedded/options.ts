import { ConfigError } from '../../core/errors.ts';
import { topicProblems } from '../../core/topic.ts';
import type { FsyncMode } from './partition-log.ts';

/** Retention of a topic: whole segments are deleted once they are older, or the partition larger. */
export interface RetentionOptions {
  /** Delete segments whose newest record is older than this many ms. Default: keep forever. */
  maxAgeMs?: number;
  /** Delete the oldest segments while a partition holds more than this many bytes. Default: no limit. */
  maxBytes?: number;
}

/** Settings of one topic, applied when the broker creates it (stored with the topic afterwards). */
export interface EmbeddedTopicOptions {
  /** Partitions of the topic. Default: the broker's `partitions`. */
  partitions?: number;
  retention?: RetentionOptions;
  /** Keep only the latest record per key; a tombstone (see `tombstone()`) removes the key. */
  compact?: boolean;
}

/** Options of `embedded()`. */
export interface EmbeddedOptions {
  /** The data directory (created with mode 0700). One process owns it; others connect through it. */
  dir: string;
  /**
   * When `publish()` resolves: `'batch'` (default) after a group commit fsync'd the records,
   * `'always'` after an fsync of that call's records alone, `'never'` once written to the OS
   * (survives the process dying, not the machine). See docs/embedded.md.
   */
  fsync?: FsyncMode;
  /** Group-commit window for `fsync: 'batch'`, ms. Default 0: the next turn of the event loop, or at once when 256 KiB or more are waiting. */
  batchWindowMs?: number;
  /** Partitions of topics created without their own setting. Default 1. */
  partitions?: number;
  /** Roll to a new segment file at this size. Default 64 MiB. */
  segmentBytes?: number;
  /** Default retention of topics. Default: keep everything. */
  retention?: RetentionOptions;
  /** Per-topic settings (partitions, retention, compaction), by exact topic name. */
  topics?: Record<string, EmbeddedTopicOptions>;
  /** Wait before a failed message is delivered again, ms. Default 0. */
  redeliveryDelayMs?: number;
  /**
   * How long `close()` lets in-flight handlers run before aborting their signal and giving up on
   * them (their messages are delivered again). Default 30,000 ms; `subscribe` may set its own.
   */
  drainTimeoutMs?: number;
  /** How often retention and compaction run, ms. Default 60,000. */
  maintenanceIntervalMs?: number;
  /** Tombstones are kept this long by compaction so slow consumers see them. Default 24 h. */
  tombstoneRetentionMs?: number;
  /** Verify the CRC of every record of every segment on open (default true) or only the active segments. */
  verifyOnOpen?: boolean;
  /** The owner listens on `<dir>/broker.sock` so other local processes can share it. Default true. */
  share?: boolean;
  /** How long a second process waits for the owner's socket, ms. Default 10,000. */
  connectTimeoutMs?: number;
}

export type ResolvedEmbeddedOptions = Required<Omit<EmbeddedOptions, 'retention' | 'topics'>> & {
  retention: RetentionOptions;
  topics: Record<string, EmbeddedTopicOptions>;
};

function positiveInt(problems: string[], name: string, value: unknown, min: number): void {
  if (value !== undefined && (!Number.isInteger(value) || (value as number) < min)) {
    problems.push(`${name} must be a whole number ≥ ${min}, got ${JSON.stringify(value)}`);
  }
}

function retentionProblems(problems: string[], where: string, r: RetentionOptions | undefined): void {
  if (r === undefined) return;
  if (typeof r !== 'object' || r === null) return void problems.push(`${where} must be an object { maxAgeMs?, maxBytes? }`);
  positiveInt(problems, `${where}.maxAgeMs`, r.maxAgeMs, 0);
  positiveInt(problems, `${where}.maxBytes`, r.maxBytes, 1);
}

/** Validates `embedded()` options, reporting every problem in one ConfigError, and fills defaults. */
export function resolveOptions(options: EmbeddedOptions): ResolvedEmbeddedOptions {
  const problems: string[] = [];
  if (typeof options !== 'object' || options === null) throw new ConfigError('embedded() needs options: { dir: "./data" }');
  if (typeof options.dir !== 'string' || options.dir === '') problems.push('dir must be a non-empty path to the data directory, e.g. embedded({ dir: "./data" })');
  if (options.fsync !== undefined && !['always', 'batch', 'never'].includes(options.fsync)) {
    problems.push(`fsync must be "always", "batch" or "never", got ${JSON.stringify(options.fsync)}`);
  }
  positiveInt(problems, 'batchWindowMs', options.batchWindowMs, 0);
  positiveInt(problems, 'partitions', options.partitions, 1);
  positiveInt(problems, 'segmentBytes', options.segmentBytes, 1024);
  positiveInt(problems, 'redeliveryDelayMs', options.redeliveryDelayMs, 0);
  positiveInt(problems, 'drainTimeoutMs', options.drainTimeoutMs, 0);
  positiveInt(problems, 'maintenanceIntervalMs', options.maintenanceIntervalMs, 1);
  positiveInt(problems, 'tombstoneRetentionMs', options.tombstoneRetentionMs, 0);
  positiveInt(problems, 'connectTimeoutMs', options.connectTimeoutMs, 0);
  retentionProblems(problems, 'retention', options.retention);
  for (const [name, t] of Object.entries(options.topics ?? {})) {
    for (const p of topicProblems(name)) problems.push(`topics: ${p}`);
    positiveInt(problems, `topics["${name}"].partitions`, t.partitions, 1);
    retentionProblems(problems, `topics["${name}"].retention`, t.retention);
  }
  ConfigError.throwIfAny(problems);
  return {
    dir: options.dir,
    fsync: options.fsync ?? 'batch',
    batchWindowMs: options.batchWindowMs ?? 0,
    partitions: options.partitions ?? 1,
    segmentBytes: options.segmentBytes ?? 64 * 1024 * 1024,
    retention: options.retention ?? {},
    topics: options.topics ?? {},
    redeliveryDelayMs: options.redeliveryDelayMs ?? 0,
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    maintenanceIntervalMs: options.maintenanceIntervalMs ?? 60_000,
    tombstoneRetentionMs: options.tombstoneRetentionMs ?? 24 * 60 * 60 * 1000,
    verifyOnOpen: options.verifyOnOpen ?? true,
    share: options.share ?? true,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
  };
}
