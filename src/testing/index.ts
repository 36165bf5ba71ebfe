/**
 * `switchyard/testing`: the conformance suite that every transport runs (yours too), a fault
 * injecting TCP proxy for partition tests, and small helpers for awaiting messages in tests and
 * for filling a broker until it refuses.
 */
export { describeTransport, type ConformanceCase, type TransportSuiteOptions } from './describe-transport.ts';
export { faultProxy, type FaultProxy, type FaultProxyOptions, type Direction } from './fault-proxy.ts';
export { Inbox } from './inbox.ts';
export { publishUntilRefused, type Refused } from './publish-until-refused.ts';
export { describeStore, type StoreSuiteOptions } from './describe-store.ts';
export { describeSagaStore, type SagaStoreSuiteOptions } from './describe-saga-store.ts';
export { describeEventStore, type EventStoreHarness, type EventStoreSuiteOptions } from '../eventsourcing/describe-event-store.ts';
