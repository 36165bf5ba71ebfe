import { nats } from '../../src/transports/nats/index.ts';
import { describeTransport } from '../../src/testing/index.ts';

// Core NATS is at-most-once: the capabilities say so and the suite skips those cases with the reason.
const options = { mode: 'core' as const };
describeTransport('nats (core)', () => nats(options), nats(options).capabilities, { topicPrefix: 'sy-nats-core' });
