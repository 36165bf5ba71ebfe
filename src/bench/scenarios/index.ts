import type { Scenario } from '../types.ts';
import { floor } from './floor.ts';
import { memoryScenario } from './memory.ts';
import { sagaScenario } from './saga.ts';
import { eventsourcingScenario } from './eventsourcing.ts';

/** Every scenario, in report order. Transports add theirs here. */
export const scenarios: Scenario[] = [floor, memoryScenario, eventsourcingScenario, sagaScenario];
