/**
 * `switchyard/bridge`: routes that move messages between transports (Kafka, RabbitMQ, NATS, the
 * embedded broker), described in a YAML/JSON file or in code — filters, transforms, format
 * conversion, per-route retry and dead-letter, acknowledged only after the sink confirmed.
 */
export { bridge, prepareBridge, Bridge, type BridgeOptions, type BridgeEvent, type RouteStats } from './bridge.ts';
export { parseBridgeConfig, MAX_CONFIG_BYTES, type ParseConfigOptions } from './parse-config.ts';
export { validateBridgeConfig, type ConfigResult } from './validate-config.ts';
export { loadBridgeConfig, type LoadedConfig } from './load-config.ts';
export { compileTemplate, type Template, type TemplateInput, type TemplateOptions } from './template.ts';
export { compileFilter, type MessageFilter } from './filter.ts';
export { progressLine, showProgress, type StatsSource } from './progress.ts';
export { routeLagSources, type RouteSource } from './lag.ts';
export type { SinkEvent, SinkBackoff } from './route.ts';
export {
  TRANSPORT_TYPES,
  type BridgeConfig,
  type BridgeMessage,
  type BridgeOutput,
  type FilterFunction,
  type FilterSpec,
  type FormatSpec,
  type Predicate,
  type RouteSpec,
  type SchemaSpec,
  type TransformFunction,
  type TransportSpec,
  type TransportType,
} from './config-schema.ts';
