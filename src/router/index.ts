/** The Router: handlers, context, middleware composition, shutdown, inspector, DLQ tools. */
export { Router, type RouterOptions, type RunOptions } from './router.ts';
export { compose, type Terminal } from './compose.ts';
export { AttemptContext } from './attempt-context.ts';
export { contextKey, type ContextKey, type DeliveryObserver, type IntakeControl, type Logger, type Middleware, type RouteHandler, type RouteOptions, type RoutedMessage, type RouterContext } from './types.ts';
export type { HandlerCounters, HandlerSnapshot, HandlerState, RouterEvent, RouterInspector, RouterState } from './inspector.ts';
export { processSignals } from './shutdown.ts';
export { listDeadLetters, replayDeadLetters, DLQ_GROUP, type DeadLetter, type DeadLetterReadOptions, type ReplayOptions } from './dlq.ts';
