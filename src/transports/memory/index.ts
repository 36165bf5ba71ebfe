export { memory, MemoryTransport, MemoryBroker, type MemoryOptions } from './transport.ts';
