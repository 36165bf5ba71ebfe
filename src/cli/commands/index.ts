import type { Command } from 'commander';
import { registerBench } from './bench.ts';
import { registerTail } from './tail.ts';
import { registerTopics } from './topics.ts';
import { registerDlq } from './dlq.ts';
import { registerSaga } from './saga.ts';
import { registerLag } from './lag.ts';
import { registerDemo } from './demo.ts';
import { registerBridge } from './bridge.ts';

/** Each command adds itself to the program; one file per command in this folder. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerBench, registerTopics, registerTail, registerDlq, registerSaga, registerLag, registerDemo, registerBridge];
