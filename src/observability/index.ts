/**
 * "switchyard/observability": metrics (prom-client), tracing (OpenTelemetry, W3C trace context in
 * headers), consumer-lag monitoring with threshold events, alert rules, health checks and a pino
 * logger adapter. Needs the optional peer dependencies `prom-client` and `@opentelemetry/api`
 * (`pino` only for `pinoLogger`, which takes your pino instance).
 */
export { METRIC_NAMES, DEFAULT_BUCKETS } from './metric-names.ts';
export { metricSet, MetricSet } from './metric-set.ts';
export { metrics, type MetricsOptions } from './metrics.ts';
export { tracing, type TracingOptions } from './tracing.ts';
export { instrument, unwrap, type InstrumentOptions, type InstrumentedTransport } from './instrument.ts';
export { w3cTraceContext, messageContext, headerGetter, headerSetter, TRACEPARENT_HEADER, TRACESTATE_HEADER } from './trace-context.ts';
export { metricsHandler, type MetricsHandlerOptions } from './metrics-handler.ts';
export { routes, serve, type HttpHandler, type ServeOptions } from './http.ts';
export { observeCircuit } from './circuit.ts';
export { LagMonitor, lagMonitor, type LagEvent, type LagMonitorOptions, type LagReading, type LagSource, type LagThresholds } from './lag.ts';
export { memoryLagSource, embeddedLagSource, kafkaLagSource, rabbitmqLagSource, natsLagSource, type KafkaLagSourceOptions, type LagFilter, type MemoryGroupLag } from './lag-sources.ts';
export { AlertRules, alertRules, type AlertEvent, type AlertRule, type AlertRulesOptions, type AlertSubject } from './alerts.ts';
export { Health, health, healthHandler, type ComponentHealth, type HealthOptions, type HealthReport } from './health.ts';
export { pinoLogger, safeFields, messageFields, logging, REDACTED_FIELDS, type PinoLike, type PinoLoggerOptions } from './logging.ts';
