import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { syncDir } from './sync-dir.ts';
import { ConfigError, TransportError } from '../../core/errors.ts';
import type { NormalizedMessage } from '../../core/message.ts';
import { partitionForKey } from './murmur2.ts';
import { PartitionLog, type PartitionLogOptions } from './partition-log.ts';
import { encodeRecords, frameProblems, framesBound } from './record.ts';

/** Per-topic settings, fixed when the topic is created and kept in `<topic>/meta.json`. */
export interface TopicConfig {
  partitions: number;
  /** Delete whole segments whose newest record is older than this (ms). */
  retentionMs?: number;
  /** Delete the oldest segments while the partition is larger than this (bytes). */
  retentionBytes?: number;
  /** Keep only the latest record per key (and drop keys whose latest record is a tombstone). */
  compact?: boolean;
}

/**
 * The settings stored in a topic's `meta.json`. One that cannot be read — empty after an OS crash
 * with fsync 'never' (its bytes never reached the disk), or edited by hand — is an error naming
 * the file and how to repair it; it used to surface as a bare "Unexpected end of JSON input".
 */
function readMeta(name: string, path: string): Partial<TopicConfig> {
  const text = readFileSync(path, 'utf8');
  let problem = text.trim() === '' ? 'it is empty' : 'it is not the JSON object the broker wrote';
  try {
    const meta = JSON.parse(text) as Partial<TopicConfig> | null;
    if (typeof meta === 'object' && meta !== null && !Array.isArray(meta)) {
      if (meta.partitions === undefined || (Number.isInteger(meta.partitions) && meta.partitions > 0)) return meta;
      problem = `its partitions (${JSON.stringify(meta.partitions)}) is not a whole number ≥ 1`;
    }
  } catch {
    // problem says what is wrong
  }
  const partitions = readdirSync(dirname(path)).filter((f) => /^\d+$/.test(f)).length;
  throw new TransportError(
    `cannot open topic "${name}": its settings file ${path} is damaged (${problem}). Restore it from a backup, or write it again as ` +
      `${JSON.stringify({ name, partitions: Math.max(partitions, 1) })} (one partition per numbered folder beside it) with its retention and compact settings, if it had any.`,
    { retryable: false },
  );
}

/** A topic: its partitions and how keys map onto them. */
export class TopicLog {
  readonly name: string;
  readonly dir: string;
  readonly config: TopicConfig;
  readonly partitions: PartitionLog[] = [];
  #roundRobin = 0;

  private constructor(name: string, dir: string, config: TopicConfig) {
    this.name = name;
    this.dir = dir;
    this.config = config;
  }

  /** Opens the topic stored in `dir`, or creates it there with `config`. */
  static open(name: string, dir: string, config: TopicConfig, logOptions: PartitionLogOptions): TopicLog {
    const metaPath = join(dir, 'meta.json');
    let stored = config;
    if (existsSync(metaPath)) {
      stored = { ...config, ...readMeta(name, metaPath) };
    } else {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // Flushed whatever `fsync` says: once per topic, it costs nothing that matters, and without it
      // an OS crash can leave meta.json empty — a topic that no longer opens, not lost records.
      writeFileSync(`${metaPath}.tmp`, JSON.stringify({ name, ...config }), { mode: 0o600, flush: true });
      renameSync(`${metaPath}.tmp`, metaPath);
      syncDir(dir);
      syncDir(dirname(dir));
    }
    const topic = new TopicLog(name, dir, stored);
    try {
      for (let p = 0; p < stored.partitions; p++) topic.partitions.push(PartitionLog.open(join(dir, String(p)), logOptions));
    } catch (error) {
      for (const log of topic.partitions) void log.close();
      throw error;
    }
    return topic;
  }

  /**
   * Appends `messages`: keyed ones to Kafka's murmur2 partition for their key, unkeyed ones of
   * one call together to the next partition in turn (sticky per call: one write, one fsync).
   * All or nothing: every message is checked against the record format, and every partition's
   * records framed, before anything is queued, so a publish the log cannot hold (a ConfigError
   * naming its messages) stores nothing in any partition.
   */
  append(messages: readonly NormalizedMessage[]): Promise<void> {
    const n = this.partitions.length;
    if (n === 1) {
      const log = this.partitions[0]!;
      const bound = framesBound(messages); // before reserve(): nothing is numbered for a publish that fails
      return log.append(encodeRecords(messages, log.reserve(messages.length), true, bound), messages.length);
    }
    const groups: NormalizedMessage[][] = Array.from({ length: n }, () => []);
    let sticky = -1;
    for (const m of messages) {
      let p: number;
      if (m.key === '') {
        if (sticky < 0) sticky = this.#roundRobin++ % n;
        p = sticky;
      } else p = partitionForKey(m.key, n);
      groups[p]!.push(m);
    }
    const bounds: number[] = [];
    try {
      for (const list of groups) bounds.push(list.length > 0 ? framesBound(list) : 0);
    } catch (error) {
      // Name every message the publish cannot store, not only those of the first partition checked.
      ConfigError.throwIfAny(frameProblems(messages));
      throw error;
    }
    const framed: Array<Buffer | undefined> = groups.map((list, p) => {
      if (list.length === 0) return undefined;
      const log = this.partitions[p]!;
      return encodeRecords(list, log.reserve(list.length), true, bounds[p]!);
    });
    const writes: Promise<void>[] = [];
    framed.forEach((frames, p) => {
      if (frames) writes.push(this.partitions[p]!.append(frames, groups[p]!.length));
    });
    return writes.length === 1 ? writes[0]! : Promise.all(writes).then(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all(this.partitions.map((p) => p.close()));
  }
}
