/**
 * Header of a message deliberately published again under its own id: a dead letter replayed to its
 * topic (`switchyard dlq replay`, `replayDeadLetters`), or moved to the end of its dead-letter topic
 * by a replay of others. The value is when, as an ISO 8601 time. The id stays, so downstream
 * deduplication still recognises the message; a transport whose broker drops a second publish of
 * an id (NATS JetStream's duplicate window) scopes that check by this header, so the re-publish is
 * not dropped as a repeat.
 */
export const REPUBLISHED_AT_HEADER = 'x-republished-at';
