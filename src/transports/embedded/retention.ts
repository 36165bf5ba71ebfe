import type { TopicLog } from './topic-log.ts';

/**
 * Deletes whole closed segments of each partition of `topic` (never the active one), and empty ones:
 * - by age: the oldest segments whose newest record is older than `retentionMs`;
 * - by size: the oldest segments while the partition would still hold at least `retentionBytes`
 *   without them (Kafka's rule: a partition ends up between the limit and the limit plus one segment).
 * Consumers that were behind skip to the first remaining record. Returns the segments deleted.
 */
export function applyRetention(topic: TopicLog, now: number): number {
  const { retentionMs, retentionBytes } = topic.config;
  let deleted = 0;
  for (const log of topic.partitions) {
    // An empty closed segment holds nothing to keep: it goes, and retention carries on past it
    // (such segments came from compaction before it removed the segments it emptied).
    if (retentionMs !== undefined) {
      deleted += log.dropOldest((s) => s.size === 0 || now - s.maxTimestamp > retentionMs);
    }
    if (retentionBytes !== undefined) {
      let total = log.sizeBytes;
      deleted += log.dropOldest((s) => {
        if (s.size === 0) return true;
        if (total - s.size < retentionBytes) return false;
        total -= s.size;
        return true;
      });
    }
  }
  return deleted;
}
