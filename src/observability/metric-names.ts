/**
 * The metric names Switchyard exports, the same on every transport. Labels: `transport`
 * (`memory`, `embedded`, `kafka`, `rabbitmq`, `nats`), `topic` (the message's own topic, not the
 * route's pattern), `group` and `handler`.
 *
 * @example
 * ```ts
 * const acked = await registry.getSingleMetric(METRIC_NAMES.acked)?.get();
 * ```
 */
export const METRIC_NAMES = Object.freeze({
  /** Counter {transport, topic}: messages a publish resolved for. */
  published: 'switchyard_messages_published_total',
  /** Counter {transport, topic}: messages whose publish rejected. */
  publishFailed: 'switchyard_messages_publish_failed_total',
  /** Counter {transport, topic, group, handler}: deliveries handed to a handler (redeliveries included). */
  consumed: 'switchyard_messages_consumed_total',
  /** Counter {transport, topic, group, handler}: deliveries that succeeded (acknowledged). */
  acked: 'switchyard_messages_acked_total',
  /** Counter {transport, topic, group, handler}: deliveries that failed and go back to the transport. */
  failed: 'switchyard_messages_failed_total',
  /** Counter {transport, topic, group, handler}: in-process retries (`retry()`). */
  retried: 'switchyard_messages_retried_total',
  /** Counter {transport, topic, group, handler}: messages sent to a dead-letter topic (`deadLetter()`). */
  deadLettered: 'switchyard_messages_dead_lettered_total',
  /** Histogram {transport, topic, group, handler}: time in the handler and its inner middleware, seconds. */
  handlerDuration: 'switchyard_handler_duration_seconds',
  /** Histogram {transport, topic, group, handler}: publish timestamp to handled, seconds. */
  endToEndLatency: 'switchyard_end_to_end_latency_seconds',
  /** Gauge {transport, topic, group, handler}: handlers running now. */
  inFlight: 'switchyard_messages_in_flight',
  /** Gauge {circuit}: 0 closed, 1 half-open, 2 open. */
  circuitState: 'switchyard_circuit_state',
  /** Gauge {transport, topic, group, source}: messages the group still has to process (`source`: the lag source's name). */
  consumerLag: 'switchyard_consumer_lag_messages',
  /** Gauge {transport, topic, group, source}: age of the oldest unprocessed message, seconds (where the source knows it). */
  consumerLagAge: 'switchyard_consumer_lag_seconds',
  /** Counter {type, rule}: alerts raised and cleared (`lag.high`, `lag.recovered`, `alert.firing`, `alert.resolved`). */
  alerts: 'switchyard_alerts_total',
});

/** Default histogram buckets, in seconds: 1 ms to 60 s. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
