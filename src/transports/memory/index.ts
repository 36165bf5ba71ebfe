export { memory, MemoryTransport, MemoryBroker, type MemoryOptions, type MemoryGroupLag } from './transport.ts';
