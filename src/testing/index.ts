/**
 * `switchyard/testing`: the conformance suite that every transport runs (yours too), a fault
 * injecting TCP proxy for partition tests, and small helpers for awaiting messages in tests.
 */
export { describeTransport, type ConformanceCase, type TransportSuiteOptions } from './describe-transport.ts';
export { faultProxy, type FaultProxy, type FaultProxyOptions, type Direction } from './fault-proxy.ts';
export { Inbox } from './inbox.ts';
export { describeStore, type StoreSuiteOptions } from './describe-store.ts';
export { describeSagaStore, type SagaStoreSuiteOptions } from './describe-saga-store.ts';
export { describeEventStore, type EventStoreHarness, type EventStoreSuiteOptions } from '../eventsourcing/describe-event-store.ts';
