/**
 * `switchyard/testing`: the conformance suite that every transport runs (yours too), a fault
 * injecting TCP proxy for partition tests, and small helpers for awaiting messages in tests.
 */
export { describeTransport, type ConformanceCase, type TransportSuiteOptions } from './describe-transport.ts';
export { faultProxy, type FaultProxy, type FaultProxyOptions, type Direction } from './fault-proxy.ts';
export { Inbox } from './inbox.ts';
