/**
 * `switchyard/embedded`: the embedded durable broker. A log on local disk (segments, CRC32C,
 * sparse offset indexes, group commit), consumer groups, retention and compaction, shared with
 * other local processes through the owner's Unix socket; and the idempotency store on its log.
 */
export { embedded, EmbeddedTransport } from './transport.ts';
export type { EmbeddedOptions, EmbeddedTopicOptions, RetentionOptions } from './options.ts';
export type { FsyncMode } from './partition-log.ts';
export type { TopicInfo } from './broker.ts';
export { CorruptLogError, isCorruptLogError } from './errors.ts';
export { tombstone, TOMBSTONE_HEADER } from './compaction.ts';
export { crc32c } from './crc32c.ts';
export { murmur2, partitionForKey } from './murmur2.ts';
export { embeddedIdempotencyStore, type EmbeddedIdempotencyOptions, type EmbeddedIdempotencyStore } from '../../stores/idempotency/embedded.ts';
export type { StoreLogOptions } from './store-log.ts';
