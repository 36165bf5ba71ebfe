import { memory, MemoryBroker } from '../../src/index.ts';
import { describeTransport } from '../../src/testing/index.ts';

// Each transport the suite opens is a separate "connection" to one in-process broker.
const broker = new MemoryBroker();
describeTransport('memory', () => memory({ broker }), memory().capabilities);
