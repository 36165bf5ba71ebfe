import type { OutgoingMessage } from '../core/message.ts';

interface EventBase {
  /** Stable per transition (`<sagaId>@<version>`): a re-publish after recovery carries the same id. */
  readonly id: string;
  readonly sagaId: string;
  readonly saga: string;
  /** ms since epoch. */
  readonly at: number;
}

/**
 * What an orchestrator reports, published as JSON to its events topic (default `saga.events`)
 * with the saga id as key, `x-saga-event` naming the type and `x-correlation-id` the saga id.
 * A discriminated union: switch on `type`.
 */
export type SagaEvent =
  | (EventBase & { readonly type: 'saga.started' })
  | (EventBase & { readonly type: 'saga.step.completed'; readonly step: string; readonly index: number; readonly attempts: number })
  | (EventBase & {
      readonly type: 'saga.step.failed';
      readonly step: string;
      readonly index: number;
      readonly attempts: number;
      readonly error: string;
      readonly timedOut: boolean;
    })
  | (EventBase & { readonly type: 'saga.compensation.completed'; readonly step: string; readonly index: number; readonly attempts: number })
  | (EventBase & {
      readonly type: 'saga.compensation.failed';
      readonly step: string;
      readonly index: number;
      readonly attempts: number;
      readonly error: string;
    })
  | (EventBase & { readonly type: 'saga.completed'; readonly durationMs: number })
  | (EventBase & { readonly type: 'saga.rolled_back'; readonly durationMs: number; readonly error: string });

/** Every event type, for exhaustive switches and filters. */
export type SagaEventType = SagaEvent['type'];

const eventTypes: Record<SagaEventType, true> = {
  'saga.started': true,
  'saga.step.completed': true,
  'saga.step.failed': true,
  'saga.compensation.completed': true,
  'saga.compensation.failed': true,
  'saga.completed': true,
  'saga.rolled_back': true,
};

/** Every event type, in lifecycle order. */
export const SAGA_EVENT_TYPES: readonly SagaEventType[] = Object.freeze(Object.keys(eventTypes) as SagaEventType[]);

/** The default topic saga events are published to. */
export const SAGA_EVENTS_TOPIC = 'saga.events';

/** The header naming an event's type, so consumers can filter without decoding. */
export const SAGA_EVENT_HEADER = 'x-saga-event';

const encoder = new TextEncoder();

/**
 * A saga event as a message for the events topic (what the orchestrator publishes).
 *
 * @example
 * ```ts
 * await bus.publish('saga.events', sagaEventMessage(event));
 * ```
 */
export function sagaEventMessage(event: SagaEvent): OutgoingMessage {
  return {
    id: event.id,
    key: event.sagaId,
    payload: encoder.encode(JSON.stringify(event)),
    headers: {
      'content-type': 'application/json',
      [SAGA_EVENT_HEADER]: event.type,
      'x-correlation-id': event.sagaId,
      'x-saga': event.saga,
    },
  };
}
