import type { Scenario } from '../types.ts';
import { floor } from './floor.ts';
import { memoryScenario } from './memory.ts';
import { embeddedScenario } from './embedded.ts';
import { natsScenario } from './nats.ts';
import { rabbitmqScenario } from './rabbitmq.ts';
import { routerScenario } from './router.ts';
import { kafkaScenario } from './kafka.ts';
import { observabilityScenario } from './observability.ts';
import { sagaScenario } from './saga.ts';
import { ecommerceScenario } from './ecommerce.ts';
import { eventsourcingScenario } from './eventsourcing.ts';
import { compareScenario } from './compare.ts';
import { backlogScenario } from './backlog.ts';

/** Every scenario, in report order. Transports add theirs here. */
export const scenarios: Scenario[] = [floor, memoryScenario, embeddedScenario, kafkaScenario, rabbitmqScenario, natsScenario, compareScenario, backlogScenario, routerScenario, observabilityScenario, eventsourcingScenario, sagaScenario, ecommerceScenario];
